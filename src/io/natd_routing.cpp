#include "io/natd_routing.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>

extern char** environ;

namespace natpunch::io {

namespace {

// Runs argv (found on PATH) and returns its exit status and combined output.
struct CommandOutcome {
  int status = -1;
  std::string output;
};

CommandOutcome run_command(const std::vector<std::string>& argv) {
  CommandOutcome outcome;
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) {
    outcome.output = std::string("pipe: ") + std::strerror(errno);
    return outcome;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (spawned != 0) {
    close(pipe_fds[0]);
    outcome.output = "cannot run " + argv[0] + ": " + std::strerror(spawned) + " (install iproute2)";
    return outcome;
  }
  std::array<char, 512> buffer{};
  for (;;) {
    const ssize_t n = read(pipe_fds[0], buffer.data(), buffer.size());
    if (n > 0) {
      outcome.output.append(buffer.data(), static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  outcome.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  while (!outcome.output.empty() && (outcome.output.back() == '\n' || outcome.output.back() == ' '))
    outcome.output.pop_back();
  return outcome;
}

std::string joined(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& a : argv) text += (text.empty() ? "" : " ") + a;
  return text;
}

// /proc/sys writes instead of spawning sysctl: the values are per namespace.
Result<bool, std::string> write_sysctl(const std::string& path, const std::string& value) {
  std::ofstream file("/proc/sys/" + path);
  if (file) file << value;
  if (!file) return Unexpected{"cannot set /proc/sys/" + path + " = " + value + ": " + std::strerror(errno)};
  return true;
}

}  // namespace

bool valid_interface_name(const std::string& name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (char c : name)
    if (c == '/' || c == ':' || c <= ' ' || c == 0x7f) return false;
  return true;
}

Result<NatdRouting, std::string> NatdRouting::install(const NatdRoutingPlan& plan) {
  for (const auto* name : {&plan.lan_interface, &plan.wan_interface, &plan.tun_interface})
    if (!valid_interface_name(*name)) return Unexpected{"invalid interface name '" + *name + "'"};
  const std::string table = std::to_string(plan.table);
  NatdRouting routing(plan);

  for (const auto& [path, value] : std::vector<std::pair<std::string, std::string>>{
           {"net/ipv4/ip_forward", "1"},
           {"net/ipv4/conf/all/rp_filter", "0"},
           {"net/ipv4/conf/default/rp_filter", "0"},
           {"net/ipv4/conf/" + plan.lan_interface + "/rp_filter", "0"},
           {"net/ipv4/conf/" + plan.wan_interface + "/rp_filter", "0"},
           {"net/ipv4/conf/" + plan.tun_interface + "/rp_filter", "0"},
           // The default holds the first proxy ARP reply back up to 0.8 s.
           {"net/ipv4/neigh/" + plan.wan_interface + "/proxy_delay", "0"},
       }) {
    auto written = write_sysctl(path, value);
    if (!written) return Unexpected{written.error()};
  }

  struct Step {
    std::vector<std::string> apply;
    std::vector<std::string> undo;
  };
  const std::vector<Step> steps = {
      {{"ip", "link", "set", plan.tun_interface, "up"}, {}},
      {{"ip", "rule", "add", "iif", plan.lan_interface, "lookup", table},
       {"ip", "rule", "del", "iif", plan.lan_interface, "lookup", table}},
      {{"ip", "route", "add", "default", "dev", plan.tun_interface, "table", table},
       {"ip", "route", "del", "default", "dev", plan.tun_interface, "table", table}},
      {{"ip", "route", "add", plan.public_ip + "/32", "dev", plan.tun_interface},
       {"ip", "route", "del", plan.public_ip + "/32", "dev", plan.tun_interface}},
      {{"ip", "neigh", "add", "proxy", plan.public_ip, "dev", plan.wan_interface},
       {"ip", "neigh", "del", "proxy", plan.public_ip, "dev", plan.wan_interface}},
  };
  for (const auto& step : steps) {
    auto outcome = run_command(step.apply);
    if (outcome.status != 0) {
      routing.remove();  // undo what was done so far
      return Unexpected{"'" + joined(step.apply) + "' failed: " + outcome.output};
    }
    if (!step.undo.empty()) routing.undo_.push_back(step.undo);
  }
  return routing;
}

NatdRouting::NatdRouting(NatdRouting&& other) noexcept
    : plan_(std::move(other.plan_)), installed_(other.installed_), undo_(std::move(other.undo_)) {
  other.installed_ = false;
  other.undo_.clear();
}

NatdRouting& NatdRouting::operator=(NatdRouting&& other) noexcept {
  if (this != &other) {
    remove();
    plan_ = std::move(other.plan_);
    installed_ = other.installed_;
    undo_ = std::move(other.undo_);
    other.installed_ = false;
    other.undo_.clear();
  }
  return *this;
}

NatdRouting::~NatdRouting() { remove(); }

void NatdRouting::remove() {
  if (!installed_) return;
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) run_command(*it);
  undo_.clear();
  installed_ = false;
}

}  // namespace natpunch::io

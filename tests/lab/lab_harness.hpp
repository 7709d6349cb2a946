#pragma once
// Test-side helpers for lab tests: bring a namespace lab up and down around a
// test (teardown runs from destructors, so a failing assertion still cleans
// up), run commands inside lab hosts, and keep background servers by PID.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../support/run_command.hpp"

extern char** environ;

namespace natpunch::lab {

inline std::string lab_script() { return std::string(NATPUNCH_SOURCE_DIR) + "/lab/lab.sh"; }
inline std::string natpunch_binary() { return NATPUNCH_BINARY; }

using test_support::CommandResult;
inline CommandResult run(const std::string& command) { return test_support::run_command(command); }

inline bool is_root() { return geteuid() == 0; }

// A file's whole text ("" if unreadable): what a background process wrote.
inline std::string file_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// How often `what` occurs in `text` (log lines of a server, a side's stderr).
inline std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The JSON lines of `text` whose "event" is `event` (other lines skipped).
inline std::vector<nlohmann::json> json_events(const std::string& text, const std::string& event) {
  std::vector<nlohmann::json> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.value("event", "") == event) out.push_back(j);
  }
  return out;
}

// A process started in the background (e.g. a server inside a namespace);
// stopped with SIGTERM (then SIGKILL) when the object goes away.
class BackgroundProcess {
 public:
  explicit BackgroundProcess(std::vector<std::string> argv) {
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    if (posix_spawnp(&pid_, args[0], nullptr, nullptr, args.data(), environ) != 0) pid_ = -1;
  }
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;
  ~BackgroundProcess() { stop(); }

  bool started() const { return pid_ > 0; }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    return waitpid(pid_, &status, WNOHANG) == 0;
  }
  // SIGKILL at once (a crash, a power cut): no chance to say goodbye.
  void kill_now() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 50; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

// One lab instance: `lab.sh up` in the constructor, `lab.sh down` in the
// destructor (which also kills anything still running inside it).
class Lab {
 public:
  Lab(std::string id, const std::string& up_arguments) : id_(std::move(id)) {
    run(lab_script() + " down --id " + id_ + " >/dev/null 2>&1");
    // natd kinds run this build's binary, not whatever build/ holds.
    auto r = run("NATPUNCH_BIN=" + natpunch_binary() + " " + lab_script() + " up --id " + id_ + " " + up_arguments +
                 " >&2");
    up_ = r.exit_code == 0;
  }
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;
  ~Lab() { run(lab_script() + " down --id " + id_ + " >&2"); }

  bool up() const { return up_; }
  const std::string& id() const { return id_; }
  std::string netns(const std::string& host) const { return "np-" + id_ + "-" + host; }
  // argv prefix that runs a program inside a lab host.
  std::vector<std::string> in(const std::string& host) const { return {"ip", "netns", "exec", netns(host)}; }
  CommandResult exec(const std::string& host, const std::string& command) const {
    return run("ip netns exec " + netns(host) + " " + command);
  }
  // Polls the server host's sockets until something listens on `address_port`
  // (e.g. "203.0.113.11:3479", the last socket a STUN server binds).
  bool wait_for_udp_listener(const std::string& address_port) const {
    for (int i = 0; i < 100; ++i) {
      if (exec("server", "ss -Hunl 2>/dev/null").output.find(address_port) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // Starts `natpunch stun-server` on the server host's two addresses and
  // waits until it listens; nullptr (with the lab still usable) on failure.
  // `extra` options, e.g. {"--rate", "0"} for tests that query hundreds of
  // times from one NAT address.
  std::unique_ptr<BackgroundProcess> start_natpunch_stun_server(const std::vector<std::string>& extra = {}) const {
    auto argv = in("server");
    argv.insert(argv.end(), {natpunch_binary(), "stun-server", "--listen", "203.0.113.10:3478", "--alt",
                             "203.0.113.11:3479"});
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto process = std::make_unique<BackgroundProcess>(argv);
    if (!process->started() || !wait_for_udp_listener("203.0.113.11:3479")) return nullptr;
    return process;
  }
  // Starts `natpunch rendezvous --listen ADDRESS,[2001:db8::10]:PORT
  // --stun-alt 203.0.113.11:PORT+1,[2001:db8::11]:PORT+1` on the server host
  // (IPv4 and IPv6 clients register; peers learn their NAT from it) and
  // waits until it listens; nullptr on failure.
  std::unique_ptr<BackgroundProcess> start_rendezvous(const std::string& address) const {
    const auto colon = address.rfind(':');
    const int port = std::stoi(address.substr(colon + 1));
    const std::string alternate = "203.0.113.11:" + std::to_string(port + 1);
    const std::string address6 = "[2001:db8::10]:" + std::to_string(port);
    const std::string alternate6 = "[2001:db8::11]:" + std::to_string(port + 1);
    auto argv = in("server");
    argv.insert(argv.end(), {natpunch_binary(), "rendezvous", "--listen", address + "," + address6, "--stun-alt",
                             alternate + "," + alternate6});
    auto process = std::make_unique<BackgroundProcess>(argv);
    if (!process->started() || !wait_for_udp_listener(address) || !wait_for_udp_listener(alternate) ||
        !wait_for_udp_listener(address6) || !wait_for_udp_listener(alternate6))
      return nullptr;
    return process;
  }

 private:
  std::string id_;
  bool up_ = false;
};

}  // namespace natpunch::lab

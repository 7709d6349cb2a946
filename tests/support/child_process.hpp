#pragma once
// A child process of a test whose stdout is read line by line (stderr is
// inherited, so a failing test shows the child's progress output); killed
// when the object goes away. Shared by the CLI tests that run servers and
// peers as real processes.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace natpunch::test_support {

class ChildProcess {
 public:
  // `ignore_sigint`: start the child with SIGINT ignored, as a shell starts
  // the background jobs of a script.
  ChildProcess(const std::string& program, const std::vector<std::string>& args, bool ignore_sigint = false) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      if (ignore_sigint) signal(SIGINT, SIG_IGN);  // exec keeps an ignored disposition
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::vector<std::string> copy = args;
      std::string binary = program;
      std::vector<char*> argv{binary.data()};
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fds[0];
  }
  ~ChildProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[4096];
      const auto n = read(out_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  std::optional<nlohmann::json> read_json(std::chrono::milliseconds timeout) {
    auto line = read_line(timeout);
    if (!line) return std::nullopt;
    auto j = nlohmann::json::parse(*line, nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    return j;
  }

  // Exit code after at most `timeout` (-1: killed or crashed).
  int wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        reaped_ = true;
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  void interrupt() { kill(pid_, SIGINT); }
  void signal_child(int signal_number) { kill(pid_, signal_number); }
  // Whether the child has a handler for `signal_number` installed (its
  // /proc/PID/status SigCgt mask): a signal sent earlier would meet the
  // default action.
  bool catches(int signal_number) const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(status, line))
      if (line.rfind("SigCgt:", 0) == 0) {
        const auto mask = std::stoull(line.substr(7), nullptr, 16);
        return (mask >> (signal_number - 1)) & 1u;
      }
    return false;
  }
  // Waits up to `timeout` until catches(signal_number).
  bool wait_until_catching(int signal_number, std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!catches(signal_number)) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }
  // SIGINT, then the exit code (-1 if it had to be killed).
  int interrupt_and_wait(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    interrupt();
    return wait(timeout);
  }
  bool started() const { return pid_ > 0 && out_ >= 0; }
  pid_t pid() const { return pid_; }

  // A "VmRSS" / "VmHWM" line of /proc/PID/status, in kB; -1 when unreadable
  // (what memory-bound tests watch).
  std::int64_t status_kb(const std::string& field) const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(status, line))
      if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  bool reaped_ = false;
  std::string buffer_;
};

}  // namespace natpunch::test_support

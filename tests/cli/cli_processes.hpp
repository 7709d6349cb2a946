#pragma once
// Child processes the CLI tests share: the `natpunch` binary under test, and
// a `natpunch rendezvous` on an ephemeral loopback port that is stopped
// (SIGINT) when the test ends.
#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "../support/child_process.hpp"

namespace natpunch::cli_test {

// `natpunch ARGS...` as a child process whose stdout we read line by line.
struct Process : test_support::ChildProcess {
  explicit Process(const std::vector<std::string>& args, bool ignore_sigint = false)
      : ChildProcess(NATPUNCH_BINARY, args, ignore_sigint) {}
};

struct Rendezvous {
  Process process;
  std::string address;

  // `extra`: more `natpunch rendezvous` options, e.g. limits (a
  // --start-delay-ms there replaces the default 200 ms).
  explicit Rendezvous(const std::vector<std::string>& extra = {}) : process(arguments(extra)) {}
  static std::vector<std::string> arguments(const std::vector<std::string>& extra) {
    std::vector<std::string> args{"rendezvous", "--listen", "127.0.0.1:0", "--json-log"};
    if (std::find(extra.begin(), extra.end(), "--start-delay-ms") == extra.end())
      args.insert(args.end(), {"--start-delay-ms", "200"});
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // Waits for the "listening" event and reads the address from it.
  bool ready() {
    auto j = process.read_json(std::chrono::milliseconds(5000));
    if (!j || (*j)["event"] != "listening") return false;
    address = (*j)["address"].get<std::string>();
    return true;
  }
  ~Rendezvous() { process.interrupt(); }
};

// Reads JSON lines until one has "event" == `event` (other lines skipped).
inline std::optional<nlohmann::json> read_event(test_support::ChildProcess& p, const std::string& event,
                                                std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto line = p.read_line(left);
    if (!line) return std::nullopt;
    auto j = nlohmann::json::parse(*line, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.value("event", "") == event) return j;
  }
  return std::nullopt;
}

}  // namespace natpunch::cli_test

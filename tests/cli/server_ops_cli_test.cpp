// Operating the servers (issue 21): `stun-server --json-log` lines a log
// pipeline can take, the rendezvous's metrics endpoint and SIGUSR1 report, and the systemd units and sample settings in dist/
// stay valid against the CLI (every uncommented argument line of a sample
// starts its server, on loopback addresses instead of the sample's).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "../support/child_process.hpp"

namespace {

using namespace std::chrono_literals;
using natpunch::test_support::ChildProcess;

std::filesystem::path dist_dir() { return std::filesystem::path(NATPUNCH_PROFILES_DIR).parent_path() / "dist"; }

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A port nobody uses now on `address` (127.x.y.z), for `type` (SOCK_DGRAM /
// SOCK_STREAM); 0 if none.
std::uint16_t free_port(const std::string& address, int type) {
  const int fd = socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, address.c_str(), &a.sin_addr);
  std::uint16_t port = 0;
  socklen_t length = sizeof a;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

// Sends one Binding request to 127.0.0.1:port; whether a Binding success
// response came back (3 tries, 1 s each).
bool binding_answered(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::array<std::uint8_t, 20> request{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  bool answered = false;
  for (int attempt = 0; attempt < 3 && !answered; ++attempt) {
    sendto(fd, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) continue;
    std::array<std::uint8_t, 512> reply{};
    const auto n = recv(fd, reply.data(), reply.size(), 0);
    answered = n >= 20 && reply[0] == 0x01 && reply[1] == 0x01;
  }
  close(fd);
  return answered;
}

TEST(StunServerJsonLog, EveryLineIsJsonAndTheLastHasTheCounters) {
  ChildProcess server(NATPUNCH_BINARY, {"stun-server", "--listen", "127.0.0.1:0", "--json-log", "--threads", "1"});
  auto ready = server.read_json(5000ms);
  ASSERT_TRUE(ready) << "the first line is JSON";
  EXPECT_EQ(ready->value("event", ""), "ready");
  const std::string message = ready->value("message", "");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(message, m, std::regex(R"(listening on 127\.0\.0\.1:(\d+))"))) << message;
  const auto port = static_cast<std::uint16_t>(std::stoi(m[1]));
  EXPECT_TRUE(binding_answered(port));
  EXPECT_EQ(server.interrupt_and_wait(), 0);
  std::optional<nlohmann::json> last;
  while (auto line = server.read_line(2000ms)) {
    auto j = nlohmann::json::parse(*line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << *line;
    last = j;
  }
  ASSERT_TRUE(last);
  EXPECT_EQ(last->value("event", ""), "stopped");
  EXPECT_GE((*last)["counters"].value("answered", 0), 1);
  EXPECT_TRUE((*last)["counters"].contains("dropped_rate_limited"));
}

// What an HTTP request to 127.0.0.1:port gets back (the whole response), or "".
std::string http_exchange(std::uint16_t port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0 &&
      send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 3000) <= 0) break;
      std::array<char, 4096> chunk{};
      const auto n = recv(fd, chunk.data(), chunk.size(), 0);
      if (n <= 0) break;
      response.append(chunk.data(), static_cast<std::size_t>(n));
    }
  }
  if (fd >= 0) close(fd);
  return response;
}

// The rendezvous's operations surface on its one event loop: --metrics
// answers GET with the Prometheus text (and refuses other methods), SIGUSR1
// prints the counters without stopping it, SIGINT stops it with the final
// ones.
TEST(RendezvousOps, MetricsAnswerGetAndSigusr1PrintsTheCounters) {
  const std::uint16_t metrics_port = free_port("127.0.0.1", SOCK_STREAM);
  ASSERT_NE(metrics_port, 0);
  ChildProcess server(NATPUNCH_BINARY, {"rendezvous", "--json-log", "--listen", "127.0.0.1:0", "--tcp", "0",
                                        "--metrics", "127.0.0.1:" + std::to_string(metrics_port)});
  std::optional<nlohmann::json> line;
  for (int i = 0; i < 2; ++i) {  // UDP, then TCP
    line = server.read_json(5000ms);
    ASSERT_TRUE(line);
    EXPECT_EQ(line->value("event", ""), "listening");
  }
  const std::string metrics = http_exchange(metrics_port, "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(metrics.rfind("HTTP/1.0 200 OK", 0), 0u) << metrics;
  EXPECT_NE(metrics.find("\nnatpunch_rendezvous_registrations 0\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("natpunch_rendezvous_stream_connections"), std::string::npos) << "the TCP listener's counters";
  EXPECT_EQ(http_exchange(metrics_port, "POST / HTTP/1.0\r\n\r\n").rfind("HTTP/1.0 405", 0), 0u);
  ASSERT_TRUE(server.wait_until_catching(SIGUSR1, 5000ms));
  server.signal_child(SIGUSR1);
  line = server.read_json(5000ms);
  ASSERT_TRUE(line) << "no line after SIGUSR1";
  EXPECT_EQ(line->value("event", ""), "stats");
  EXPECT_EQ((*line)["counters"].value("registrations_held", -1), 0);
  EXPECT_EQ(server.interrupt_and_wait(), 0);
  line = server.read_json(2000ms);
  ASSERT_TRUE(line);
  EXPECT_EQ(line->value("event", ""), "stopped");
}

struct Sample {
  std::string service;   // dist/systemd/...
  std::string settings;  // dist/...
  std::string variable;  // what the unit's ExecStart expands
  std::vector<std::string> command;  // what the unit runs before the variable
  std::string ready_event;
};

// The uncommented VARIABLE="..." lines of a settings file.
std::vector<std::string> argument_lines(const std::string& text, const std::string& variable) {
  std::vector<std::string> out;
  std::istringstream lines(text);
  const std::regex assignment("^" + variable + "=\"([^\"]*)\"\\s*$");
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, assignment)) out.push_back(m[1]);
  }
  return out;
}

// The sample's addresses made loopback ones: 203.0.113.X:P -> 127.0.0.X:free
// UDP port; 127.0.0.1:P after --metrics -> a free TCP port.
std::vector<std::string> on_loopback(const std::string& arguments) {
  std::vector<std::string> out;
  std::istringstream words(arguments);
  const std::regex sample(R"(203\.0\.113\.(\d+):\d+)");
  for (std::string word; words >> word;) {
    std::smatch m;
    if (std::regex_match(word, m, sample)) {
      const std::string address = "127.0.0." + m[1].str();
      word = address + ":" + std::to_string(free_port(address, SOCK_DGRAM));
    } else if (!out.empty() && out.back() == "--metrics") {
      word = "127.0.0.1:" + std::to_string(free_port("127.0.0.1", SOCK_STREAM));
    }
    out.push_back(word);
  }
  return out;
}

class ServiceSamples : public ::testing::TestWithParam<Sample> {};

TEST_P(ServiceSamples, TheUnitRunsTheSampleAndEachSampleLineStartsTheServer) {
  const Sample& s = GetParam();
  const std::string unit = slurp(dist_dir() / "systemd" / s.service);
  ASSERT_FALSE(unit.empty()) << s.service;
  EXPECT_NE(unit.find("EnvironmentFile=/etc/natpunch/" + s.settings), std::string::npos);
  std::smatch exec;
  ASSERT_TRUE(std::regex_search(unit, exec, std::regex(R"(\nExecStart=(\S+) ([^\n]*))")));
  EXPECT_NE(exec[2].str().find("--json-log"), std::string::npos) << "log lines a pipeline can take";
  EXPECT_NE(exec[2].str().find("$" + s.variable), std::string::npos) << exec[2].str();
  const auto lines = argument_lines(slurp(dist_dir() / s.settings), s.variable);
  ASSERT_FALSE(lines.empty()) << "no uncommented " << s.variable << "=\"...\" in " << s.settings;
  const auto key = std::filesystem::temp_directory_path() / ("natpunch-ops-test-" + std::to_string(getpid()) + ".key");
  for (const auto& line : lines) {
    auto args = s.command;
    if (s.command.front() == "rendezvous") args.insert(args.end(), {"--identity", key.string()});
    for (auto& a : on_loopback(line)) args.push_back(a);
    ChildProcess server(NATPUNCH_BINARY, args);
    auto first = server.read_json(5000ms);
    ASSERT_TRUE(first) << "no JSON line from: " << line;
    EXPECT_EQ(first->value("event", ""), s.ready_event) << line;
    EXPECT_EQ(server.interrupt_and_wait(), 0) << line;
  }
  std::filesystem::remove(key);
}

INSTANTIATE_TEST_SUITE_P(
    Dist, ServiceSamples,
    ::testing::Values(Sample{"natpunch-rendezvous.service", "rendezvous.env", "NATPUNCH_RENDEZVOUS_ARGS",
                             {"rendezvous", "--json-log"}, "listening"},
                      Sample{"natpunch-stun-server.service", "stun-server.env", "NATPUNCH_STUN_ARGS",
                             {"stun-server", "--json-log"}, "ready"}),
    [](const auto& info) { return info.index == 0 ? std::string("Rendezvous") : std::string("StunServer"); });

struct ReadyServer {
  const char* name;
  std::vector<std::string> args;
};

class SignalRightAfterReady : public ::testing::TestWithParam<ReadyServer> {};

// A server's ready line promises that SIGINT / SIGTERM stop it cleanly: a
// supervisor or a script that signals the moment it reads the line gets
// exit 0 and the final counters, never a process killed by the signal's
// default action (the handlers are installed before the line is written).
TEST_P(SignalRightAfterReady, StopsCleanlyWithTheReport) {
  const auto& c = GetParam();
  for (int run = 0; run < 6; ++run) {
    const int signal_number = run % 2 == 0 ? SIGINT : SIGTERM;
    SCOPED_TRACE(std::string(c.name) + (signal_number == SIGINT ? " SIGINT" : " SIGTERM") + " run " +
                 std::to_string(run));
    ChildProcess server(NATPUNCH_BINARY, c.args);
    ASSERT_TRUE(server.read_line(5000ms)) << "no ready line";
    server.signal_child(signal_number);  // at once: no wait for the handlers
    std::string rest;
    while (auto line = server.read_line(5000ms)) rest += *line + "\n";
    EXPECT_EQ(server.wait(5000ms), 0) << "killed by the signal instead of stopping (-1: still running)";
    EXPECT_NE(rest.find("stopped"), std::string::npos) << "no final report: " << rest;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Servers, SignalRightAfterReady,
    ::testing::Values(ReadyServer{"MeasureServer", {"measure-server", "--listen", "127.0.0.1:0", "--ports", "none"}},
                      ReadyServer{"Rendezvous", {"rendezvous", "--listen", "127.0.0.1:0", "--json-log"}},
                      ReadyServer{"StunServer", {"stun-server", "--listen", "127.0.0.1:0", "--threads", "1"}}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace

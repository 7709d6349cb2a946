// `natpunch probe` and `natpunch rendezvous --stun-alt` as real processes
// on loopback (127.0.0.1 and 127.0.0.2 are both this host: no NAT): the
// probe learns "no NAT" through the rendezvous's co-located STUN server,
// the NAT cache answers the next run, a rendezvous without --stun-alt
// is named as the reason when nothing answers, and bad command lines
// exit 2 with one line.
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "../support/child_process.hpp"
#include "../support/run_command.hpp"

namespace {

using namespace std::chrono_literals;

struct Process : natpunch::test_support::ChildProcess {
  explicit Process(const std::vector<std::string>& args) : ChildProcess(NATPUNCH_BINARY, args) {}
};

// Ports unlikely to be taken by a test running beside this one.
int base_port() { return 20000 + static_cast<int>(getpid() % 10000) * 4; }

std::string natpunch(const std::string& args) { return std::string(NATPUNCH_BINARY) + " " + args; }

// The last stdout line that is a JSON object.
nlohmann::json last_json(const std::string& output) {
  nlohmann::json found = nlohmann::json::value_t::discarded;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && line.front() == '{') found = nlohmann::json::parse(line, nullptr, false);
  return found;
}

TEST(ProbeCli, LearnsNoNatThroughTheRendezvousAndCachesIt) {
  const int port = base_port();
  const std::string listen = "127.0.0.1:" + std::to_string(port);
  Process server({"rendezvous", "--listen", listen, "--stun-alt", "127.0.0.2:" + std::to_string(port + 1),
                  "--json-log"});
  ASSERT_TRUE(server.started());
  auto listening = server.read_json(5000ms);
  ASSERT_TRUE(listening);
  EXPECT_EQ(listening->value("event", ""), "listening");
  auto stun = server.read_json(5000ms);
  ASSERT_TRUE(stun);
  EXPECT_EQ(stun->value("event", ""), "stun");
  EXPECT_EQ(stun->value("alternate", ""), "127.0.0.2:" + std::to_string(port + 1));

  const auto cache = std::filesystem::temp_directory_path() / ("natpunch-probe-cache-" + std::to_string(getpid()));
  std::filesystem::remove(cache);
  const std::string probe = natpunch("probe --rendezvous " + listen + " --json --nat-cache-file " + cache.string());
  for (const bool cached : {false, true}) {
    SCOPED_TRACE(cached ? "second run (cache)" : "first run");
    const auto r = natpunch::test_support::run_command(probe + " 2>&1");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto j = last_json(r.output);
    ASSERT_FALSE(j.is_discarded()) << r.output;
    EXPECT_EQ(j.value("mapping", ""), "none");
    EXPECT_EQ(j.value("filtering", ""), "none");
    EXPECT_EQ(j.value("allocator", nlohmann::json::object()).value("class", ""), "not-translated");
    EXPECT_EQ(j.value("told", nlohmann::json::object()).value("mapping", ""), "none");
    EXPECT_EQ(j.value("local", ""), "127.0.0.1");
    EXPECT_EQ(j.value("cached", !cached), cached);
    EXPECT_LT(j.value("took_ms", 1e9), 1000.0);  // loopback: one round trip and the answered tests
  }
  EXPECT_TRUE(std::filesystem::exists(cache));
  std::filesystem::remove(cache);
  EXPECT_EQ(server.interrupt_and_wait(5000ms), 0);
}

TEST(ProbeCli, ARendezvousWithoutStunIsNamedWhenNothingAnswers) {
  Process server({"rendezvous", "--listen", "127.0.0.1:0", "--json-log"});
  ASSERT_TRUE(server.started());
  auto listening = server.read_json(5000ms);
  ASSERT_TRUE(listening);
  const std::string address = listening->value("address", "");
  const auto started = std::chrono::steady_clock::now();
  const auto r = natpunch::test_support::run_command(natpunch("probe --rendezvous " + address + " 2>&1"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--stun-alt"), std::string::npos) << r.output;
  // It answered over UDP, so UDP is not what is missing.
  EXPECT_NE(r.output.find("the rendezvous answers over UDP"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("UDP is blocked"), std::string::npos) << r.output;
  // Gives up after its retransmissions, not after a long wait.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_EQ(server.interrupt_and_wait(5000ms), 0);
}

int exit_of(const std::string& args) {
  return natpunch::test_support::run_command("timeout 10 " + natpunch(args) + " >/dev/null 2>&1").exit_code;
}

TEST(ProbeCli, BadCommandLinesExitWith2) {
  EXPECT_EQ(exit_of("probe"), 2);  // where to probe?
  EXPECT_EQ(exit_of("probe --rendezvous 127.0.0.1:7000 --stun 127.0.0.1:3478"), 2);
  EXPECT_EQ(exit_of("probe --rendezvous 127.0.0.1:7000 --samples 0"), 2);
  EXPECT_EQ(exit_of("probe --rendezvous 127.0.0.1:7000 --local '[::1]:0'"), 2);
  EXPECT_EQ(exit_of("probe --rendezvous 127.0.0.1:7000 --profile no-such-carrier"), 2);
  EXPECT_EQ(exit_of("rendezvous --listen 0.0.0.0:7000 --stun-alt 127.0.0.2:7001"), 2);  // needs concrete addresses
  EXPECT_EQ(exit_of("rendezvous --listen 127.0.0.1:7000 --stun-alt 127.0.0.1:7001"), 2);  // same IP
  EXPECT_EQ(exit_of("rendezvous --listen 127.0.0.1:7000 --stun-alt 127.0.0.2:7000"), 2);  // same port
  EXPECT_EQ(exit_of("rendezvous --listen 127.0.0.1:7000 --stun-alt '[::1]:7001'"), 2);    // other family
}

TEST(ProbeCli, HelpTeachesIt) {
  const auto r = natpunch::test_support::run_command(natpunch("probe --help"));
  EXPECT_EQ(r.exit_code, 0);
  for (const char* word : {"--rendezvous", "--stun", "--samples", "--nat-cache", "--profile", "Examples", "Exit codes"})
    EXPECT_NE(r.output.find(word), std::string::npos) << word;
}

}  // namespace

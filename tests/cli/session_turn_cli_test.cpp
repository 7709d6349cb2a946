// `natpunch connect` / `listen` with a TURN relay route (issue 20 item 3):
// bad TURN options are refused before anything is sent (exit 2, one line
// naming the option), and --help teaches the options. Sessions through
// coturn: tests/lab/lab_session_turn_test.cpp (a loopback TURN server's
// relayed address is loopback, which a session never takes from its peer).
// A TURN server that accepts the connection and never answers the TLS
// handshake costs the session nothing while it waits (issue 20, bad input).
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <natpunch/session.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../support/run_command.hpp"
#include "../support/silent_tcp_port.hpp"
#include "background_listen.hpp"
#include "cli_processes.hpp"

namespace {

const std::string kKey = "0000000000000000000000000000000000000000000000000000000000000000";

TEST(SessionTurnCli, BadTurnOptionsExitTwoWithTheReason) {
  const std::string bin = NATPUNCH_BINARY;
  struct Case {
    std::string args;
    std::string says;
  } cases[] = {
      {" connect --rendezvous 127.0.0.1:9 --peer " + kKey + " --turn 127.0.0.1:3478", "needs credentials"},
      {" listen --rendezvous 127.0.0.1:9 --accept-any --turn-user alice --turn-password pw", "requires --turn"},
      {" listen --rendezvous 127.0.0.1:9 --accept-any --turn 127.0.0.1 --turn-secret s --turn-user alice", "excludes"},
      {" connect --rendezvous 127.0.0.1:9 --peer " + kKey + " --turn-transport quic", "--turn-transport"},
      {" connect --rendezvous 127.0.0.1:9 --peer " + kKey + " --turn 127.0.0.1:99999 --turn-secret s", "TURN server"},
      {" connect --rendezvous 127.0.0.1:9 --peer " + kKey + " --turn-ca /nonexistent/ca.pem", "--turn-ca"},
      {" connect --rendezvous 127.0.0.1:9 --peer " + kKey + " --turn 127.0.0.1 --turn-secret s --turn-credential-ttl 5",
       "--turn-credential-ttl"},
      {" connect --rendezvous 127.0.0.1:9 --peer " + kKey + " --turn 127.0.0.1 --turn-user a --turn-password p "
       "--turn-credential-ttl 600",
       "requires --turn-secret"},
  };
  for (const auto& c : cases) {
    const auto r = natpunch::test_support::run_command(bin + c.args + " 2>&1 >/dev/null");
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.says), std::string::npos) << c.args << "\n" << r.output;
  }
}

TEST(SessionTurnCli, HelpTeachesTheTurnOptions) {
  for (const std::string command : {"connect", "listen"}) {
    const auto r = natpunch::test_support::run_command(std::string(NATPUNCH_BINARY) + " " + command + " --help");
    EXPECT_EQ(r.exit_code, 0);
    for (const char* option : {"--turn ", "--turn-secret", "--turn-user", "--turn-password", "--turn-transport",
                               "--turn-ca", "--no-offered-turn", "--turn-credential-ttl", "relay (TURN via"})
      EXPECT_NE(r.output.find(option), std::string::npos) << command << ": " << option;
  }
}

// The connector's TURN route starts its TLS link when the rendezvous pairs
// the peers; the server never answers the ClientHello. The session loop
// must not wait on it: the punch connects at loopback speed, datagrams go
// both ways promptly while the handshake is pending, and the failure comes
// as one warning line once the 5 s connect timeout has passed (before, the
// loop froze in the handshake for those 5 s).
TEST(SessionTurnCli, SilentTlsTurnServerNeverStallsTheSessionLoop) {
  using namespace std::chrono_literals;
  using Clock = std::chrono::steady_clock;
  natpunch::test_support::SilentTcpPort silent;
  ASSERT_NE(silent.port, 0);
  natpunch::cli_test::Rendezvous server;
  ASSERT_TRUE(server.ready());
  natpunch::SessionOptions options;
  options.rendezvous = server.address;
  options.wait = 10s;
  options.open_early = false;  // connect() returns once the punch connected: the loop had to run
  auto [key, listening] = natpunch::cli_test::listen_in_background(options);
  options.turn_server = "127.0.0.1:" + std::to_string(silent.port);
  options.turn_transport = "tls";
  options.turn_secret = "not-checked";
  options.use_offered_turn = false;
  std::mutex mutex;
  std::optional<std::pair<Clock::time_point, std::string>> turn_failed;
  options.on_progress = [&](const natpunch::SessionProgress& p) {
    const std::lock_guard<std::mutex> hold(mutex);
    if (!turn_failed && p.message.find("TURN relay failed") != std::string::npos)
      turn_failed.emplace(Clock::now(), p.message);
  };
  const auto start = Clock::now();
  auto connected = natpunch::connect(options, key);
  const auto connect_time = Clock::now() - start;
  auto listened = listening.get();
  ASSERT_TRUE(connected.ok()) << connected.error().message;
  ASSERT_TRUE(listened.ok()) << listened.error().message;
  auto& a = **connected;
  auto& b = **listened;
  EXPECT_LT(connect_time, 3s) << "the pending TLS handshake must not hold the punch";
  EXPECT_EQ(a.route(), natpunch::SessionRoute::kDirect);
  const auto failed = [&] {
    const std::lock_guard<std::mutex> hold(mutex);
    return turn_failed.has_value();
  };
  // Round trips while the handshake waits, each well within a frozen loop's 5 s.
  int round_trips = 0;
  while (!failed() && Clock::now() - start < 12s) {
    const std::vector<std::uint8_t> ping{static_cast<std::uint8_t>(round_trips), 7};
    ASSERT_TRUE(a.send(ping));
    const auto sent = Clock::now();
    auto got = b.receive(1500ms);
    ASSERT_TRUE(got) << "round trip " << round_trips << " stalled";
    ASSERT_TRUE(b.send(*got));
    ASSERT_TRUE(a.receive(1500ms)) << "round trip " << round_trips << " stalled";
    EXPECT_LT(Clock::now() - sent, 1500ms);
    ++round_trips;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_GE(round_trips, 5) << "datagrams kept flowing while the TURN link was pending";
  const std::lock_guard<std::mutex> hold(mutex);
  ASSERT_TRUE(turn_failed) << "the silent TURN server is reported";
  const std::string expected = "TLS with TURN server 127.0.0.1:" + std::to_string(silent.port) +
                               " over tls: handshake not finished in time (is it a TLS port?)";
  EXPECT_NE(turn_failed->second.find(expected), std::string::npos) << turn_failed->second;
  EXPECT_EQ(turn_failed->second.find('\n'), std::string::npos) << "one line";
  EXPECT_GE(turn_failed->first - start, 4500ms) << "only after the connect timeout";
  EXPECT_EQ(a.route(), natpunch::SessionRoute::kDirect) << "the direct path carried on";
}

}  // namespace


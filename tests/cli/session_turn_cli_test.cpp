// `natpunch connect` / `listen` with a TURN relay route (issue 20 item 3):
// bad TURN options are refused before anything is sent (exit 2, one line
// naming the option), and --help teaches the options. Sessions through
// coturn: tests/lab/lab_session_turn_test.cpp (a loopback TURN server's
// relayed address is loopback, which a session never takes from its peer).
#include <gtest/gtest.h>

#include <string>

#include "../support/run_command.hpp"

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

}  // namespace

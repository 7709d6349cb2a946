// A peer session that knows several rendezvous addresses (issue 21: a
// cluster's nodes, or every record of one name): when the first one does
// not answer, the machine moves to the next and registers there
// (session/peer_session_machine.hpp, check_failover). Virtual time
// (session_net.hpp): the first address below belongs to nobody.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "session/peer_session_machine.hpp"
#include "session_net.hpp"

namespace natpunch::session {
namespace {

using testing::SessionNet;

const IpAddress kAddressA = IpAddress::v4({198, 51, 100, 1});
const IpAddress kAddressB = IpAddress::v4({198, 51, 100, 2});
const Endpoint kDeadServer{IpAddress::v4({203, 0, 113, 99}), 7000};

struct Row {
  const char* name;
  bool caller_dead_first;    // the caller's list starts with the dead address
  bool listener_dead_first;  // the listener's too
};

class SessionFailover : public ::testing::TestWithParam<Row> {};

TEST_P(SessionFailover, ASilentFirstServerIsLeftForTheNextAndTheSessionOpens) {
  const Row& row = GetParam();
  SessionNet net;
  const auto id_a = net.identity(), id_b = net.identity();
  auto with_servers = [](SessionConfig c, bool dead_first) {
    if (dead_first) {
      c.client.server = kDeadServer;
      c.client.alternate_servers = {SessionNet::kServer};
    } else {
      c.client.alternate_servers = {kDeadServer};  // never needed
    }
    return c;
  };
  auto& b = net.add(with_servers(net.config(false, id_b), row.listener_dead_first), kAddressB);
  auto ca = with_servers(net.config(true, id_a), row.caller_dead_first);
  ca.peer = id_b.public_key;
  auto& a = net.add(ca, kAddressA);
  net.run_for(seconds(15), [&] { return net.both_open(); });
  ASSERT_TRUE(net.both_open());
  for (auto [peer, dead_first] : {std::pair{&a, row.caller_dead_first}, std::pair{&b, row.listener_dead_first}}) {
    EXPECT_EQ(peer->machine->server(), SessionNet::kServer);
    EXPECT_EQ(peer->machine->failovers(), dead_first ? 1u : 0u);
    EXPECT_EQ(peer->machine->info().server, SessionNet::kServer.to_string());
    bool said_it = false;
    for (const auto& p : peer->all<session_event::Progress>())
      said_it = said_it || p.progress.message.find(kDeadServer.to_string() + " stopped answering") != std::string::npos;
    EXPECT_EQ(said_it, dead_first) << "a move is said once, naming the silent server";
  }
  // Moving costs one failover delay, not the registration wait.
  EXPECT_LT(net.now - SessionNet::kStart, PeerSessionMachine::kFailoverAfter + seconds(3));
  EXPECT_EQ(!net.elsewhere.empty(), row.caller_dead_first || row.listener_dead_first)
      << "only a list that starts with the dead address sends there";
}

INSTANTIATE_TEST_SUITE_P(Sides, SessionFailover,
                         ::testing::Values(Row{"Caller", true, false}, Row{"Listener", false, true},
                                           Row{"Both", true, true}, Row{"Neither", false, false}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SessionFailover, EveryServerSilentFailsNamingThemAll) {
  SessionNet net;
  auto c = net.config(false, net.identity());
  c.client.server = kDeadServer;
  c.client.alternate_servers = {Endpoint{IpAddress::v4({203, 0, 113, 98}), 7000}};
  auto& b = net.add(c, kAddressB);
  net.run_for(seconds(30), [&] { return b.last<session_event::Failed>().has_value(); });
  const auto failed = b.last<session_event::Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error.kind, ErrorKind::kNoAnswer);
  EXPECT_NE(failed->error.message.find("203.0.113.99:7000, 203.0.113.98:7000"), std::string::npos)
      << failed->error.message;
  EXPECT_GE(b.machine->failovers(), 2u) << "it tried each, and the first again";
}

// Relay handover (issue 21) at the session level, with one server that
// restarts (what a cluster node's death is to its clients, see
// rendezvous_relay_handover_test.cpp for the cluster): the relayed session
// stays open, and once both peers registered again and resumed the relay,
// data flows both ways again -- each datagram once; what was sent while
// the server knew neither is lost, as any relayed datagram may be.
TEST(SessionFailover, ARelayedSessionCarriesOnAcrossItsServersRestart) {
  SessionNet net;
  const auto id_a = net.identity(), id_b = net.identity();
  auto& b = net.add(net.config(false, id_b), kAddressB);
  auto ca = net.config(true, id_a);
  ca.peer = id_b.public_key;
  ca.plan.relay_only = true;
  auto& a = net.add(ca, kAddressA);
  net.run_for(seconds(5), [&] { return net.both_open(); });
  ASSERT_TRUE(net.both_open());
  auto text = [](const std::string& t) { return std::vector<std::uint8_t>(t.begin(), t.end()); };
  ASSERT_TRUE(net.send(a, text("a0")));
  net.run_for(milliseconds(200));
  ASSERT_EQ(b.received.size(), 1u);

  net.restart_server();
  constexpr int kLines = 40;
  for (int i = 1; i <= kLines; ++i) {
    net.send(a, text("a" + std::to_string(i)));  // false while the machine is not open: never here
    net.send(b, text("b" + std::to_string(i)));
    net.run_for(milliseconds(250));
  }
  net.run_for(milliseconds(500));
  for (auto [peer, from] : {std::pair{&b, "a"}, std::pair{&a, "b"}}) {
    SCOPED_TRACE(std::string("lines from ") + from);
    EXPECT_TRUE(peer->open());
    std::set<std::string> got;
    for (const auto& p : peer->received) EXPECT_TRUE(got.insert(std::string(p.begin(), p.end())).second) << "twice";
    // Everything from the 5th line on (the restart is noticed at the first
    // relayed datagram: one round trip to re-register, one to resume).
    for (int i = 5; i <= kLines; ++i) EXPECT_TRUE(got.contains(from + std::to_string(i))) << i;
    EXPECT_GE(got.size(), static_cast<std::size_t>(kLines - 4 + (peer == &b ? 1 : 0)));
  }
  EXPECT_EQ(net.server().counters().relay_resumed, 2u) << "each party resumed once";
}

}  // namespace
}  // namespace natpunch::session

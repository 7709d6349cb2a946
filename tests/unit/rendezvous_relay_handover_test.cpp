// Relay handover (issue 21): when the node that relays a session dies, the
// session's relay continues through the nodes its peers are at now -- in
// virtual time over the cluster harness's in-memory bus. Rows: where each
// peer was and where it moves; then data both ways arrives once each, and
// a third party cannot take a session over.
#include <gtest/gtest.h>

#include "rendezvous_cluster_harness.hpp"

namespace natpunch::rendezvous::testing {
namespace {

ServerConfig quick_refresh() {
  ServerConfig base;
  base.registration_lifetime = seconds(20);
  base.refresh_interval = seconds(5);
  return base;
}

// Moves `p` to `node` once its refreshes went unanswered (what the session
// machine's failover does); true once moved.
bool fail_over_if_lost(ClusterHarness& h, ClusterHarness::Peer& p, std::size_t node, std::size_t& seen) {
  for (; seen < p.events.size(); ++seen)
    if (const auto* lost = std::get_if<client_event::RegistrationLost>(&p.events[seen]); lost && !lost->reason) {
      p.client->switch_server(h.now, h.node_state(node).endpoint);
      return true;
    }
  return false;
}

std::size_t received(const ClusterHarness::Peer& p, std::uint8_t marker) {
  std::size_t n = 0;
  for (const auto& r : p.all<client_event::RelayReceived>()) n += !r.payload.empty() && r.payload[0] == marker ? 1 : 0;
  return n;
}

struct Move {
  const char* name;
  std::size_t a_at, b_at;        // before
  std::size_t a_to, b_to;        // after node 0 died (a peer not at node 0 stays)
};

class RelayHandover : public ::testing::TestWithParam<Move> {};

TEST_P(RelayHandover, TheRelayContinuesThroughTheNodesThePeersMovedTo) {
  const Move m = GetParam();
  const ServerConfig base = quick_refresh();
  ClusterHarness h(3, base);
  auto& b = h.add_peer(m.b_at, peer_ep(2), listener());
  auto& a = h.add_peer(m.a_at, peer_ep(1), caller());
  h.advance(milliseconds(100));
  a.client->connect(h.now, b.client->identity());
  h.advance(milliseconds(50));
  const auto sa = a.last<client_event::SessionReady>();
  const auto sb = b.last<client_event::SessionReady>();
  ASSERT_TRUE(sa && sb);
  const std::uint64_t id = sa->session.session_id;
  ASSERT_TRUE(a.client->send_relay(h.now, id, std::vector<std::uint8_t>{1}));
  h.advance(milliseconds(10));
  ASSERT_EQ(received(b, 1), 1u);

  h.kill(0);
  const TimePoint killed = h.now;
  std::size_t seen_a = 0, seen_b = 0;
  bool a_moved = m.a_at != 0, b_moved = m.b_at != 0;
  while (h.now - killed < seconds(30) &&
         !(a_moved && b_moved && (m.a_at != 0 || a.last<client_event::RelayResumed>()) &&
           (m.b_at != 0 || b.last<client_event::RelayResumed>()))) {
    h.advance(milliseconds(100));
    if (!a_moved) a_moved = fail_over_if_lost(h, a, m.a_to, seen_a);
    if (!b_moved) b_moved = fail_over_if_lost(h, b, m.b_to, seen_b);
  }
  ASSERT_TRUE(a_moved && b_moved);
  // Each peer that moved was told its relay runs again; one that stayed
  // noticed nothing (its node resumed the session for it).
  EXPECT_EQ(a.last<client_event::RelayResumed>().has_value(), m.a_at == 0);
  EXPECT_EQ(b.last<client_event::RelayResumed>().has_value(), m.b_at == 0);
  // Within two refresh intervals plus the membership's 3 s (a peer that
  // stayed waits for the dead node to leave it).
  EXPECT_LE(h.now - killed, 2 * base.refresh_interval + seconds(4));
  h.advance(seconds(4));  // the membership forgot node 0 everywhere

  // Data both ways, each datagram once.
  for (std::uint8_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(a.client->send_relay(h.now, id, std::vector<std::uint8_t>{2, i}));
    ASSERT_TRUE(b.client->send_relay(h.now, id, std::vector<std::uint8_t>{3, i}));
    h.advance(milliseconds(10));
  }
  EXPECT_EQ(received(b, 2), 5u);
  EXPECT_EQ(received(a, 3), 5u);
  EXPECT_EQ(received(b, 1), 1u) << "nothing delivered twice";
}

INSTANTIATE_TEST_SUITE_P(Moves, RelayHandover,
                         ::testing::Values(Move{"a_dies_b_stays", 0, 1, 2, 1}, Move{"b_dies_a_stays", 1, 0, 1, 2},
                                           Move{"both_die_apart", 0, 0, 1, 2}, Move{"both_die_together", 0, 0, 2, 2},
                                           Move{"a_joins_b", 0, 1, 1, 1}),
                         [](const auto& info) { return std::string(info.param.name); });

// Someone else -- even one who learnt the token -- pairs with neither peer:
// the meeting node pairs only two halves that name each other.
TEST(RelayHandover, AThirdPartyCannotTakeTheSessionOver) {
  const ServerConfig base = quick_refresh();
  ClusterHarness h(3, base);
  auto& b = h.add_peer(1, peer_ep(2), listener());
  auto& a = h.add_peer(0, peer_ep(1), caller());
  auto& mallory = h.add_peer(2, peer_ep(3), caller());
  h.advance(milliseconds(100));
  a.client->connect(h.now, b.client->identity());
  h.advance(milliseconds(50));
  const auto sa = a.last<client_event::SessionReady>();
  ASSERT_TRUE(sa);
  h.kill(0);  // a is gone: b's node asks for a resume on b's behalf
  h.advance(seconds(5));
  // Mallory claims to be b's peer, with the right token (leaked, say), as
  // a half from its node delivered to every live node: none is b's match
  // (b's half names a).
  const ClientSession stolen = sa->session;
  ASSERT_TRUE(mallory.client->registered());
  const cluster::ResumeHalf forged{stolen.session_id, mallory.client->identity(), b.client->identity(),
                                   relay_resume_token(stolen.session_key, stolen.session_id), h.node(2).node_id()};
  for (std::size_t i = 1; i < 3; ++i) {
    ClusterHeader header;
    header.sender = h.node(2).node_id();
    header.destination = h.node(i).node_id();
    header.sequence = 1'000'000 + i;
    h.inject(i, seal_cluster(test_cluster_key(), header, forged));
  }
  h.advance(seconds(2));
  EXPECT_EQ(h.node(1).counters().relay_resumed + h.node(2).counters().relay_resumed, 0u);
  ASSERT_TRUE(b.client->send_relay(h.now, stolen.session_id, std::vector<std::uint8_t>{9}));
  h.advance(milliseconds(50));
  EXPECT_TRUE(mallory.all<client_event::RelayReceived>().empty());
}

}  // namespace
}  // namespace natpunch::rendezvous::testing

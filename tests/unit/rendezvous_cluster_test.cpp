// A cluster of rendezvous nodes (issue 21), in virtual time over an
// in-memory bus: connects between peers at different nodes, relay across
// nodes, the cluster-wide registration limit, clients moving between
// nodes, a node's death, a node cut off the bus, and hostile bus input.
#include <gtest/gtest.h>

#include "rendezvous_cluster_harness.hpp"

namespace natpunch::rendezvous::testing {
namespace {

// Every pair of nodes (same node included): the session the two peers get
// is one session -- same id and key, the same start time, each told the
// other's endpoint -- and the relay carries data both ways.
struct NodePair {
  std::size_t caller;
  std::size_t callee;
};
class ClusterConnect : public ::testing::TestWithParam<NodePair> {};

TEST_P(ClusterConnect, BothPeersGetTheSameSessionWhicheverNodesTheyUse) {
  const auto [at_a, at_b] = GetParam();
  ClusterHarness h(3);
  auto& b = h.add_peer(at_b, peer_ep(2), listener());
  auto& a = h.add_peer(at_a, peer_ep(1), caller());
  h.advance(milliseconds(100));  // registrations announced to their homes
  ASSERT_TRUE(a.client->registered());
  ASSERT_TRUE(b.client->registered());

  a.client->connect(h.now, b.client->identity());
  h.advance(milliseconds(50));
  const auto sa = a.last<client_event::SessionReady>();
  const auto sb = b.last<client_event::SessionReady>();
  ASSERT_TRUE(sa && sb);
  EXPECT_EQ(sa->session.session_id, sb->session.session_id);
  EXPECT_EQ(sa->session.session_key, sb->session.session_key);
  EXPECT_EQ(sa->session.start_at, sb->session.start_at);  // zero-latency bus: the same instant
  EXPECT_EQ(sa->session.peer, b.client->identity());
  EXPECT_EQ(sb->session.peer, a.client->identity());
  EXPECT_EQ(sa->session.peer_observed, b.endpoint);
  EXPECT_EQ(sb->session.peer_observed, a.endpoint);
  const std::uint64_t routed = h.node(at_a).cluster_counters().routes;
  EXPECT_EQ(routed > 0, at_a != at_b) << "a connect crosses the bus only between nodes";

  // The relay, both ways.
  const std::vector<std::uint8_t> hello{1, 2, 3, 4};
  ASSERT_TRUE(a.client->send_relay(h.now, sa->session.session_id, hello));
  h.advance(milliseconds(10));
  const auto got = b.last<client_event::RelayReceived>();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->payload, hello);
  ASSERT_TRUE(b.client->send_relay(h.now, sb->session.session_id, std::vector<std::uint8_t>{9}));
  h.advance(milliseconds(10));
  ASSERT_TRUE(a.last<client_event::RelayReceived>());
  EXPECT_EQ(a.last<client_event::RelayReceived>()->payload, std::vector<std::uint8_t>{9});
}

INSTANTIATE_TEST_SUITE_P(Pairs, ClusterConnect,
                         ::testing::Values(NodePair{0, 0}, NodePair{0, 1}, NodePair{1, 0}, NodePair{0, 2},
                                           NodePair{2, 1}),
                         [](const auto& info) {
                           return "caller" + std::to_string(info.param.caller) + "_callee" +
                                  std::to_string(info.param.callee);
                         });

TEST(Cluster, RejectAndUnknownPeerCrossNodes) {
  ClusterHarness h(3);
  ClientConfig picky = listener();
  picky.accept_policy = [](const PublicKey&) { return false; };
  auto& b = h.add_peer(1, peer_ep(2), picky);
  auto& a = h.add_peer(0, peer_ep(1), caller());
  h.advance(milliseconds(100));
  const auto rejected = a.client->connect(h.now, b.client->identity());
  h.advance(milliseconds(50));
  auto failed = a.last<client_event::ConnectFailed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->request_id, rejected);
  EXPECT_EQ(failed->code, ErrorCode::Rejected);

  // Nobody holds this identity anywhere: UnknownPeer at once, not a timeout.
  const auto stranger = Identity::generate(h.random()).public_key;
  const auto unknown = a.client->connect(h.now, stranger);
  h.advance(milliseconds(50));
  failed = a.last<client_event::ConnectFailed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->request_id, unknown);
  EXPECT_EQ(failed->code, ErrorCode::UnknownPeer);
}

TEST(Cluster, OneIdentityCannotExceedItsLimitBySpreadingOverNodes) {
  ServerConfig base;
  base.limits.max_registrations_per_identity = 2;
  ClusterHarness h(3, base);
  const Identity id = Identity::generate(h.random());
  // Two sockets of one identity at each node: six registrations tried.
  for (std::size_t node = 0; node < 3; ++node)
    for (std::uint8_t k = 0; k < 2; ++k) {
      ClientConfig c = listener();
      h.add_peer(node, peer_ep(static_cast<std::uint8_t>(10 + 2 * node + k)), c, id);
    }
  h.advance(seconds(2));
  std::size_t held = 0;
  for (std::size_t node = 0; node < 3; ++node) held += h.node(node).registration_count(id.public_key);
  EXPECT_LE(held, 2u);
  EXPECT_GE(held, 1u);
  std::uint64_t evictions = 0;
  for (std::size_t node = 0; node < 3; ++node) evictions += h.node(node).cluster_counters().evictions;
  EXPECT_GT(evictions, 0u);
}

TEST(Cluster, AClientThatMovesIsReachableAtItsNewNodeAndLeavesNoCopyBehind) {
  ClusterHarness h(3);
  auto& b = h.add_peer(1, peer_ep(2), listener());
  auto& a = h.add_peer(0, peer_ep(1), caller());
  h.advance(milliseconds(100));
  ASSERT_EQ(h.node(1).registration_count(b.client->identity()), 1u);
  // The client moves to node 2 (its node stopped answering it).
  b.client->switch_server(h.now, h.node_state(2).endpoint);
  h.advance(milliseconds(100));
  ASSERT_TRUE(b.client->registered());
  EXPECT_EQ(h.node(2).registration_count(b.client->identity()), 1u);
  EXPECT_EQ(h.node(1).registration_count(b.client->identity()), 0u) << "the old copy was evicted";
  a.client->connect(h.now, b.client->identity());
  h.advance(milliseconds(50));
  ASSERT_TRUE(a.last<client_event::SessionReady>());
  ASSERT_TRUE(b.last<client_event::SessionReady>());
}

TEST(Cluster, ClientsOfADeadNodeAreReachableAfterTheyMoveAndSessionsOfOthersStay) {
  ServerConfig base;
  base.registration_lifetime = seconds(20);
  base.refresh_interval = seconds(5);
  ClusterHarness h(3, base);
  auto& b = h.add_peer(1, peer_ep(2), listener());
  auto& a = h.add_peer(0, peer_ep(1), caller());
  auto& c = h.add_peer(2, peer_ep(3), listener());
  h.advance(milliseconds(100));
  a.client->connect(h.now, c.client->identity());
  h.advance(milliseconds(50));
  const auto before = a.last<client_event::SessionReady>();
  ASSERT_TRUE(before);

  h.kill(1);
  const TimePoint killed = h.now;
  // What a failover driver does: b's refreshes go unanswered, it moves on.
  bool moved = false;
  while (h.now - killed < seconds(10) && !moved) {
    h.advance(milliseconds(100));
    for (const auto& e : b.events)
      if (const auto* lost = std::get_if<client_event::RegistrationLost>(&e); lost && !lost->reason) moved = true;
    if (moved) b.client->switch_server(h.now, h.node_state(2).endpoint);
  }
  ASSERT_TRUE(moved);
  h.advance(milliseconds(200));
  ASSERT_TRUE(b.client->registered());
  a.client->connect(h.now, b.client->identity());
  h.advance(seconds(4));  // the dead node leaves the membership (3 s) while a retries
  const auto sessions = a.all<client_event::SessionReady>();
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions.back().session.peer, b.client->identity());
  EXPECT_LE(h.now - killed, 2 * base.refresh_interval + seconds(4));
  // Nodes 0 and 2 forgot node 1 and its records.
  EXPECT_EQ(h.node(0).cluster_members(), 1u);
  EXPECT_EQ(h.node(2).cluster_members(), 1u);
  // The a-c session's relay still works (neither peer used node 1).
  ASSERT_TRUE(a.client->send_relay(h.now, before->session.session_id, std::vector<std::uint8_t>{7}));
  h.advance(milliseconds(10));
  ASSERT_TRUE(c.last<client_event::RelayReceived>());
}

TEST(Cluster, ANodeCutOffTheBusServesItsOwnRegistrations) {
  ClusterHarness h(2);
  h.node_state(0).on_bus = false;
  h.advance(seconds(4));  // the members time out on both sides
  EXPECT_EQ(h.node(0).cluster_members(), 0u);
  auto& b = h.add_peer(0, peer_ep(2), listener());
  auto& a = h.add_peer(0, peer_ep(1), caller());
  auto& far = h.add_peer(1, peer_ep(3), listener());
  h.advance(milliseconds(100));
  a.client->connect(h.now, b.client->identity());
  const auto unreachable = a.client->connect(h.now, far.client->identity());
  h.advance(milliseconds(50));
  EXPECT_TRUE(a.last<client_event::SessionReady>());
  const auto failed = a.last<client_event::ConnectFailed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->request_id, unreachable);
  EXPECT_EQ(failed->code, ErrorCode::UnknownPeer) << "alone, a node answers at once";
  // Back on the bus: the nodes find each other and route again.
  h.node_state(0).on_bus = true;
  h.advance(seconds(2));
  EXPECT_EQ(h.node(0).cluster_members(), 1u);
  a.client->connect(h.now, far.client->identity());
  h.advance(milliseconds(100));
  EXPECT_EQ(a.all<client_event::SessionReady>().size(), 2u);
}

TEST(Cluster, HostileBusInputIsDropped) {
  ClusterHarness h(2);
  std::vector<std::vector<std::uint8_t>> captured;
  h.tap = [&](const ClusterTransmit& m) { captured.push_back(m.bytes); };
  auto& b = h.add_peer(1, peer_ep(2), listener());
  auto& a = h.add_peer(0, peer_ep(1), caller());
  h.advance(milliseconds(100));
  a.client->connect(h.now, b.client->identity());
  h.advance(milliseconds(50));
  ASSERT_TRUE(a.last<client_event::SessionReady>());
  ASSERT_FALSE(captured.empty());
  const auto sessions_before = h.node(0).session_count() + h.node(1).session_count();

  // Replays of everything seen on the bus, to both nodes.
  const auto replayed_before = h.node(0).cluster_counters().dropped_replayed +
                               h.node(1).cluster_counters().dropped_replayed +
                               h.node(0).cluster_counters().dropped_misdirected +
                               h.node(1).cluster_counters().dropped_misdirected;
  const auto seen = captured;
  h.tap = nullptr;
  for (const auto& m : seen) {
    EXPECT_TRUE(h.inject(0, m).empty());
    EXPECT_TRUE(h.inject(1, m).empty());
  }
  const auto replayed_after = h.node(0).cluster_counters().dropped_replayed +
                              h.node(1).cluster_counters().dropped_replayed +
                              h.node(0).cluster_counters().dropped_misdirected +
                              h.node(1).cluster_counters().dropped_misdirected;
  EXPECT_EQ(replayed_after - replayed_before, 2 * seen.size());

  // A message sealed with another key, and one altered in flight.
  ClusterKey wrong = test_cluster_key();
  wrong[0] ^= 1;
  ClusterHeader header{ClusterType::Offer, h.node(1).node_id(), h.node(0).node_id(), 999};
  cluster::Offer offer{77, h.node(1).node_id(), a.client->identity(), {b.client->identity(), peer_ep(9), {}}};
  const auto malformed_before = h.node(0).cluster_counters().dropped_malformed;
  EXPECT_TRUE(h.inject(0, seal_cluster(wrong, header, offer)).empty());
  auto altered = seal_cluster(test_cluster_key(), header, offer);
  altered[kClusterHeaderSize + 3] ^= 0x40;
  EXPECT_TRUE(h.inject(0, altered).empty());
  EXPECT_TRUE(h.inject(0, std::vector<std::uint8_t>{'N', 'C', 1, 6, 0, 0}).empty());
  EXPECT_EQ(h.node(0).cluster_counters().dropped_malformed - malformed_before, 3u);
  EXPECT_EQ(h.node(0).session_count() + h.node(1).session_count(), sessions_before);
  EXPECT_EQ(a.all<client_event::SessionReady>().size(), 1u);
}

TEST(Cluster, RegistrationsAreSoftStateAtTheirHome) {
  ServerConfig base;
  base.registration_lifetime = seconds(20);
  base.refresh_interval = seconds(5);
  ClusterHarness h(3, base);
  auto& b = h.add_peer(1, peer_ep(2), listener());
  h.advance(milliseconds(100));
  std::size_t records = 0;
  for (std::size_t i = 0; i < 3; ++i) records += h.node(i).directory_records();
  EXPECT_EQ(records, 1u) << "one record, at the identity's home";
  // The client keeps refreshing: the record lives on past its TTL.
  h.advance(seconds(60));
  records = 0;
  for (std::size_t i = 0; i < 3; ++i) records += h.node(i).directory_records();
  EXPECT_EQ(records, 1u);
  // The client goes away (closes): the record goes with it.
  b.client->close(h.now);
  h.advance(seconds(1));
  records = 0;
  for (std::size_t i = 0; i < 3; ++i) records += h.node(i).directory_records();
  EXPECT_EQ(records, 0u);
}

}  // namespace
}  // namespace natpunch::rendezvous::testing

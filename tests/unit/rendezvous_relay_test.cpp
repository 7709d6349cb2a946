// Relay through the rendezvous server: delivery both ways, and the per-
// session and per-identity limits that stop it.
#include <gtest/gtest.h>

#include "rendezvous_harness.hpp"

namespace natpunch::rendezvous {
namespace {

using testing::ep;
using testing::Harness;

struct Pair {
  Harness::Peer* a;
  Harness::Peer* b;
  std::uint64_t session_id;
};

Pair connected_pair(Harness& h) {
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  auto& b = h.add_peer(ep(198, 51, 100, 20, 6000));
  a.client->connect(h.now, b.client->identity());
  h.pump();
  auto s = a.last<client_event::SessionReady>();
  EXPECT_TRUE(s.has_value());
  return Pair{&a, &b, s ? s->session.session_id : 0};
}

std::vector<std::uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

TEST(RendezvousRelay, DeliversBothWays) {
  Harness h;
  auto p = connected_pair(h);
  ASSERT_TRUE(p.a->client->send_relay(h.now, p.session_id, bytes_of("hello from a")));
  ASSERT_TRUE(p.b->client->send_relay(h.now, p.session_id, bytes_of("hello from b")));
  h.pump();
  auto at_b = p.b->all<client_event::RelayReceived>();
  auto at_a = p.a->all<client_event::RelayReceived>();
  ASSERT_EQ(at_b.size(), 1u);
  ASSERT_EQ(at_a.size(), 1u);
  EXPECT_EQ(at_b[0].payload, bytes_of("hello from a"));
  EXPECT_EQ(at_a[0].payload, bytes_of("hello from b"));
  EXPECT_EQ(at_b[0].session_id, p.session_id);
  EXPECT_EQ(h.server().counters().relay_packets, 2u);
}

TEST(RendezvousRelay, RelayFollowsThePeersNewEndpoint) {
  Harness h;
  auto p = connected_pair(h);
  p.b->endpoint = ep(198, 51, 100, 20, 6111);
  h.advance(h.server().config().refresh_interval + seconds(1));  // B's refresh comes from the new port
  ASSERT_TRUE(p.a->client->send_relay(h.now, p.session_id, bytes_of("x")));
  h.pump();
  EXPECT_EQ(p.b->all<client_event::RelayReceived>().size(), 1u);
}

TEST(RendezvousRelay, ClientRefusesUnknownSessionsAndOversizedPayloads) {
  Harness h;
  auto p = connected_pair(h);
  EXPECT_FALSE(p.a->client->send_relay(h.now, p.session_id + 1, bytes_of("x")));
  EXPECT_FALSE(p.a->client->send_relay(h.now, p.session_id, std::vector<std::uint8_t>(kMaxRelayPayload + 1)));
  EXPECT_TRUE(p.a->client->send_relay(h.now, p.session_id, std::vector<std::uint8_t>(kMaxRelayPayload)));
}

struct LimitCase {
  const char* name;
  std::function<void(RelayLimits&)> set;
  int packets_sent;
  std::size_t payload;
  std::size_t expected_delivered;
  bool expect_quota_error;
};

class RendezvousRelayLimit : public ::testing::TestWithParam<LimitCase> {};

TEST_P(RendezvousRelayLimit, StopsAtTheLimit) {
  const auto& tc = GetParam();
  auto config = testing::test_server_config();
  tc.set(config.relay);
  Harness h(config);
  auto p = connected_pair(h);
  // All sent at the same virtual instant: only the bucket depth gets through.
  for (int i = 0; i < tc.packets_sent; ++i)
    ASSERT_TRUE(p.a->client->send_relay(h.now, p.session_id, std::vector<std::uint8_t>(tc.payload, 0xab)));
  h.pump();
  EXPECT_EQ(p.b->all<client_event::RelayReceived>().size(), tc.expected_delivered);
  auto refused = p.a->all<client_event::RelayRefused>();
  EXPECT_EQ(!refused.empty(), tc.expect_quota_error);
  if (tc.expect_quota_error) {
    EXPECT_EQ(refused.size(), 1u) << "the quota error is sent once, not per packet";
    EXPECT_EQ(refused[0].code, ErrorCode::RelayQuotaExceeded);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, RendezvousRelayLimit,
    ::testing::Values(
        LimitCase{"SessionPackets", [](RelayLimits& r) { r.session_packets_per_second = 10; }, 50, 100, 10, false},
        LimitCase{"SessionBytes", [](RelayLimits& r) { r.session_bytes_per_second = 5000; }, 50, 1000, 5, false},
        LimitCase{"IdentityPackets", [](RelayLimits& r) { r.identity_packets_per_second = 7; }, 50, 100, 7, false},
        LimitCase{"IdentityBytes", [](RelayLimits& r) { r.identity_bytes_per_second = 3000; }, 50, 1000, 3, false},
        LimitCase{"SessionTotalBytes", [](RelayLimits& r) { r.session_total_bytes = 1000; }, 20, 200, 5, true},
        LimitCase{"NoLimitHit", [](RelayLimits&) {}, 50, 100, 50, false}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(RendezvousRelay, RateRecoversOverTime) {
  auto config = testing::test_server_config();
  config.relay.session_packets_per_second = 10;
  Harness h(config);
  auto p = connected_pair(h);
  std::size_t sent = 0;
  // 100 packets/s offered for 3 s: about 10/s get through plus the initial burst.
  for (int step = 0; step < 300; ++step) {
    p.a->client->send_relay(h.now, p.session_id, bytes_of("tick"));
    ++sent;
    h.advance(milliseconds(10));
  }
  const auto delivered = p.b->all<client_event::RelayReceived>().size();
  EXPECT_GE(delivered, 38u);
  EXPECT_LE(delivered, 42u);
  EXPECT_EQ(h.server().counters().relay_dropped_rate, sent - delivered);
}

TEST(RendezvousRelay, OversizedPayloadFromTheServersPointOfViewIsRefused) {
  auto config = testing::test_server_config();
  config.relay.max_payload = 100;
  Harness h(config);
  auto p = connected_pair(h);
  ASSERT_TRUE(p.a->client->send_relay(h.now, p.session_id, std::vector<std::uint8_t>(101)));
  h.pump();
  EXPECT_TRUE(p.b->all<client_event::RelayReceived>().empty());
  ASSERT_TRUE(p.a->last<client_event::RelayRefused>());
  EXPECT_EQ(p.a->last<client_event::RelayRefused>()->code, ErrorCode::TooLarge);
}

TEST(RendezvousRelay, IdleSessionsExpire) {
  Harness h;
  auto p = connected_pair(h);
  h.advance(h.server().config().session_idle_timeout + seconds(2));
  EXPECT_EQ(h.server().session_count(), 0u);
  ASSERT_TRUE(p.a->client->send_relay(h.now, p.session_id, bytes_of("late")));
  h.pump();
  EXPECT_TRUE(p.b->all<client_event::RelayReceived>().empty());
  ASSERT_TRUE(p.a->last<client_event::RelayRefused>());
  EXPECT_EQ(p.a->last<client_event::RelayRefused>()->code, ErrorCode::NoSuchSession);
}

}  // namespace
}  // namespace natpunch::rendezvous

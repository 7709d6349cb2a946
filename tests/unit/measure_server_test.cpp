// The measurement server's logic: what it answers, when, from which socket,
// and the bounds that keep it from being an amplifier or a memory sink.
#include <gtest/gtest.h>

#include "measure/server.hpp"

namespace natpunch::measure {
namespace {

const Endpoint kClient = *Endpoint::parse("198.51.100.7:40123");
const TimePoint kT0 = kTimeZero + seconds(100);

template <std::size_t N>
std::span<const std::uint8_t> view(const std::array<std::uint8_t, N>& a) {
  return {a.data(), a.size()};
}

wire::Reflection reflection_of(const Outgoing& out) {
  auto decoded = wire::decode_measure(out.payload());
  EXPECT_TRUE(decoded.ok());
  return decoded ? std::get<wire::Reflection>(*decoded) : wire::Reflection{};
}

Server make_server(ServerConfig config = {}, std::vector<CollectionRow>* rows = nullptr) {
  config.socket_count = 3;
  config.cookie_secret.fill(7);
  return Server(config, {3479, 40000, 40001}, [rows](const CollectionRow& r) {
    if (rows) rows->push_back(r);
  });
}

// The cookie the server grants `from` (asked from another socket of the
// same address, as a measurement's control socket does).
wire::MeasureCookie cookie_for(Server& server, const Endpoint& from, TimePoint now = kT0) {
  auto reply = server.handle(now, view(wire::encode(wire::CookieRequest{77})), Endpoint{from.address, 9}, 0);
  EXPECT_TRUE(reply);
  if (!reply) return {};
  EXPECT_LE(reply->length, wire::kRequestSize);
  auto decoded = wire::decode_measure(reply->payload());
  EXPECT_TRUE(decoded && std::holds_alternative<wire::CookieGrant>(*decoded));
  return decoded ? std::get<wire::CookieGrant>(*decoded).cookie : wire::MeasureCookie{};
}

wire::Refusal refusal_of(const std::optional<Outgoing>& out) {
  EXPECT_TRUE(out);
  if (!out) return {};
  EXPECT_EQ(out->length, wire::kRefusalSize);
  auto decoded = wire::decode_measure(out->payload());
  EXPECT_TRUE(decoded && std::holds_alternative<wire::Refusal>(*decoded));
  return decoded ? std::get<wire::Refusal>(*decoded) : wire::Refusal{};
}

TEST(MeasureServer, ReflectsTheObservedEndpointFromTheReceivingSocket) {
  auto server = make_server();
  auto request = wire::encode(wire::ReflectRequest{42});
  auto reply = server.handle(kT0, view(request), kClient, 2);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->socket, 2u);
  EXPECT_EQ(reply->to, kClient);
  EXPECT_LE(reply->length, request.size());
  const auto r = reflection_of(*reply);
  EXPECT_EQ(r.id, 42u);
  EXPECT_EQ(r.observed, kClient);
  EXPECT_EQ(r.received_on_port, 40001);
}

TEST(MeasureServer, DelayedReplyLeavesAfterTheDelayAndNotBefore) {
  auto server = make_server();
  const auto cookie = cookie_for(server, kClient);
  EXPECT_FALSE(server.handle(kT0, view(wire::encode(wire::DelayedReflectRequest{5, 4000, cookie})), kClient, 0));
  EXPECT_EQ(server.next_deadline(), kT0 + milliseconds(4000));
  EXPECT_TRUE(server.take_due(kT0 + milliseconds(3999)).empty());
  auto due = server.take_due(kT0 + milliseconds(4000));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(reflection_of(due[0]).answered, wire::MeasureKind::DelayedReflect);
  EXPECT_EQ(due[0].socket, 0u);
  EXPECT_FALSE(server.next_deadline());
}

TEST(MeasureServer, ScheduledProbeComesFromTheSamePortUnlessAskedOtherwise) {
  auto server = make_server();
  const auto cookie = cookie_for(server, kClient);
  server.handle(kT0, view(wire::encode(wire::ScheduleProbeRequest{1, 1000, false, cookie})), kClient, 1);
  server.handle(kT0, view(wire::encode(wire::ScheduleProbeRequest{2, 1000, true, cookie})), kClient, 1);
  auto due = server.take_due(kT0 + seconds(1));
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].socket, 1u);
  EXPECT_EQ(due[1].socket, 2u);
  EXPECT_EQ(reflection_of(due[0]).answered, wire::MeasureKind::ScheduleProbe);
}

TEST(MeasureServer, SizeEchoAnswersWithTheLengthInASmallReply) {
  auto server = make_server();
  auto request = wire::encode(wire::SizeEchoRequest{3, 1472});
  auto reply = server.handle(kT0, request, kClient, 0);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->length, wire::kSizeReportSize);
  auto decoded = wire::decode_measure(reply->payload());
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(std::get<wire::SizeReport>(*decoded).received, 1472u);
}

TEST(MeasureServer, CollectionPacketsAreLoggedNeverAnswered) {
  std::vector<CollectionRow> rows;
  auto server = make_server({}, &rows);
  wire::Uuid uuid{};
  uuid[0] = 0xab;
  EXPECT_FALSE(server.handle(kT0, view(wire::encode(wire::CollectPacket{1, uuid, 1234})), kClient, 2));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].uuid, uuid);
  EXPECT_EQ(rows[0].observed, kClient);
  EXPECT_EQ(rows[0].received_on_port, 40001);
  EXPECT_EQ(rows[0].client_send_time_ms, 1234u);
}

TEST(MeasureServer, DropsRepliesGarbageAndTooLongDelays) {
  auto server = make_server();
  EXPECT_FALSE(server.handle(kT0, view(wire::encode(wire::Reflection{1, wire::MeasureKind::Reflect, kClient, 1})),
                             kClient, 0));
  const std::array<std::uint8_t, 4> junk{1, 2, 3, 4};
  EXPECT_FALSE(server.handle(kT0, view(junk), kClient, 0));
  // A delay the server will not wait is refused (not silently dropped: the
  // client must not take it for a timed-out mapping).
  const auto cookie = cookie_for(server, kClient);
  const auto refused =
      refusal_of(server.handle(kT0, view(wire::encode(wire::DelayedReflectRequest{1, 3'600'001, cookie})), kClient, 0));
  EXPECT_EQ(refused.id, 1u);
  EXPECT_EQ(refused.reason, wire::RefusalReason::DelayTooLong);
  EXPECT_EQ(server.counters().dropped_not_request, 1u);
  EXPECT_EQ(server.counters().dropped_malformed, 1u);
  EXPECT_EQ(server.counters().dropped_delay_too_long, 1u);
  EXPECT_EQ(server.pending(), 0u);
}

// Return routability: a delayed request needs a cookie the server granted
// to the requester's address, recently; a missing, foreign, forged or
// expired one gets a 12-byte Refusal and nothing is scheduled.
TEST(MeasureServer, DelayedRequestsNeedACookieForTheirAddress) {
  ServerConfig config;
  config.cookie_lifetime = seconds(60);
  auto server = make_server(config);
  const auto cookie = cookie_for(server, kClient);
  const Endpoint elsewhere = *Endpoint::parse("203.0.113.9:40123");
  wire::MeasureCookie forged = cookie;
  forged[15] ^= 1;
  wire::MeasureCookie other_port = cookie;  // claims another granted port
  other_port[1] ^= 1;
  struct Row {
    const char* name;
    wire::MeasureCookie cookie;
    Endpoint from;
    TimePoint at;
  };
  for (const auto& row : {Row{"none", {}, kClient, kT0}, Row{"foreign address", cookie, elsewhere, kT0},
                          Row{"forged", forged, kClient, kT0}, Row{"port changed", other_port, kClient, kT0},
                          Row{"expired", cookie, kClient, kT0 + seconds(61)}}) {
    const auto refused = refusal_of(
        server.handle(row.at, view(wire::encode(wire::ScheduleProbeRequest{3, 1000, false, row.cookie})), row.from, 0));
    EXPECT_EQ(refused.reason, wire::RefusalReason::NeedCookie) << row.name;
    EXPECT_EQ(refused.refused, wire::MeasureKind::ScheduleProbe) << row.name;
  }
  EXPECT_EQ(server.pending(), 0u);
  EXPECT_EQ(server.counters().dropped_no_cookie, 5u);
  // The real one, from any port of the address, within its lifetime.
  EXPECT_FALSE(server.handle(kT0 + seconds(59), view(wire::encode(wire::ScheduleProbeRequest{4, 1000, false, cookie})),
                             Endpoint{kClient.address, 5555}, 0));
  EXPECT_EQ(server.pending(), 1u);
}

TEST(MeasureServer, PendingRepliesAreCapped) {
  ServerConfig config;
  config.max_pending = 10;
  config.queue_per_address = 1.0;  // only the global cap here
  config.queue_per_network = 1.0;
  config.rate_limit.reset();
  auto server = make_server(config);
  const auto cookie = cookie_for(server, kClient);
  for (std::uint32_t i = 0; i < 50; ++i)
    server.handle(kT0, view(wire::encode(wire::DelayedReflectRequest{i, 60'000 + i * 1000, cookie})), kClient, 0);
  EXPECT_EQ(server.pending(), 10u);
  EXPECT_EQ(server.counters().dropped_queue_full, 40u);
}

// Each address, and each /24, holds only its share of the queue; what was
// delivered frees the share again.
TEST(MeasureServer, QueueSharesPerAddressAndNetwork) {
  ServerConfig config;
  config.max_pending = 64;
  config.queue_per_address = 1.0 / 16;  // 4
  config.queue_per_network = 1.0 / 4;   // 16
  config.rate_limit.reset();
  auto server = make_server(config);
  std::uint32_t id = 1;
  auto ask = [&](const Endpoint& from, std::uint32_t delay_ms) {
    const auto cookie = cookie_for(server, from);
    return server.handle(kT0, view(wire::encode(wire::DelayedReflectRequest{id++, delay_ms, cookie})), from, 0);
  };
  const Endpoint a = *Endpoint::parse("198.51.100.7:1000");
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(ask(a, 1000 + static_cast<std::uint32_t>(i) * 1000));
  EXPECT_EQ(refusal_of(ask(a, 9000)).reason, wire::RefusalReason::QueueShareFull);
  EXPECT_EQ(server.pending_for(a.address), 4u);
  // Three more addresses of the /24 fill its share of 16.
  for (std::uint8_t host = 8; host < 11; ++host)
    for (int i = 0; i < 4; ++i)
      EXPECT_FALSE(ask(Endpoint{IpAddress::v4({198, 51, 100, host}), 1000}, 1000 + static_cast<std::uint32_t>(i) * 1000));
  EXPECT_EQ(refusal_of(ask(*Endpoint::parse("198.51.100.200:1"), 1000)).reason, wire::RefusalReason::QueueShareFull);
  EXPECT_FALSE(ask(*Endpoint::parse("203.0.113.5:1"), 1000)) << "another network";
  EXPECT_EQ(server.take_due(kT0 + milliseconds(1000)).size(), 5u);
  EXPECT_EQ(server.pending_for(a.address), 3u);
  EXPECT_FALSE(ask(a, 9000)) << "room again";
}

TEST(MeasureServer, RateLimitsPerSource) {
  ServerConfig config;
  config.rate_limit = stun::RateLimitConfig{};
  config.rate_limit->requests_per_second = 10.0;
  config.rate_limit->burst = 5.0;
  auto server = make_server(config);
  int answered = 0;
  for (std::uint32_t i = 0; i < 20; ++i)
    answered += server.handle(kT0, view(wire::encode(wire::ReflectRequest{i})), kClient, 0) ? 1 : 0;
  EXPECT_EQ(answered, 5);
  const Endpoint other = *Endpoint::parse("198.51.100.8:1");
  EXPECT_TRUE(server.handle(kT0, view(wire::encode(wire::ReflectRequest{99})), other, 0));
  EXPECT_EQ(server.counters().dropped_rate_limited, 15u);
}

}  // namespace
}  // namespace natpunch::measure

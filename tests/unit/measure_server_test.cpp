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
  return Server(config, {3479, 40000, 40001}, [rows](const CollectionRow& r) {
    if (rows) rows->push_back(r);
  });
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
  EXPECT_FALSE(server.handle(kT0, view(wire::encode(wire::DelayedReflectRequest{5, 4000})), kClient, 0));
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
  server.handle(kT0, view(wire::encode(wire::ScheduleProbeRequest{1, 1000, false})), kClient, 1);
  server.handle(kT0, view(wire::encode(wire::ScheduleProbeRequest{2, 1000, true})), kClient, 1);
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
  EXPECT_FALSE(server.handle(kT0, view(wire::encode(wire::DelayedReflectRequest{1, 3'600'001})), kClient, 0));
  EXPECT_EQ(server.counters().dropped_not_request, 1u);
  EXPECT_EQ(server.counters().dropped_malformed, 1u);
  EXPECT_EQ(server.counters().dropped_delay_too_long, 1u);
  EXPECT_EQ(server.pending(), 0u);
}

TEST(MeasureServer, PendingRepliesAreCapped) {
  ServerConfig config;
  config.max_pending = 10;
  config.rate_limit.reset();
  auto server = make_server(config);
  for (std::uint32_t i = 0; i < 50; ++i)
    server.handle(kT0, view(wire::encode(wire::DelayedReflectRequest{i, 60'000})), kClient, 0);
  EXPECT_EQ(server.pending(), 10u);
  EXPECT_EQ(server.counters().dropped_queue_full, 40u);
}

TEST(MeasureServer, RateLimitsPerSource) {
  ServerConfig config;
  config.rate_limit = stun::RateLimitConfig{10.0, 5.0, 64};
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

// Links and the agenda: the two pieces every simulated packet goes through.
#include "sim/link.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "sim/event_queue.hpp"

namespace natpunch::sim {
namespace {

const Endpoint kFrom{IpAddress::v4({100, 64, 0, 2}), 4000};
const Endpoint kTo{IpAddress::v4({203, 0, 113, 2}), 5000};

std::vector<std::uint8_t> payload(std::uint8_t tag) { return {tag, 1, 2, 3}; }

TEST(LinkTest, DeliversAfterItsLatencyWithPayloadIntact) {
  Link link(LinkConfig{milliseconds(25)}, 1);
  EXPECT_TRUE(link.empty());
  ASSERT_TRUE(link.push(kTimeZero, kFrom, kTo, payload(9)));
  EXPECT_EQ(link.front_arrival(), kTimeZero + milliseconds(25));
  EXPECT_EQ(link.front().from, kFrom);
  EXPECT_EQ(link.front().to, kTo);
  const auto bytes = link.front().payload();
  EXPECT_EQ(std::vector<std::uint8_t>(bytes.begin(), bytes.end()), payload(9));
  link.pop();
  EXPECT_TRUE(link.empty());
  EXPECT_EQ(link.counters().delivered, 1u);
}

TEST(LinkTest, JitterNeverReordersAndGrowingKeepsOrder) {
  Link link(LinkConfig{milliseconds(10), milliseconds(50)}, 2);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(link.push(kTimeZero + milliseconds(i), kFrom, kTo, payload(std::uint8_t(i))));
  TimePoint previous = kTimeZero;
  for (int i = 0; i < 100; ++i) {
    ASSERT_FALSE(link.empty());
    EXPECT_GE(link.front_arrival(), previous);
    EXPECT_GE(link.front_arrival(), kTimeZero + milliseconds(i) + milliseconds(10));
    EXPECT_EQ(link.front().bytes[0], i);
    previous = link.front_arrival();
    link.pop();
  }
}

TEST(LinkTest, LossRateMatchesItsProbability) {
  Link never(LinkConfig{milliseconds(1), {}, 0.0}, 3);
  Link always(LinkConfig{milliseconds(1), {}, 1.0}, 3);
  Link some(LinkConfig{milliseconds(1), {}, 0.25}, 3);
  int kept = 0;
  for (int i = 0; i < 20000; ++i) {
    EXPECT_TRUE(never.push(kTimeZero, kFrom, kTo, payload(0)));
    EXPECT_FALSE(always.push(kTimeZero, kFrom, kTo, payload(0)));
    if (some.push(kTimeZero, kFrom, kTo, payload(0))) ++kept;
  }
  EXPECT_NEAR(kept / 20000.0, 0.75, 0.02);  // ~7 standard errors
  EXPECT_EQ(always.counters().lost, 20000u);
}

TEST(LinkTest, RefusesPayloadsLargerThanAPacketHolds) {
  Link link(LinkConfig{}, 4);
  const std::vector<std::uint8_t> big(kMaxPayload + 1, 0);
  EXPECT_FALSE(link.push(kTimeZero, kFrom, kTo, big));
  EXPECT_EQ(link.counters().oversize, 1u);
  EXPECT_TRUE(link.empty());
}

TEST(EventQueueTest, EarliestSourceWinsAndTiesGoToTheLowestId) {
  EventQueue queue;
  const auto a = queue.add_source();
  const auto b = queue.add_source();
  const auto c = queue.add_source();
  EXPECT_FALSE(queue.earliest());
  queue.set(c, kTimeZero + seconds(1));
  queue.set(b, kTimeZero + seconds(1));
  queue.set(a, kTimeZero + seconds(2));
  ASSERT_TRUE(queue.earliest());
  EXPECT_EQ(queue.earliest()->source, b);
  EXPECT_EQ(queue.earliest()->time, kTimeZero + seconds(1));
  queue.clear(b);
  EXPECT_EQ(queue.earliest()->source, c);
  queue.set(c, std::nullopt);
  EXPECT_EQ(queue.earliest()->source, a);
}

}  // namespace
}  // namespace natpunch::sim

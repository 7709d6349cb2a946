// io::SendRateLimiter: the probe engine's token bucket, on hand-made time.
#include "io/send_rate_limiter.hpp"

#include <gtest/gtest.h>

namespace natpunch::io {
namespace {

using std::chrono::microseconds;
using std::chrono::nanoseconds;

TEST(SendRateLimiter, StartsFullAndRefillsAtTheRate) {
  SendRateLimiter bucket(1000.0, 10, kTimeZero);
  EXPECT_EQ(bucket.available(kTimeZero), 10u);
  bucket.consume(10);
  EXPECT_EQ(bucket.available(kTimeZero), 0u);
  EXPECT_EQ(bucket.available(kTimeZero + microseconds(999)), 0u);
  EXPECT_EQ(bucket.available(kTimeZero + milliseconds(1)), 1u);
  EXPECT_EQ(bucket.available(kTimeZero + milliseconds(5)), 5u);
  // Never more than the burst, however long the pause.
  EXPECT_EQ(bucket.available(kTimeZero + seconds(3600)), 10u);
}

TEST(SendRateLimiter, TimeGoingBackwardsGrantsNothing) {
  SendRateLimiter bucket(1000.0, 4, kTimeZero + seconds(1));
  bucket.consume(4);
  EXPECT_EQ(bucket.available(kTimeZero), 0u);
  EXPECT_EQ(bucket.available(kTimeZero + seconds(1)), 0u);
}

TEST(SendRateLimiter, WhenAvailableIsTheExactInstant) {
  SendRateLimiter bucket(336.0, 1, kTimeZero);  // the thesis's ~2.98 ms
  bucket.consume(1);
  const auto due = bucket.when_available(1);
  EXPECT_EQ(bucket.available(due - nanoseconds(1)), 0u);
  EXPECT_EQ(bucket.available(due), 1u);
  // Asking for more than the burst means "a full bucket".
  bucket.consume(1);
  EXPECT_EQ(bucket.when_available(50), bucket.when_available(1));
}

// A long run polled at uneven intervals grants exactly rate x time (+ the
// initial burst, within one token): no drift from rounding, whatever the rate.
struct LongRun {
  double rate;
  std::uint64_t burst;
  Duration step;
  Duration length;
};

class SendRateLimiterLongRun : public ::testing::TestWithParam<LongRun> {};

TEST_P(SendRateLimiterLongRun, GrantsRateTimesTimePlusBurst) {
  const auto p = GetParam();
  SendRateLimiter bucket(p.rate, p.burst, kTimeZero);
  std::uint64_t granted = 0;
  int k = 0;
  TimePoint last = kTimeZero;
  for (TimePoint t = kTimeZero; t <= kTimeZero + p.length; t += p.step + nanoseconds(k++ % 7)) {
    const auto n = bucket.available(t);
    bucket.consume(n);
    granted += n;
    last = t;
  }
  // Polled often enough that the bucket never overflows between polls
  // (burst > rate x step), so nothing is lost: floor(rate x time) + burst.
  const double expected = p.rate * std::chrono::duration<double>(last - kTimeZero).count() + static_cast<double>(p.burst);
  EXPECT_NEAR(static_cast<double>(granted), expected, 1.0);
}

INSTANTIATE_TEST_SUITE_P(Rates, SendRateLimiterLongRun,
                         ::testing::Values(LongRun{336.0, 2, microseconds(100), seconds(60)},
                                           LongRun{335.57, 8, microseconds(997), seconds(100)},
                                           LongRun{100'000.0, 256, microseconds(50), seconds(2)},
                                           LongRun{2'000'000.0, 256, microseconds(30), seconds(1)},
                                           LongRun{0.5, 1, milliseconds(10), seconds(60)}));

}  // namespace
}  // namespace natpunch::io

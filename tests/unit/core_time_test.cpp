// since_start(): the two peers' common start is each side's own estimate of
// one instant, so the peer's probe can complete a handshake a little before
// our start; the listener printed "connected ... after -1.3 ms" (issue 22).
#include <gtest/gtest.h>

#include "core/time.hpp"

namespace natpunch {
namespace {

TEST(SinceStart, IsNeverNegative) {
  const TimePoint start = kTimeZero + seconds(10);
  EXPECT_EQ(since_start(start + milliseconds(1300), start), milliseconds(1300));
  EXPECT_EQ(since_start(start, start), Duration::zero());
  EXPECT_EQ(since_start(start - milliseconds(1300), start), Duration::zero());
}

}  // namespace
}  // namespace natpunch

#pragma once
// Protocol state machines never read a clock: every entry point takes `now`.
// Real drivers pass steady_clock::now(); tests and the simulator pass virtual
// time built from TimePoint{} plus durations.
#include <chrono>

namespace natpunch {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;

using std::chrono::milliseconds;
using std::chrono::seconds;

inline constexpr TimePoint kTimeZero{};

// Time from a common start to `now`, never negative: the two peers' starts
// are each side's own estimate of one instant, so the peer's probe can
// complete our handshake a little before our own start (that is 0 ms, not
// "-1.3 ms").
inline constexpr Duration since_start(TimePoint now, TimePoint start) {
  return now > start ? now - start : Duration::zero();
}

}  // namespace natpunch

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

}  // namespace natpunch

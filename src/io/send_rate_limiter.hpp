#pragma once
// A token bucket over the monotonic clock that caps how many datagrams a
// sender may emit: `rate` per second on average, at most `burst` back to
// back. Batch-friendly: a sender asks how many it may send now, sends that
// many in one sendmmsg(), and consumes them; when it has none, it asks
// when the next `n` will be there and sleeps until then. Pure arithmetic
// on the time it is given (no clock read), so tests drive it with
// hand-made time.
//
// Tokens are kept in nanosecond-exact integers (credit in "token-
// nanoseconds": one token = 1e9 units), so a long run at 336 packets/s does
// not drift by rounding: after t seconds exactly floor(rate * t) + burst
// tokens have been granted at most (less than 1e-9 token lost per refill).
#include <algorithm>
#include <cstdint>

#include "core/time.hpp"

namespace natpunch::io {

class SendRateLimiter {
 public:
  // `rate` > 0 tokens per second; `burst` >= 1 tokens; starts full.
  SendRateLimiter(double rate, std::uint64_t burst, TimePoint now)
      : rate_milli_(static_cast<std::uint64_t>(rate * 1000.0 + 0.5)),
        burst_(std::max<std::uint64_t>(burst, 1)),
        credit_(burst_ * kUnit),
        last_(now) {
    if (rate_milli_ == 0) rate_milli_ = 1;
  }

  // Whole tokens available at `now` (refills first; `now` before the last
  // refill counts as no time passed).
  std::uint64_t available(TimePoint now) {
    refill(now);
    return credit_ / kUnit;
  }

  // Takes `n` tokens (n <= available(now) of the same instant).
  void consume(std::uint64_t n) { credit_ -= std::min(credit_, n * kUnit); }

  // The earliest time at which `n` tokens (capped at burst) will be there.
  TimePoint when_available(std::uint64_t n) const {
    const std::uint64_t want = std::min(n, burst_) * kUnit;
    if (credit_ >= want) return last_;
    // The credit grows by rate_milli_ / 1000 units per nanosecond.
    const std::uint64_t missing = want - credit_;
    const std::uint64_t ns = (missing * 1000 + rate_milli_ - 1) / rate_milli_;
    return last_ + std::chrono::nanoseconds(ns);
  }

  double rate() const { return static_cast<double>(rate_milli_) / 1000.0; }
  std::uint64_t burst() const { return burst_; }

 private:
  // One token = 1e9 units, and the credit grows by rate * elapsed_ns units
  // (rate tokens/s * ns * 1e9 units/token / 1e9 ns/s). rate is kept in
  // thousandths so fractional rates stay exact enough.
  static constexpr std::uint64_t kUnit = 1'000'000'000;

  void refill(TimePoint now) {
    if (now <= last_) return;
    const auto elapsed = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_).count());
    const std::uint64_t cap = burst_ * kUnit;
    // Long idle gaps: anything past "full" is irrelevant, and capping
    // first keeps the product below 2^64.
    const std::uint64_t full_after_ns = cap / std::max<std::uint64_t>(rate_milli_ / 1000, 1) + 1;
    if (elapsed >= full_after_ns) {
      credit_ = cap;
    } else {
      credit_ = std::min(cap, credit_ + elapsed * rate_milli_ / 1000);
    }
    last_ = now;
  }

  std::uint64_t rate_milli_;
  std::uint64_t burst_;
  std::uint64_t credit_;  // in units of 1/kUnit token
  TimePoint last_;
};

}  // namespace natpunch::io

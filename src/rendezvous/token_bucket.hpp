#pragma once
// A token bucket in virtual time, for the relay's byte and packet limits.
#include <algorithm>
#include <chrono>

#include "core/time.hpp"

namespace natpunch::rendezvous {

class TokenBucket {
 public:
  TokenBucket() = default;
  TokenBucket(double rate_per_second, double burst, TimePoint now)
      : rate_(rate_per_second), burst_(burst), tokens_(burst), last_(now) {}

  // Takes `amount` tokens if all are there; otherwise takes none.
  bool take(TimePoint now, double amount) {
    refill(now);
    if (tokens_ < amount) return false;
    tokens_ -= amount;
    return true;
  }
  bool can_take(TimePoint now, double amount) {
    refill(now);
    return tokens_ >= amount;
  }

 private:
  void refill(TimePoint now) {
    // A clock that steps backwards must not mint tokens.
    if (now <= last_) return;
    tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
    last_ = now;
  }
  double rate_ = 0;
  double burst_ = 0;
  double tokens_ = 0;
  TimePoint last_{};
};

}  // namespace natpunch::rendezvous

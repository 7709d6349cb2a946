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

namespace natpunch::rendezvous {

// The rate and depth of a kind of bucket (every registration's signalling,
// every session's bytes, ...), kept once by the owner of the buckets.
struct BucketRate {
  double per_second = 0;
  double burst = 0;
};

// A token bucket that does not keep its rate (16 bytes instead of 32):
// for the server's per-registration, per-identity and per-session buckets,
// of which there are a million, all of a few kinds.
class LeanBucket {
 public:
  LeanBucket() = default;
  LeanBucket(const BucketRate& rate, TimePoint now) : tokens_(rate.burst), last_(now) {}

  bool take(TimePoint now, double amount, const BucketRate& rate) {
    refill(now, rate);
    if (tokens_ < amount) return false;
    tokens_ -= amount;
    return true;
  }
  bool can_take(TimePoint now, double amount, const BucketRate& rate) {
    refill(now, rate);
    return tokens_ >= amount;
  }

 private:
  void refill(TimePoint now, const BucketRate& rate) {
    if (now <= last_) return;  // a clock that steps backwards must not mint tokens
    tokens_ = std::min(rate.burst, tokens_ + std::chrono::duration<double>(now - last_).count() * rate.per_second);
    last_ = now;
  }
  double tokens_ = 0;
  TimePoint last_{};
};

}  // namespace natpunch::rendezvous

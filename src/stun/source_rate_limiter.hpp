#pragma once
// Per-source token buckets with fixed memory, so a STUN server (or any
// reflector we run) cannot be turned into an amplifier and cannot be made to
// grow without bound by spoofed sources.
#include <cstdint>
#include <vector>

#include "core/endpoint.hpp"
#include "core/time.hpp"

namespace natpunch::stun {

struct RateLimitConfig {
  double requests_per_second = 20.0;  // sustained rate per source
  double burst = 40.0;                // bucket size: back-to-back requests allowed
  // Sources tracked at once (rounded up to a multiple of 8). When full, the
  // least recently seen source in the same hash set is forgotten, so memory
  // stays fixed however many addresses a flood spoofs.
  std::size_t max_sources = 16384;
};

// Token bucket per source address. IPv6 sources are keyed by their /64,
// since one subscriber usually owns a whole /64. Fixed memory, 8-way set
// associative with LRU replacement inside a set. An evicted abuser comes back
// with a full bucket: under a table-filling flood the limiter degrades to
// "burst per eviction" rather than locking out legitimate clients.
class SourceRateLimiter {
 public:
  SourceRateLimiter(const RateLimitConfig& config, std::uint64_t hash_seed);

  // Takes one token from `source`'s bucket; false when it has none.
  bool allow(TimePoint now, const IpAddress& source);
  std::size_t tracked() const { return tracked_; }
  std::size_t capacity() const { return entries_.size(); }

 private:
  static constexpr std::size_t kWays = 8;
  struct Entry {
    std::uint64_t key_hi = 0;
    std::uint64_t key_lo = 0;
    TimePoint last_seen{};
    double tokens = 0;
    bool used = false;
  };

  RateLimitConfig config_;
  std::uint64_t seed_;
  std::vector<Entry> entries_;
  std::size_t tracked_ = 0;
};

}  // namespace natpunch::stun

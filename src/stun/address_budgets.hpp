#pragma once
// The per-address half of SourceRateLimiter (source_rate_limiter.hpp):
// each source address's (IPv6: /64's) request budget and its allowance of
// new known ports, in a fixed-size 8-way set-associative table (LRU within
// a set; an evicted address comes back with full buckets).
//
// Shareable between threads: the STUN server's workers each see only some
// ports of an address (the kernel spreads a carrier address's thousands
// of ports over them), so they must spend one budget for the address to
// get exactly its limit. Shared, each set has a spinlock (one uncontended
// atomic exchange per request; a set is held for a few dozen instructions).
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/time.hpp"

namespace natpunch::stun {

struct AddressBudgetConfig {
  double requests_per_second = 2000.0;
  double burst = 4000.0;
  double known_ports_per_second = 16.0;
  double known_ports_burst = 1024.0;
  std::size_t max_addresses = 8192;
};

class AddressBudgets {
 public:
  AddressBudgets(const AddressBudgetConfig& config, bool shared);

  struct Charge {
    bool allowed = false;   // a request token was taken
    bool promoted = false;  // ... and a known-port allowance (only when asked)
  };
  // Takes one request token of the address `hash` names, and one known-port
  // allowance if `promote` and the token was there.
  Charge charge(TimePoint now, std::uint64_t hash, bool promote);
  bool shared() const { return shared_; }

 private:
  static constexpr std::size_t kWays = 8;
  struct Entry {
    std::uint64_t tag = 0;  // 0: free
    TimePoint last_seen{};
    float tokens = 0;
    float promotions = 0;
  };
  struct alignas(64) Set {
    std::atomic<bool> locked{false};
    Entry ways[kWays];
  };
  Entry& find(Set& set, TimePoint now, std::uint64_t hash);

  AddressBudgetConfig config_;
  bool shared_;
  std::unique_ptr<Set[]> sets_;
  std::size_t set_count_;
};

}  // namespace natpunch::stun

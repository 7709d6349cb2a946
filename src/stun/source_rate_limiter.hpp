#pragma once
// Rate limits per source with fixed memory, fair among the ports of one
// address, so that a server we run can be neither an amplifier nor made to
// grow by spoofed sources, and so that one abuser behind a carrier-grade
// NAT does not lock out the thousands of subscribers sharing its address.
//
// Two levels of token buckets:
//   endpoint  (address, port): one client socket or NAT mapping; its rate
//             is what one client may ask for;
//   address   (IPv4 address, IPv6 /64): all its ports together, a budget
//             many times larger, sized for a carrier address.
// A request takes a token from both. A port seen before (it made an
// allowed request earlier: "known") keeps a small reserve of its own that
// it may use when its address's budget is spent, so an abuser who drains
// the address budget from many ports -- new ones, or many old ones -- does
// not starve the subscribers already talking to us. Only a port's first
// request depends on the address budget alone: a new port of a flooding
// address is indistinguishable from the flooder's next port.
//
// Bounds, per address: address rate + (known ports x reserve rate); known
// ports are created at most `known_ports_per_second` (burst
// `known_ports_burst`) per address, and a known port idle for
// `known_idle` may be forgotten. So one address can hold at most about
// known_ports_burst + known_ports_per_second x known_idle reserves.
//
// Memory: two 8-way set-associative tables of fixed size (LRU within a
// set; an unknown port is evicted before a known one, a known one only
// after `known_idle`). An evicted source comes back with full buckets:
// under a table-filling flood the limiter degrades to "a burst per
// eviction" rather than locking anyone out.
//
// Threads: the endpoint table is the limiter's own; the address table
// (address_budgets.hpp) may be shared by the limiters of several workers,
// so that an address whose ports are spread over them still gets exactly
// its budget (each port must always reach the same worker).
#include <cstdint>
#include <memory>
#include <vector>

#include "core/endpoint.hpp"
#include "core/time.hpp"
#include "stun/address_budgets.hpp"

namespace natpunch::stun {

struct RateLimitConfig {
  // Per source endpoint (address and port).
  double requests_per_second = 20.0;
  double burst = 40.0;
  // Per source address (IPv6: per /64), all ports together.
  double address_requests_per_second = 2000.0;
  double address_burst = 4000.0;
  // What a known port may still take when its address's budget is spent.
  double reserved_per_second = 2.0;
  double reserved_burst = 10.0;
  double known_ports_per_second = 16.0;
  double known_ports_burst = 1024.0;
  Duration known_idle = seconds(60);
  // Table sizes (rounded up to a multiple of 8).
  std::size_t max_sources = 32768;  // endpoints
  std::size_t max_addresses = 8192;
};

enum class RateDecision : std::uint8_t {
  Allowed,
  AllowedFromReserve,  // the address budget was spent; the port's reserve paid
  EndpointLimited,     // this port is over its own rate
  AddressLimited,      // the address budget is spent and the port has no reserve left
};

// The address half of `config`.
AddressBudgetConfig address_budget_config(const RateLimitConfig& config);

class SourceRateLimiter {
 public:
  // `shared`: the address budgets of all workers (made with
  // address_budget_config() of the same config, shared = true); nullptr:
  // this limiter's own.
  SourceRateLimiter(const RateLimitConfig& config, std::uint64_t hash_seed,
                    std::shared_ptr<AddressBudgets> shared = nullptr);

  // Charges one request of `source`; true when it may be served.
  bool allow(TimePoint now, const Endpoint& source) { return decide(now, source) <= RateDecision::AllowedFromReserve; }
  RateDecision decide(TimePoint now, const Endpoint& source);

  // Endpoints tracked now, and the table's capacity.
  std::size_t tracked() const { return tracked_; }
  std::size_t capacity() const { return endpoints_.size(); }
  const RateLimitConfig& config() const { return config_; }

 private:
  static constexpr std::size_t kWays = 8;
  struct EndpointEntry {
    std::uint64_t tag = 0;  // 0: free
    TimePoint last_seen{};
    float tokens = 0;
    float reserve = 0;
    bool known = false;
  };

  EndpointEntry* find_endpoint(std::uint64_t hash);
  EndpointEntry* endpoint_slot(TimePoint now, std::uint64_t hash);

  RateLimitConfig config_;
  std::uint64_t seed_;
  std::uint64_t v4_base_;  // key_hash()'s first round for every IPv4 address
  std::shared_ptr<AddressBudgets> addresses_;
  std::vector<EndpointEntry> endpoints_;
  std::size_t tracked_ = 0;
};

}  // namespace natpunch::stun

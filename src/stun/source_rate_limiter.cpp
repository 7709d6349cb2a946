#include "stun/source_rate_limiter.hpp"

#include <algorithm>
#include <chrono>

#include "core/source_key.hpp"

namespace natpunch::stun {
namespace {

// Distinct hash families for the two tables.
constexpr std::uint64_t kEndpointSalt = 0x656e64706f696e74ULL;

std::size_t rounded_sets(std::size_t entries, std::size_t ways) {
  return std::max<std::size_t>(1, (entries + ways - 1) / ways);
}

// Seconds since `last` (never negative: a clock that steps backwards must
// not mint tokens), and moves `last` forward.
double elapsed(TimePoint now, TimePoint& last) {
  const double s = std::max(0.0, std::chrono::duration<double>(now - last).count());
  last = std::max(last, now);
  return s;
}

float refilled(float tokens, double seconds, double rate, double burst) {
  return static_cast<float>(std::min(burst, static_cast<double>(tokens) + seconds * rate));
}

// 0 marks a free entry.
std::uint64_t tag_of(std::uint64_t hash) { return hash == 0 ? 1 : hash; }

}  // namespace

AddressBudgetConfig address_budget_config(const RateLimitConfig& config) {
  return AddressBudgetConfig{config.address_requests_per_second, config.address_burst, config.known_ports_per_second,
                             config.known_ports_burst, config.max_addresses};
}

SourceRateLimiter::SourceRateLimiter(const RateLimitConfig& config, std::uint64_t hash_seed,
                                     std::shared_ptr<AddressBudgets> shared)
    : config_(config),
      seed_(hash_seed),
      v4_base_(splitmix64(hash_seed ^ source_key_detail::kV4Subscriber)),
      addresses_(shared ? std::move(shared) : std::make_shared<AddressBudgets>(address_budget_config(config), false)) {
  endpoints_.resize(rounded_sets(config.max_sources, kWays) * kWays);
}

SourceRateLimiter::EndpointEntry* SourceRateLimiter::find_endpoint(std::uint64_t hash) {
  const std::uint64_t tag = tag_of(hash);
  EndpointEntry* ways = endpoints_.data() + (hash % (endpoints_.size() / kWays)) * kWays;
  for (std::size_t i = 0; i < kWays; ++i)
    if (ways[i].tag == tag) return &ways[i];
  return nullptr;
}

SourceRateLimiter::EndpointEntry* SourceRateLimiter::endpoint_slot(TimePoint now, std::uint64_t hash) {
  EndpointEntry* ways = endpoints_.data() + (hash % (endpoints_.size() / kWays)) * kWays;
  EndpointEntry* unknown = nullptr;
  EndpointEntry* idle_known = nullptr;
  for (std::size_t i = 0; i < kWays; ++i) {
    EndpointEntry& e = ways[i];
    if (e.tag == 0) {
      ++tracked_;
      return &e;
    }
    if (!e.known) {
      if (unknown == nullptr || e.last_seen < unknown->last_seen) unknown = &e;
    } else if (now - e.last_seen > config_.known_idle) {
      if (idle_known == nullptr || e.last_seen < idle_known->last_seen) idle_known = &e;
    }
  }
  // A set full of known, active ports keeps them: the newcomer is served
  // from its address's budget without an entry of its own.
  return unknown != nullptr ? unknown : idle_known;
}

RateDecision SourceRateLimiter::decide(TimePoint now, const Endpoint& source) {
  // Two keyed hashes per request on the hot path (IPv4): the address's
  // (key_hash() with its first round precomputed), and the endpoint's from
  // it (for IPv6 the interface half of the address joins in).
  const std::uint64_t address_hash = source.address.is_v4()
                                         ? splitmix64(v4_base_ ^ source.address.v4_host_order())
                                         : key_hash(subscriber_key(source.address), seed_);
  std::uint64_t hash = address_hash ^ kEndpointSalt;
  if (source.address.is_v6()) hash = splitmix64(hash ^ load_be64(source.address.data() + 8));
  hash = splitmix64(hash ^ source.port);
  if (EndpointEntry* e = find_endpoint(hash)) {
    const double s = elapsed(now, e->last_seen);
    e->tokens = refilled(e->tokens, s, config_.requests_per_second, config_.burst);
    e->reserve = refilled(e->reserve, s, config_.reserved_per_second, config_.reserved_burst);
    if (e->tokens < 1) return RateDecision::EndpointLimited;
    if (const auto c = addresses_->charge(now, address_hash, !e->known); c.allowed) {
      e->tokens -= 1;
      if (c.promoted) e->known = true;
      return RateDecision::Allowed;
    }
    if (e->known && e->reserve >= 1) {
      e->reserve -= 1;
      e->tokens -= 1;
      return RateDecision::AllowedFromReserve;
    }
    return RateDecision::AddressLimited;
  }
  // A new port: its first request is paid by the address budget alone, and
  // a flood of new ports beyond it does not even churn the table.
  if (!addresses_->charge(now, address_hash, false).allowed) return RateDecision::AddressLimited;
  if (EndpointEntry* slot = endpoint_slot(now, hash))
    *slot = EndpointEntry{tag_of(hash), now, static_cast<float>(config_.burst - 1),
                          static_cast<float>(config_.reserved_burst), false};
  return RateDecision::Allowed;
}

}  // namespace natpunch::stun

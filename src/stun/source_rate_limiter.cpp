#include "stun/source_rate_limiter.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include "core/splitmix.hpp"

namespace natpunch::stun {
namespace {

std::uint64_t load_be64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// (hi, lo) identity of a rate-limited source; the family marker keeps a v4
// address from colliding with a v6 prefix.
std::pair<std::uint64_t, std::uint64_t> source_key(const IpAddress& address) {
  if (address.is_v4()) return {4, address.v4_host_order()};
  return {load_be64(address.data()), 6};  // the /64 prefix
}

}  // namespace

SourceRateLimiter::SourceRateLimiter(const RateLimitConfig& config, std::uint64_t hash_seed)
    : config_(config), seed_(hash_seed) {
  const std::size_t sets = std::max<std::size_t>(1, (config.max_sources + kWays - 1) / kWays);
  entries_.resize(sets * kWays);
}

bool SourceRateLimiter::allow(TimePoint now, const IpAddress& source) {
  const auto [hi, lo] = source_key(source);
  const std::size_t set = splitmix64(splitmix64(seed_ ^ hi) ^ lo) % (entries_.size() / kWays);
  Entry* ways = entries_.data() + set * kWays;

  Entry* victim = nullptr;
  for (std::size_t i = 0; i < kWays; ++i) {
    Entry& e = ways[i];
    if (e.used && e.key_hi == hi && e.key_lo == lo) {
      // A clock that steps backwards must not mint tokens.
      const double elapsed = std::max(0.0, std::chrono::duration<double>(now - e.last_seen).count());
      e.tokens = std::min(config_.burst, e.tokens + elapsed * config_.requests_per_second);
      e.last_seen = std::max(e.last_seen, now);
      if (e.tokens < 1.0) return false;
      e.tokens -= 1.0;
      return true;
    }
    if (!e.used) {
      if (victim == nullptr || victim->used) victim = &e;
    } else if (victim == nullptr || (victim->used && e.last_seen < victim->last_seen)) {
      victim = &e;
    }
  }

  if (!victim->used) ++tracked_;
  *victim = Entry{hi, lo, now, config_.burst, true};
  if (victim->tokens < 1.0) return false;
  victim->tokens -= 1.0;
  return true;
}

}  // namespace natpunch::stun

#pragma once
// Whom a datagram counts against, for the servers' limits and shares:
//   subscriber  one IPv4 address (thousands of phones behind a carrier NAT
//               share it) or one IPv6 /64 (one customer's LAN);
//   network     the IPv4 /24 or the IPv6 /48 around it (one operator's
//               pool, one site), so that many addresses of one network do
//               not count as many strangers.
// Keys of different kinds and families never compare equal.
#include <compare>
#include <cstddef>
#include <cstdint>

#include "core/bytes.hpp"
#include "core/endpoint.hpp"
#include "core/splitmix.hpp"

namespace natpunch {

struct SourceKey {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  auto operator<=>(const SourceKey&) const = default;
};

namespace source_key_detail {
// ff00::/8 is multicast, never a source: v4 keys live there.
inline constexpr std::uint64_t kV4Subscriber = 0xff00'0000'0000'0004ULL;
inline constexpr std::uint64_t kV4Network = 0xff00'0000'0000'0024ULL;
inline constexpr std::uint64_t kV6Network = 1;  // lo of a /48 key; a /64 key has lo 0
}  // namespace source_key_detail

inline SourceKey subscriber_key(const IpAddress& a) {
  using namespace source_key_detail;
  if (a.is_v4()) return {kV4Subscriber, a.v4_host_order()};
  return {load_be64(a.data()), 0};
}

inline SourceKey network_key(const IpAddress& a) {
  using namespace source_key_detail;
  if (a.is_v4()) return {kV4Network, a.v4_host_order() >> 8};
  return {load_be64(a.data()) & 0xffff'ffff'ffff'0000ULL, kV6Network};
}

// Keyed with a secret seed, so that nobody can aim many sources at one
// hash-table set.
inline std::uint64_t key_hash(const SourceKey& k, std::uint64_t seed) {
  return splitmix64(splitmix64(seed ^ k.hi) ^ k.lo);
}

// For hash maps keyed by sources: construct it with a secret seed (the
// servers' hash_seed), or an attacker could pile its keys into one bucket.
struct SourceKeyHash {
  std::uint64_t seed = 0;
  std::size_t operator()(const SourceKey& k) const noexcept { return static_cast<std::size_t>(key_hash(k, seed)); }
};

}  // namespace natpunch

#pragma once
// Addresses and builders shared by the NAT table tests. Lab address plan:
// subscribers in 100.64.0.0/10, the NAT and remotes in the documentation
// ranges.
#include <utility>

#include "core/endpoint.hpp"
#include "core/rng.hpp"
#include "nat/nat_table.hpp"

namespace natpunch::nat::test {

inline const IpAddress kPublic = IpAddress::v4({198, 51, 100, 1});
inline const IpAddress kPublic2 = IpAddress::v4({198, 51, 100, 2});
inline const Endpoint kHost{IpAddress::v4({100, 64, 0, 2}), 5000};
inline const Endpoint kHost2{IpAddress::v4({100, 64, 0, 3}), 5000};
inline const Endpoint kRemoteA{IpAddress::v4({203, 0, 113, 10}), 3478};
inline const Endpoint kRemoteASamePortOtherPort{IpAddress::v4({203, 0, 113, 10}), 3479};
inline const Endpoint kRemoteB{IpAddress::v4({203, 0, 113, 20}), 3478};
inline constexpr std::size_t kSmall = 100;  // payload bytes of an ordinary probe

inline NatConfig config_of(MappingBehavior mapping, FilteringBehavior filtering) {
  NatConfig config;
  config.mapping = mapping;
  config.filtering = filtering;
  config.allocator = SequentialSpec{};
  config.public_addresses = {kPublic};
  return config;
}

inline NatTable make_nat(NatConfig config, std::uint64_t seed = 1) {
  Rng rng(seed);
  auto nat = NatTable::create(std::move(config), rng);
  return std::move(nat).value();
}

// The external endpoint of an outbound packet that must not be dropped.
inline Endpoint send(NatTable& nat, TimePoint now, const Endpoint& from, const Endpoint& to) {
  auto out = nat.outbound(now, from, to, kSmall);
  if (!out) return Endpoint{};
  return out->source;
}

}  // namespace natpunch::nat::test

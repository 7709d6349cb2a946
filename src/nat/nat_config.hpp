#pragma once
// What a NAT is (DESIGN.md "NAT model"): mapping and filtering behaviour,
// port allocator, the two mapping timeouts, per-subscriber capacity,
// hairpinning, the largest payload it carries, and its public addresses.
// Plain data: built by hand, from a carrier profile, or by the simulator.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "core/endpoint.hpp"
#include "core/time.hpp"
#include "nat/allocator_spec.hpp"
#include "nat/nat_behavior.hpp"

namespace natpunch::nat {

struct NatConfig {
  // Endpoint-independent, address-dependent or address-and-port-dependent
  // (None and Unknown are not NATs this model builds).
  MappingBehavior mapping = MappingBehavior::AddressAndPortDependent;
  // Endpoint-independent, address-dependent or address-and-port-dependent.
  FilteringBehavior filtering = FilteringBehavior::AddressAndPortDependent;
  AllocatorSpec allocator = RandomFullySpec{};

  // How long a mapping (or filter entry) lives after its last packet:
  // `pending_timeout` until an inbound packet has passed through it,
  // `established_timeout` from then on (Table IV's left and right halves).
  // An entry idle for exactly the timeout is still alive; one tick later it
  // is gone, so a NAT built from Table IV's lower bound LB reproduces the
  // thesis's measurement (a reply after LB seconds arrives, after LB + 1
  // it does not). The defaults are RFC 4787 REQ-5's two-minute floor.
  Duration pending_timeout = seconds(120);
  Duration established_timeout = seconds(120);

  // Concurrent mappings one internal host may hold (RFC 6888 REQ-4 port
  // quota); new flows beyond it are dropped. nullopt: only the port space limits.
  std::optional<std::size_t> max_mappings_per_subscriber;
  // RFC 4787 REQ-9 hairpinning: inside hosts reach each other through their
  // external endpoints.
  bool hairpinning = false;
  // Largest UDP payload in bytes carried in either direction; larger
  // datagrams are dropped. Table V's "MTU" column is exactly this number
  // (the ping payload that still passed: 1472 for a 1500-byte IPv4 MTU).
  // nullopt: no limit.
  std::optional<std::size_t> max_payload;
  // At least one. A subscriber keeps one public address for all its
  // mappings (RFC 4787 REQ-2 "paired" pooling); new subscribers are spread
  // over the addresses in turn.
  std::vector<IpAddress> public_addresses;
};

struct NatConfigError {
  std::string field;  // e.g. "pending_timeout", "allocator.block_size"
  std::string message;
};

// nullopt when a NatTable can be built from `config`.
std::optional<NatConfigError> validate(const NatConfig& config);

}  // namespace natpunch::nat

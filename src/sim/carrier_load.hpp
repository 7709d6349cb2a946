#pragma once
// What Tables II-V do not say about a carrier's NAT but a real one has:
// other subscribers sharing it and a per-subscriber quota. The carrier
// presets leave both at "none" (the thesis measured neither); the matrix
// applies these to every carrier it runs, so a table states its conditions.
//
// - Background subscribers (block carriers: KPN, Lebara). Section VI-A 1-2:
//   the phone was often moved to a new block before using up its own, and
//   at peak hours got shorter runs of consecutive ports: other subscribers
//   hold blocks too. Each background subscriber holds one whole block for
//   `background_hold` and then takes another random free block
//   (nat::BlockSpec). A block carrier has (65536 - 1024) / 256 = 252 blocks
//   per public address, so 252 background subscribers fill it.
// - A per-subscriber mapping quota (RFC 6888 REQ-4; nat::NatConfig::
//   max_mappings_per_subscriber): new flows beyond it are dropped until old
//   mappings time out. It only bites where a probe makes a new mapping
//   (endpoint-dependent mapping, or one socket per probe); Algorithm 1's
//   single socket behind an endpoint-independent NAT holds one mapping.
#include <cstdint>
#include <optional>

#include "core/time.hpp"
#include "nat/nat_config.hpp"

namespace natpunch::sim {

struct CarrierLoad {
  // Other subscribers holding blocks of a block carrier's NAT (0: the phone
  // is alone, the presets' default). Ignored for other allocators.
  std::uint32_t block_background_subscribers = 0;
  // How long a background subscriber keeps a block; nullopt: the carrier's
  // pending timeout (a block returns once its mappings have timed out).
  std::optional<Duration> background_hold;
  // Concurrent mappings per subscriber; nullopt: only the port space limits.
  std::optional<std::size_t> max_mappings_per_subscriber;

  bool none() const { return block_background_subscribers == 0 && !max_mappings_per_subscriber; }
};

// `config` with `load` applied. Only fields `load` sets are changed.
nat::NatConfig with_load(nat::NatConfig config, const CarrierLoad& load);

}  // namespace natpunch::sim

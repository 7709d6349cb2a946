#pragma once
// How a NAT chooses the external port of a new mapping. Each public address
// of a NAT has its own allocator, so one allocator sees one 16-bit port space.
//
// Contract (the NAT relies on it and the tests check it):
// - allocate() never returns a port it has handed out and not had back
//   through release(): a port that is still mapped is never mapped twice.
// - When no port fits, allocate() returns nullopt; it never loops unbounded.
// - Randomness comes only from the Rng passed in; time only from `now`.
#include <cstdint>
#include <optional>

#include "core/rng.hpp"
#include "core/time.hpp"

namespace natpunch::nat {

struct PortRequest {
  // Dense number of the internal host (0, 1, 2, ... in order of first
  // appearance). Allocators that give each subscriber its own state (port
  // blocks) key on it; the others ignore it.
  std::uint32_t subscriber = 0;
  // The internal source port, for port preservation.
  std::uint16_t internal_port = 0;
};

class PortAllocator {
 public:
  virtual ~PortAllocator() = default;

  // Picks a free port by this allocator's rule and marks it in use.
  virtual std::optional<std::uint16_t> allocate(TimePoint now, const PortRequest& request, Rng& rng) = 0;
  // The mapping that held `port` is gone; the port may be handed out again.
  // Releasing a port that is not in use is a no-op.
  virtual void release(TimePoint now, std::uint16_t port) = 0;
  virtual bool in_use(std::uint16_t port) const = 0;
};

}  // namespace natpunch::nat

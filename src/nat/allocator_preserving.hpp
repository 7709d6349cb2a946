#pragma once
// Port preservation (RFC 4787 §4.2.1): the external port equals the internal
// one when that port is free, as many home routers and Linux masquerade do.
#include "nat/allocator_spec.hpp"
#include "nat/port_set.hpp"

namespace natpunch::nat {

class PreservingAllocator final : public PortAllocator {
 public:
  explicit PreservingAllocator(const PreservingSpec& spec) : range_{spec.min, spec.max} {}

  // The internal port if it lies in [min, max] and is free; otherwise the
  // next free port above it, wrapping within the range. Deterministic: the
  // Rng is not used.
  std::optional<std::uint16_t> allocate(TimePoint now, const PortRequest& request, Rng& rng) override;
  void release(TimePoint, std::uint16_t port) override { used_.erase(port); }
  bool in_use(std::uint16_t port) const override { return used_.contains(port); }

 private:
  PortRange range_;
  PortSet used_;
};

}  // namespace natpunch::nat

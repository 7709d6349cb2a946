#pragma once
// Uniform random allocation over the free ports of [min, max]: LycaMobile NL
// draws from [2048, 65535] (Table II), random-fully NATs from 1024..65535.
#include "nat/allocator_spec.hpp"
#include "nat/port_set.hpp"

namespace natpunch::nat {

class UniformAllocator final : public PortAllocator {
 public:
  explicit UniformAllocator(const UniformSpec& spec) : range_{spec.min, spec.max} {}
  explicit UniformAllocator(const RandomFullySpec&) : range_{kFirstUsablePort, kLastPort} {}

  // Every free port of the range is equally likely, however full it is.
  std::optional<std::uint16_t> allocate(TimePoint now, const PortRequest& request, Rng& rng) override;
  void release(TimePoint, std::uint16_t port) override { used_.erase(port); }
  bool in_use(std::uint16_t port) const override { return used_.contains(port); }

 private:
  PortRange range_;
  PortSet used_;
};

}  // namespace natpunch::nat

#pragma once
// Sequential allocation: each new mapping gets the next free port after the
// previous one, wrapping within [min, max]. Simple NATs and some CGNAT
// configurations do this; it makes the next port trivially predictable.
#include "nat/allocator_spec.hpp"
#include "nat/port_set.hpp"

namespace natpunch::nat {

class SequentialAllocator final : public PortAllocator {
 public:
  explicit SequentialAllocator(const SequentialSpec& spec) : range_{spec.min, spec.max}, next_(spec.min) {}

  // Deterministic: the Rng is not used.
  std::optional<std::uint16_t> allocate(TimePoint now, const PortRequest& request, Rng& rng) override;
  void release(TimePoint, std::uint16_t port) override { used_.erase(port); }
  bool in_use(std::uint16_t port) const override { return used_.contains(port); }

 private:
  PortRange range_;
  std::uint16_t next_;  // where the search for the next port starts
  PortSet used_;
};

}  // namespace natpunch::nat

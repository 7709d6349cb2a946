#pragma once
// Trace replay (TraceSpec): the NAT hands out the external ports a real
// carrier handed out, in the order it did (the joined log of a mapping
// collection), starting at an offset drawn from the NAT's seeded Rng on the
// first allocation and looping at the end. A port of the trace that is
// still in use is skipped (the contract: never two mappings on one port),
// so a replay is exact only while the trace's ports have been released;
// when every port of the trace is in use, allocation fails.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "nat/allocator_spec.hpp"
#include "nat/port_set.hpp"

namespace natpunch::nat {

class TraceAllocator final : public PortAllocator {
 public:
  explicit TraceAllocator(const TraceSpec& spec);

  std::optional<std::uint16_t> allocate(TimePoint now, const PortRequest& request, Rng& rng) override;
  void release(TimePoint now, std::uint16_t port) override;
  bool in_use(std::uint16_t port) const override { return used_.contains(port); }

  // Where the next allocation reads the trace (after the first one).
  std::size_t position() const { return position_; }

 private:
  TraceSpec spec_;
  std::size_t position_ = 0;
  bool started_ = false;
  PortSet used_;
};

}  // namespace natpunch::nat

#include "nat/allocator_sequential.hpp"

namespace natpunch::nat {

std::optional<std::uint16_t> SequentialAllocator::allocate(TimePoint, const PortRequest&, Rng&) {
  auto port = used_.next_free(range_, next_);
  if (!port) return std::nullopt;
  used_.insert(*port);
  next_ = *port == range_.max ? range_.min : static_cast<std::uint16_t>(*port + 1);
  return port;
}

}  // namespace natpunch::nat

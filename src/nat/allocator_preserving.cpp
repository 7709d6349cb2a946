#include "nat/allocator_preserving.hpp"

namespace natpunch::nat {

std::optional<std::uint16_t> PreservingAllocator::allocate(TimePoint, const PortRequest& request, Rng&) {
  // An internal port below the range falls back to the bottom of the range;
  // one above it wraps there too (next_free starts at min for out-of-range).
  auto port = used_.next_free(range_, request.internal_port);
  if (port) used_.insert(*port);
  return port;
}

}  // namespace natpunch::nat

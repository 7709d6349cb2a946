#include "nat/allocator_uniform.hpp"

namespace natpunch::nat {
namespace {

// Redrawing is the cheap path while the range is mostly free; past this many
// misses the range is crowded, and picking the k-th free port costs a bounded
// scan of at most 1024 words instead.
constexpr int kRedraws = 16;

}  // namespace

std::optional<std::uint16_t> UniformAllocator::allocate(TimePoint, const PortRequest&, Rng& rng) {
  const std::size_t free = range_.size() - used_.size();
  if (free == 0) return std::nullopt;
  std::optional<std::uint16_t> port;
  for (int attempt = 0; attempt < kRedraws && !port; ++attempt) {
    const auto candidate = static_cast<std::uint16_t>(rng.uniform(range_.min, range_.max));
    if (!used_.contains(candidate)) port = candidate;
  }
  // Both paths draw uniformly from the free ports, so the distribution does
  // not change when the range fills up.
  if (!port) port = used_.nth_free(range_, rng.uniform(0, free - 1));
  if (port) used_.insert(*port);
  return port;
}

}  // namespace natpunch::nat

#include "nat/allocator_trace.hpp"

namespace natpunch::nat {

TraceAllocator::TraceAllocator(const TraceSpec& spec) : spec_(spec) {}

std::optional<std::uint16_t> TraceAllocator::allocate(TimePoint, const PortRequest&, Rng& rng) {
  const auto& ports = *spec_.ports;
  if (ports.empty()) return std::nullopt;
  if (!started_) {
    started_ = true;
    position_ = static_cast<std::size_t>(rng.uniform(0, ports.size() - 1));
  }
  for (std::size_t tried = 0; tried < ports.size(); ++tried) {
    const std::uint16_t port = ports[position_];
    position_ = position_ + 1 == ports.size() ? 0 : position_ + 1;
    if (!used_.contains(port)) {
      used_.insert(port);
      return port;
    }
  }
  return std::nullopt;
}

void TraceAllocator::release(TimePoint, std::uint16_t port) { used_.erase(port); }

}  // namespace natpunch::nat

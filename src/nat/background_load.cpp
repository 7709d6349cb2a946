#include "nat/background_load.hpp"

#include <algorithm>

namespace natpunch::nat {

BackgroundLoad::BackgroundLoad(BackgroundLoadConfig config, NatTable& table, std::uint64_t seed)
    : config_(config), table_(table), rng_(seed),
      interval_(std::max(Duration{1}, std::chrono::duration_cast<Duration>(
                                          std::chrono::duration<double>(1.0 / std::max(config.rate, 1e-9))))) {}

IpAddress BackgroundLoad::subscriber_address(std::uint32_t index) {
  return IpAddress::v4((std::uint32_t{100} << 24) | (std::uint32_t{127} << 16) | (index + 1));
}

void BackgroundLoad::run_until(TimePoint now) {
  if (config_.subscribers == 0) return;
  if (!next_) next_ = now;
  // After a stall, catch up at most kMaxBurst mappings and drop the rest.
  if (now - *next_ > interval_ * static_cast<Duration::rep>(kMaxBurst))
    *next_ = now - interval_ * static_cast<Duration::rep>(kMaxBurst);
  const IpAddress remote_address = IpAddress::v4({198, 51, 100, 250});
  while (*next_ <= now) {
    const auto subscriber = static_cast<std::uint32_t>(rng_.uniform(0, config_.subscribers - 1));
    const Endpoint internal{subscriber_address(subscriber), static_cast<std::uint16_t>(rng_.uniform(1024, 65535))};
    const Endpoint remote{remote_address, static_cast<std::uint16_t>(rng_.uniform(1024, 65535))};
    if (table_.outbound(*next_, internal, remote, 0))
      ++counters_.opened;
    else
      ++counters_.refused;
    *next_ += interval_;
  }
}

}  // namespace natpunch::nat

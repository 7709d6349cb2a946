#include "punch/port_chooser_beta.hpp"

#include <algorithm>
#include <cmath>

namespace natpunch::punch {

BetaPortChooser::BetaPortChooser(const nat::BetaSpec& spec) : rest_(nat::kFirstUsablePort, nat::kLastPort, Repeats::Never) {
  const double lo = std::clamp(std::floor(spec.loc), double{nat::kFirstUsablePort}, double{nat::kLastPort});
  const double hi = std::clamp(std::ceil(spec.loc + spec.scale) - 1, lo, double{nat::kLastPort});
  support_min_ = static_cast<std::uint16_t>(lo);
  support_max_ = static_cast<std::uint16_t>(hi);
  std::vector<std::pair<double, std::uint16_t>> ranked;
  ranked.reserve(std::size_t(support_max_ - support_min_) + 1);
  for (std::uint32_t port = support_min_; port <= support_max_; ++port) {
    // The log density at the port's midpoint ranks ports as their mass does
    // (a port's slice is 1/scale wide everywhere); the normalising constant
    // does not change the order.
    const double x = std::clamp((double(port) + 0.5 - spec.loc) / spec.scale, 1e-12, 1 - 1e-12);
    const double log_density = (spec.alpha - 1) * std::log(x) + (spec.beta - 1) * std::log1p(-x);
    ranked.emplace_back(-log_density, static_cast<std::uint16_t>(port));
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  order_.reserve(ranked.size());
  for (const auto& [score, port] : ranked) order_.push_back(port);
}

std::optional<std::uint16_t> BetaPortChooser::next(Rng& rng) {
  if (index_ < order_.size()) return order_[index_++];
  while (auto port = rest_.next(rng))
    if (*port < support_min_ || *port > support_max_) return port;
  return std::nullopt;
}

}  // namespace natpunch::punch

#include "punch/port_chooser_beta.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <utility>

namespace natpunch::punch {

namespace {

std::pair<std::uint16_t, std::uint16_t> support(const nat::BetaSpec& spec) {
  const double lo = std::clamp(std::floor(spec.loc), double{nat::kFirstUsablePort}, double{nat::kLastPort});
  const double hi = std::clamp(std::ceil(spec.loc + spec.scale) - 1, lo, double{nat::kLastPort});
  return {static_cast<std::uint16_t>(lo), static_cast<std::uint16_t>(hi)};
}

}  // namespace

BetaPortChooser::BetaPortChooser(const nat::BetaSpec& spec) : BetaPortChooser(spec, densest_first_order(spec)) {}

BetaPortChooser::BetaPortChooser(const nat::BetaSpec& spec, std::shared_ptr<const std::vector<std::uint16_t>> order)
    : order_(std::move(order)), rest_(nat::kFirstUsablePort, nat::kLastPort, Repeats::Never) {
  if (!order_) order_ = densest_first_order(spec);
  std::tie(support_min_, support_max_) = support(spec);
}

std::shared_ptr<const std::vector<std::uint16_t>> BetaPortChooser::densest_first_order(const nat::BetaSpec& spec) {
  const auto [support_min, support_max] = support(spec);
  std::vector<std::pair<double, std::uint16_t>> ranked;
  ranked.reserve(std::size_t(support_max - support_min) + 1);
  for (std::uint32_t port = support_min; port <= support_max; ++port) {
    // The log density at the port's midpoint ranks ports as their mass does
    // (a port's slice is 1/scale wide everywhere); the normalising constant
    // does not change the order.
    const double x = std::clamp((double(port) + 0.5 - spec.loc) / spec.scale, 1e-12, 1 - 1e-12);
    const double log_density = (spec.alpha - 1) * std::log(x) + (spec.beta - 1) * std::log1p(-x);
    ranked.emplace_back(-log_density, static_cast<std::uint16_t>(port));
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  auto order = std::make_shared<std::vector<std::uint16_t>>();
  order->reserve(ranked.size());
  for (const auto& [score, port] : ranked) order->push_back(port);
  return order;
}

std::optional<std::uint16_t> BetaPortChooser::next(Rng& rng) {
  if (index_ < order_->size()) return (*order_)[index_++];
  while (auto port = rest_.next(rng))
    if (*port < support_min_ || *port > support_max_) return port;
  return std::nullopt;
}

}  // namespace natpunch::punch

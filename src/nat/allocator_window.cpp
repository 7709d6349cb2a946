#include "nat/allocator_window.hpp"

#include <algorithm>
#include <cmath>

namespace natpunch::nat {
namespace {

// A few draws find a free port (or a window with one) while the range is
// mostly free; past that a scan gives an exact answer in bounded time.
constexpr int kRedraws = 16;

}  // namespace

PortRange placement_range(const WindowSpec& spec) {
  if (const auto* uniform = std::get_if<UniformSpec>(&spec.placement)) return {uniform->min, uniform->max};
  const auto& beta = std::get<BetaSpec>(spec.placement);
  const double lo = std::clamp(std::floor(beta.loc), 1.0, 65535.0);
  const double hi = std::clamp(std::ceil(beta.loc + beta.scale) - 1, lo, 65535.0);
  return {static_cast<std::uint16_t>(lo), static_cast<std::uint16_t>(hi)};
}

WindowRun whole_windows(const WindowSpec& spec) {
  if (spec.size == 0 || spec.offset >= spec.size) return {};
  const PortRange range = placement_range(spec);
  // The first port >= range.min that is offset modulo size.
  const std::uint32_t lo = range.min;
  const std::uint32_t shift = (spec.offset + spec.size - lo % spec.size) % spec.size;
  const std::uint32_t first = lo + shift;
  if (first + spec.size - 1 > range.max) return {first, 0};
  return {first, (std::uint32_t{range.max} + 1 - first) / spec.size};
}

WindowAllocator::WindowAllocator(const WindowSpec& spec) : spec_(spec) {
  const WindowRun run = whole_windows(spec);
  first_start_ = run.first_start;
  windows_ = run.count;
  used_in_window_.assign(windows_, 0);
  if (const auto* beta = std::get_if<BetaSpec>(&spec.placement)) {
    gamma_alpha_.emplace(beta->alpha, 1.0);
    gamma_beta_.emplace(beta->beta, 1.0);
  }
}

PortRange WindowAllocator::window_at(std::uint32_t window) const {
  const std::uint32_t start = first_start_ + window * spec_.size;
  return {static_cast<std::uint16_t>(start), static_cast<std::uint16_t>(start + spec_.size - 1)};
}

std::optional<std::uint32_t> WindowAllocator::window_of(std::uint16_t port) const {
  if (port < first_start_) return std::nullopt;
  const std::uint32_t window = (port - first_start_) / spec_.size;
  if (window >= windows_) return std::nullopt;
  return window;
}

// One draw of the placement law; nullopt when it lands outside every whole window.
std::optional<std::uint32_t> WindowAllocator::placed_window(Rng& rng) {
  if (!gamma_alpha_) return static_cast<std::uint32_t>(rng.uniform(0, windows_ - 1));
  const auto& beta = std::get<BetaSpec>(spec_.placement);
  const double ga = (*gamma_alpha_)(rng.engine());
  const double gb = (*gamma_beta_)(rng.engine());
  if (!(ga + gb > 0)) return std::nullopt;
  const double port = std::floor(beta.loc + beta.scale * (ga / (ga + gb)));
  if (port < 0 || port > 65535) return std::nullopt;
  return window_of(static_cast<std::uint16_t>(port));
}

std::optional<std::uint32_t> WindowAllocator::draw_window(Rng& rng) {
  for (int attempt = 0; attempt < kRedraws; ++attempt)
    if (auto window = placed_window(rng); window && used_in_window_[*window] < spec_.size) return window;
  // Crowded, or a law with little mass on whole windows: any window with a
  // free port, uniformly.
  std::vector<std::uint32_t> open;
  for (std::uint32_t w = 0; w < windows_; ++w)
    if (used_in_window_[w] < spec_.size) open.push_back(w);
  if (open.empty()) return std::nullopt;
  return open[rng.uniform(0, open.size() - 1)];
}

std::optional<std::uint16_t> WindowAllocator::take_in(Holding& holding, Rng& rng) {
  const PortRange range = window_at(holding.window);
  std::optional<std::uint16_t> port;
  if (spec_.order == WindowOrder::InOrder) {
    port = used_.next_free(range, static_cast<std::uint16_t>(range.min + holding.next_offset));
    if (port) holding.next_offset = (*port - range.min + 1) % spec_.size;
  } else {
    for (int attempt = 0; attempt < kRedraws && !port; ++attempt) {
      const auto candidate = static_cast<std::uint16_t>(rng.uniform(range.min, range.max));
      if (!used_.contains(candidate)) port = candidate;
    }
    if (!port) port = used_.nth_free(range, rng.uniform(0, spec_.size - used_in_window_[holding.window] - 1));
  }
  return port;
}

std::optional<std::uint16_t> WindowAllocator::allocate(TimePoint now, const PortRequest& request, Rng& rng) {
  if (windows_ == 0) return std::nullopt;
  if (request.subscriber >= holdings_.size()) holdings_.resize(std::size_t{request.subscriber} + 1);
  Holding& holding = holdings_[request.subscriber];
  bool stay = holding.window != kNoWindow && used_in_window_[holding.window] < spec_.size;
  if (stay && spec_.hold && now - holding.entered >= *spec_.hold) stay = false;
  if (stay && spec_.mappings && holding.mappings >= *spec_.mappings) stay = false;
  if (!stay) {
    const auto window = draw_window(rng);
    if (!window) return std::nullopt;
    holding = Holding{*window, now, 0, 0};
  }
  const auto port = take_in(holding, rng);
  if (!port) return std::nullopt;  // cannot happen: the window had a free port
  used_.insert(*port);
  ++used_in_window_[holding.window];
  ++holding.mappings;
  return port;
}

void WindowAllocator::release(TimePoint, std::uint16_t port) {
  if (!used_.contains(port)) return;
  used_.erase(port);
  if (auto window = window_of(port)) --used_in_window_[*window];
}

}  // namespace natpunch::nat

#include "punch/prediction_replay.hpp"

#include <algorithm>
#include <atomic>
#include <thread>
#include <type_traits>

#include "core/rng.hpp"
#include "nat/allocator_window.hpp"
#include "punch/port_chooser_beta.hpp"
#include "punch/port_chooser_block.hpp"
#include "punch/port_chooser_factory.hpp"
#include "punch/port_chooser_uniform.hpp"

namespace natpunch::punch {

namespace {

// The ports the allocator hands out, as far as the profile says.
std::pair<std::uint16_t, std::uint16_t> range_of(const nat::AllocatorSpec& allocator) {
  return std::visit(
      [](const auto& s) -> std::pair<std::uint16_t, std::uint16_t> {
        using S = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<S, nat::WindowSpec>) {
          const nat::PortRange range = nat::placement_range(s);
          return {range.min, range.max};
        } else if constexpr (std::is_same_v<S, nat::BetaSpec>) {
          nat::WindowSpec as_placement;
          as_placement.placement = s;
          const nat::PortRange range = nat::placement_range(as_placement);
          return {range.min, range.max};
        } else if constexpr (requires { s.min; s.max; }) {
          return {s.min, s.max};
        } else {
          return {nat::kFirstUsablePort, nat::kLastPort};
        }
      },
      allocator);
}

std::optional<nat::BetaSpec> beta_of(const nat::AllocatorSpec& allocator) {
  if (const auto* beta = std::get_if<nat::BetaSpec>(&allocator)) return *beta;
  if (const auto* window = std::get_if<nat::WindowSpec>(&allocator))
    if (const auto* beta = std::get_if<nat::BetaSpec>(&window->placement)) return *beta;
  return std::nullopt;
}

}  // namespace

double ReplayCurve::hit_rate(std::size_t budget) const {
  if (predictions == 0 || budget == 0 || hits.empty()) return 0;
  return static_cast<double>(hits[std::min(budget, hits.size()) - 1]) / static_cast<double>(predictions);
}

std::vector<ReplayCurve> replay_predictions(std::span<const std::vector<std::uint16_t>> runs,
                                            std::span<const ReplayChooser> choosers, std::size_t max_budget,
                                            std::uint64_t seed) {
  std::vector<ReplayCurve> curves(choosers.size());
  const auto replay_one = [&](std::size_t c) {
    // Each chooser its own stream: the figures do not depend on which
    // others run, nor on the threads.
    Rng rng(seed + 0x9e3779b97f4a7c15ULL * (c + 1));
    ReplayCurve curve{choosers[c].name, 0, std::vector<std::uint64_t>(max_budget, 0)};
    std::vector<std::uint64_t> first_hit_at(max_budget, 0);
    for (const auto& run : runs)
      for (std::size_t i = 1; i < run.size(); ++i) {
        ++curve.predictions;
        auto chooser = choosers[c].make(std::span(run).first(i));
        for (std::size_t rank = 0; rank < max_budget; ++rank) {
          const auto port = chooser->next(rng);
          if (!port) break;
          if (*port == run[i]) {
            ++first_hit_at[rank];
            break;
          }
        }
      }
    std::uint64_t total = 0;
    for (std::size_t n = 0; n < max_budget; ++n) curve.hits[n] = total += first_hit_at[n];
    curves[c] = std::move(curve);
  };
  // The choosers are independent: one thread each, as many at once as
  // there are cores.
  const std::size_t threads = std::max(1U, std::thread::hardware_concurrency());
  std::atomic<std::size_t> next{0};
  const auto worker = [&] {
    for (std::size_t c = next++; c < choosers.size(); c = next++) replay_one(c);
  };
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < std::min(threads, choosers.size()); ++t) pool.emplace_back(worker);
  worker();
  for (auto& thread : pool) thread.join();
  return curves;
}

ReplayChooser profile_chooser(const nat::AllocatorSpec& allocator) {
  PeerPortKnowledge peer;
  peer.allocator = allocator;
  // The next mapping's port, not an attack's dynamics: no mapping
  // behaviour, so the carrier order is the allocator's own.
  peer.mapping = nat::MappingBehavior::Unknown;
  auto model = std::make_shared<const PeerPortModel>(peer);
  return ReplayChooser{"profile", [model](std::span<const std::uint16_t> history) { return model->make(history.back()); }};
}

std::vector<ReplayChooser> plain_choosers(const nat::AllocatorSpec& allocator) {
  std::vector<ReplayChooser> choosers;
  // Named copies, not a structured binding: lambdas capture them (clang 14
  // cannot capture bindings).
  const auto range = range_of(allocator);
  const std::uint16_t lo = range.first, hi = range.second;
  choosers.push_back({"uniform", [lo, hi](std::span<const std::uint16_t>) {
                        return std::make_unique<UniformPortChooser>(lo, hi, Repeats::Never);
                      }});
  if (const auto beta = beta_of(allocator)) {
    auto order = BetaPortChooser::densest_first_order(*beta);
    choosers.push_back({"beta-densest", [spec = *beta, order](std::span<const std::uint16_t>) {
                          return std::make_unique<BetaPortChooser>(spec, order);
                        }});
  }
  std::uint32_t size = 256, offset = 0;
  if (const auto* block = std::get_if<nat::BlockSpec>(&allocator)) size = block->block_size;
  if (const auto* window = std::get_if<nat::WindowSpec>(&allocator)) {
    size = window->size;
    offset = window->offset;
  }
  choosers.push_back({"block-starts", [size, offset, lo, hi](std::span<const std::uint16_t>) {
                        return std::make_unique<BlockPortChooser>(size, lo, hi, offset);
                      }});
  return choosers;
}

}  // namespace natpunch::punch

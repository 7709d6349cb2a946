#include "nat/allocator_spec.hpp"

#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <type_traits>

#include "nat/allocator_beta.hpp"
#include "nat/allocator_block.hpp"
#include "nat/allocator_preserving.hpp"
#include "nat/allocator_sequential.hpp"
#include "nat/allocator_trace.hpp"
#include "nat/allocator_uniform.hpp"
#include "nat/allocator_window.hpp"

namespace natpunch::nat {
namespace {

template <class Spec>
std::optional<AllocatorSpecError> validate_range(const Spec& spec) {
  if (spec.min == 0) return AllocatorSpecError{"min", "must be a port between 1 and 65535"};
  if (spec.min > spec.max) return AllocatorSpecError{"min", "must not exceed max"};
  return std::nullopt;
}

std::optional<AllocatorSpecError> validate_block(const BlockSpec& spec) {
  if (spec.block_size < 2 || spec.block_size > 32768 || !std::has_single_bit(spec.block_size))
    return AllocatorSpecError{"block_size", "must be a power of two between 2 and 32768"};
  if (auto error = validate_range(spec)) return error;
  const std::uint32_t first = (std::uint32_t{spec.min} + spec.block_size - 1) / spec.block_size;
  const std::uint32_t end = (std::uint32_t{spec.max} + 1) / spec.block_size;
  if (end <= first) return AllocatorSpecError{"max", "the range [min, max] holds no whole block of block_size ports"};
  if (spec.background_subscribers > 0 && spec.background_hold <= Duration::zero())
    return AllocatorSpecError{"background_hold", "must be positive when there are background subscribers"};
  return std::nullopt;
}

std::optional<AllocatorSpecError> validate_beta(const BetaSpec& spec) {
  if (!std::isfinite(spec.alpha) || spec.alpha <= 0) return AllocatorSpecError{"alpha", "must be a positive number"};
  if (!std::isfinite(spec.beta) || spec.beta <= 0) return AllocatorSpecError{"beta", "must be a positive number"};
  if (!std::isfinite(spec.loc) || spec.loc < 1 || spec.loc > 65535)
    return AllocatorSpecError{"loc", "must be a port number between 1 and 65535"};
  if (!std::isfinite(spec.scale) || spec.scale < 1 || spec.loc + spec.scale > 65536)
    return AllocatorSpecError{"scale", "must be at least 1, with loc + scale at most 65536"};
  return std::nullopt;
}

std::optional<AllocatorSpecError> validate_window(const WindowSpec& spec) {
  const auto placement = std::visit(
      [](const auto& p) -> std::optional<AllocatorSpecError> {
        using P = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<P, BetaSpec>) return validate_beta(p);
        else return validate_range(p);
      },
      spec.placement);
  if (placement) return placement;
  if (spec.size < 2 || spec.size > 32768)
    return AllocatorSpecError{"locality.window", "must be between 2 and 32768 ports"};
  if (spec.offset >= spec.size) return AllocatorSpecError{"locality.offset", "must be below locality.window"};
  if (spec.hold.has_value() == spec.mappings.has_value())
    return AllocatorSpecError{"locality", "needs exactly one of hold_s (a stay's time) and mappings (its length)"};
  constexpr Duration kLongest = seconds(10'000'000);
  if (spec.hold && (*spec.hold <= Duration::zero() || *spec.hold > kLongest))
    return AllocatorSpecError{"locality.hold_s", "must be a positive number of seconds (at most 10^7)"};
  if (spec.mappings && *spec.mappings == 0) return AllocatorSpecError{"locality.mappings", "must be at least 1"};
  if (whole_windows(spec).count == 0) {
    const PortRange range = placement_range(spec);
    return AllocatorSpecError{"locality.window",
                              "no whole window of " + std::to_string(spec.size) + " ports at offset " +
                                  std::to_string(spec.offset) + " fits in the placement's ports " +
                                  std::to_string(range.min) + "-" + std::to_string(range.max)};
  }
  return std::nullopt;
}

std::optional<AllocatorSpecError> validate_trace(const TraceSpec& spec) {
  if (!spec.ports) return AllocatorSpecError{"ports", "the trace file " + spec.source + " was not read"};
  const std::size_t count = spec.ports->size();
  if (count < kMinTracePorts)
    return AllocatorSpecError{"ports", "a trace needs at least " + std::to_string(kMinTracePorts) + " ports (" +
                                           (spec.source.empty() ? std::string("it") : spec.source) + " has " +
                                           std::to_string(count) + ")"};
  for (const std::uint16_t port : *spec.ports)  // a hand-built spec; files are checked when read
    if (port == 0) return AllocatorSpecError{"ports", "port 0 is no external port"};
  return std::nullopt;
}

}  // namespace

std::string_view to_string(WindowOrder order) { return order == WindowOrder::Random ? "random" : "in_order"; }

std::string_view kind_name(const AllocatorSpec& spec) {
  return std::visit(
      [](const auto& s) -> std::string_view {
        using S = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<S, PreservingSpec>) return "preserving";
        else if constexpr (std::is_same_v<S, SequentialSpec>) return "sequential";
        else if constexpr (std::is_same_v<S, UniformSpec>) return "uniform";
        else if constexpr (std::is_same_v<S, RandomFullySpec>) return "random";
        else if constexpr (std::is_same_v<S, BlockSpec>) return "block";
        else if constexpr (std::is_same_v<S, WindowSpec>) return "window";
        else if constexpr (std::is_same_v<S, TraceSpec>) return "trace";
        else return "beta";
      },
      spec);
}

std::string details(const AllocatorSpec& spec) {
  std::string text;
  if (const auto* window = std::get_if<WindowSpec>(&spec)) {
    char hold[32] = "";
    if (window->hold) std::snprintf(hold, sizeof hold, "held %.1f s", std::chrono::duration<double>(*window->hold).count());
    text += " (" + std::to_string(window->size) + " at offset " + std::to_string(window->offset) + ", " +
            (window->order == WindowOrder::Random ? "random order, " : "in order, ") +
            (window->hold ? std::string(hold) : std::to_string(window->mappings.value_or(0)) + " mappings a stay") + ", " +
            (std::holds_alternative<BetaSpec>(window->placement) ? "Beta" : "uniform") + " placement)";
  } else if (const auto* trace = std::get_if<TraceSpec>(&spec)) {
    text += " (" + std::to_string(trace->ports ? trace->ports->size() : 0) + " from " + trace->source + ")";
  }
  return text;
}

std::optional<AllocatorSpecError> validate(const AllocatorSpec& spec) {
  return std::visit(
      [](const auto& s) -> std::optional<AllocatorSpecError> {
        using S = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<S, RandomFullySpec>) return std::nullopt;
        else if constexpr (std::is_same_v<S, BlockSpec>) return validate_block(s);
        else if constexpr (std::is_same_v<S, BetaSpec>) return validate_beta(s);
        else if constexpr (std::is_same_v<S, WindowSpec>) return validate_window(s);
        else if constexpr (std::is_same_v<S, TraceSpec>) return validate_trace(s);
        else return validate_range(s);
      },
      spec);
}

std::unique_ptr<PortAllocator> make_allocator(const AllocatorSpec& spec) {
  return std::visit(
      [](const auto& s) -> std::unique_ptr<PortAllocator> {
        using S = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<S, PreservingSpec>) return std::make_unique<PreservingAllocator>(s);
        else if constexpr (std::is_same_v<S, SequentialSpec>) return std::make_unique<SequentialAllocator>(s);
        else if constexpr (std::is_same_v<S, UniformSpec> || std::is_same_v<S, RandomFullySpec>)
          return std::make_unique<UniformAllocator>(s);
        else if constexpr (std::is_same_v<S, BlockSpec>) return std::make_unique<BlockAllocator>(s);
        else if constexpr (std::is_same_v<S, WindowSpec>) return std::make_unique<WindowAllocator>(s);
        else if constexpr (std::is_same_v<S, TraceSpec>) return std::make_unique<TraceAllocator>(s);
        else return std::make_unique<BetaAllocator>(s);
      },
      spec);
}

}  // namespace natpunch::nat

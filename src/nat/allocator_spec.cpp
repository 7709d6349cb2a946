#include "nat/allocator_spec.hpp"

#include <bit>
#include <cmath>
#include <type_traits>

#include "nat/allocator_beta.hpp"
#include "nat/allocator_block.hpp"
#include "nat/allocator_preserving.hpp"
#include "nat/allocator_sequential.hpp"
#include "nat/allocator_uniform.hpp"

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

}  // namespace

std::string_view kind_name(const AllocatorSpec& spec) {
  return std::visit(
      [](const auto& s) -> std::string_view {
        using S = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<S, PreservingSpec>) return "preserving";
        else if constexpr (std::is_same_v<S, SequentialSpec>) return "sequential";
        else if constexpr (std::is_same_v<S, UniformSpec>) return "uniform";
        else if constexpr (std::is_same_v<S, RandomFullySpec>) return "random";
        else if constexpr (std::is_same_v<S, BlockSpec>) return "block";
        else return "beta";
      },
      spec);
}

std::optional<AllocatorSpecError> validate(const AllocatorSpec& spec) {
  return std::visit(
      [](const auto& s) -> std::optional<AllocatorSpecError> {
        using S = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<S, RandomFullySpec>) return std::nullopt;
        else if constexpr (std::is_same_v<S, BlockSpec>) return validate_block(s);
        else if constexpr (std::is_same_v<S, BetaSpec>) return validate_beta(s);
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
        else return std::make_unique<BetaAllocator>(s);
      },
      spec);
}

}  // namespace natpunch::nat

#include "nat/allocator_spec_text.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>

namespace natpunch::nat {

namespace {

std::optional<std::uint32_t> parse_unsigned(std::string_view text, std::uint32_t max) {
  std::uint32_t value = 0;
  const char* end = text.data() + text.size();
  auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || stop != end || value > max) return std::nullopt;
  return value;
}

// strtod rather than from_chars<double>: the latter is missing from some
// standard libraries the project still builds with.
std::optional<double> parse_real(std::string_view text) {
  if (text.empty()) return std::nullopt;
  const std::string copy(text);
  char* stop = nullptr;
  const double value = std::strtod(copy.c_str(), &stop);
  if (stop != copy.c_str() + copy.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<UniformSpec> parse_uniform(std::string_view params) {
  const auto dash = params.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto lo = parse_unsigned(params.substr(0, dash), 65535);
  auto hi = parse_unsigned(params.substr(dash + 1), 65535);
  if (!lo || !hi) return std::nullopt;
  return UniformSpec{static_cast<std::uint16_t>(*lo), static_cast<std::uint16_t>(*hi)};
}

std::optional<BetaSpec> parse_beta(std::string_view params) {
  BetaSpec spec;
  const std::array<double*, 4> fields{&spec.alpha, &spec.beta, &spec.loc, &spec.scale};
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const auto comma = params.find(',');
    const bool last = i + 1 == fields.size();
    if ((comma == std::string_view::npos) != last) return std::nullopt;
    auto value = parse_real(params.substr(0, comma));
    if (!value) return std::nullopt;
    *fields[i] = *value;
    if (!last) params.remove_prefix(comma + 1);
  }
  return spec;
}

}  // namespace

std::optional<AllocatorSpec> parse_allocator_spec(std::string_view text) {
  const auto colon = text.find(':');
  const std::string_view kind = text.substr(0, colon);
  if (colon == std::string_view::npos) {
    if (kind == "preserving") return PreservingSpec{};
    if (kind == "sequential") return SequentialSpec{};
    if (kind == "random") return RandomFullySpec{};
    if (kind == "uniform") return UniformSpec{};
    if (kind == "block") return BlockSpec{};
    if (kind == "beta") return BetaSpec{};
    return std::nullopt;
  }
  const std::string_view params = text.substr(colon + 1);
  if (kind == "uniform") {
    if (auto spec = parse_uniform(params)) return *spec;
    return std::nullopt;
  }
  if (kind == "block") {
    auto size = parse_unsigned(params, 65536);
    if (!size) return std::nullopt;
    BlockSpec spec;
    spec.block_size = *size;
    return spec;
  }
  if (kind == "beta") {
    if (auto spec = parse_beta(params)) return *spec;
    return std::nullopt;
  }
  return std::nullopt;
}

std::string format_allocator_spec(const AllocatorSpec& spec) {
  return std::visit(
      [&spec](const auto& s) -> std::string {
        using Spec = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<Spec, UniformSpec>) {
          return "uniform:" + std::to_string(s.min) + "-" + std::to_string(s.max);
        } else if constexpr (std::is_same_v<Spec, BlockSpec>) {
          return "block:" + std::to_string(s.block_size);
        } else if constexpr (std::is_same_v<Spec, BetaSpec>) {
          char text[160];
          std::snprintf(text, sizeof text, "beta:%.17g,%.17g,%.17g,%.17g", s.alpha, s.beta, s.loc, s.scale);
          return text;
        } else {
          return std::string(kind_name(spec));
        }
      },
      spec);
}

}  // namespace natpunch::nat

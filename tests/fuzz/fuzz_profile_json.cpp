// libFuzzer target for carrier-profile JSON (nat::parse_profile), the
// one-line allocator spelling (nat::parse_allocator_spec) and trace files
// (nat::parse_trace_text): the ways a NAT description reaches us from a
// file or a command line. Profiles include the allocator's locality
// (windows, order, hold or mappings; nat::WindowSpec), trace allocators and
// the provenance of derived values.
//
// Beyond "never throws, never crashes": whatever parse_profile accepts keeps
// the promises profiles/README.md makes (country code, bounds in order,
// every measured value sourced), and a NAT built from it works -- its
// allocator hands out distinct ports inside its range and gives up rather
// than loop. A profile that loads but breaks the NAT model later would be
// the worst kind of accepted input.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <type_traits>
#include <vector>
#include <string_view>
#include <variant>

#include "core/rng.hpp"
#include "core/time.hpp"
#include "nat/allocator_spec.hpp"
#include "nat/allocator_spec_text.hpp"
#include "nat/allocator_window.hpp"
#include "nat/profile.hpp"
#include "nat/trace_text.hpp"

#include "fuzz_check.hpp"

namespace {

using namespace natpunch;
using namespace natpunch::nat;

// The range a spec promises its ports come from; nullopt: the whole space.
std::optional<std::pair<std::uint16_t, std::uint16_t>> promised_range(const AllocatorSpec& spec) {
  return std::visit(
      [](const auto& s) -> std::optional<std::pair<std::uint16_t, std::uint16_t>> {
        if constexpr (requires { s.min; s.max; }) return std::pair{s.min, s.max};
        else if constexpr (std::is_same_v<std::decay_t<decltype(s)>, WindowSpec>) {
          const PortRange range = placement_range(s);
          return std::pair{range.min, range.max};
        } else return std::nullopt;  // random: the whole space; beta: the allocator clamps to loc..loc+scale
      },
      spec);
}

// A few allocations and releases: distinct ports, inside the promised range.
void exercise_allocator(const AllocatorSpec& spec, std::uint64_t seed) {
  FUZZ_CHECK(!validate(spec));
  auto allocator = make_allocator(spec);
  FUZZ_CHECK(allocator != nullptr);
  Rng rng(seed);
  const TimePoint now{};
  const auto range = promised_range(spec);
  std::set<std::uint16_t> held;
  const auto* window = std::get_if<WindowSpec>(&spec);
  for (std::uint32_t i = 0; i < 24; ++i) {
    const PortRequest request{i % 3, static_cast<std::uint16_t>(40000 + i)};
    // Time moves on, so holds end and windows change.
    auto port = allocator->allocate(now + seconds(i * 7), request, rng);
    if (!port) continue;  // a full range is allowed to say no
    FUZZ_CHECK(held.insert(*port).second);
    FUZZ_CHECK(allocator->in_use(*port));
    if (range) FUZZ_CHECK(*port >= range->first && *port <= range->second);
    // Windows are whole: a port's window lies inside the placement's range.
    if (window) {
      const std::uint32_t first = *port - (*port + window->size - window->offset) % window->size;
      FUZZ_CHECK(first >= range->first && first + window->size - 1 <= range->second);
    }
  }
  for (auto port : held) {
    allocator->release(now, port);
    FUZZ_CHECK(!allocator->in_use(port));
  }
}

void check_profile(const Profile& p, std::uint64_t seed) {
  FUZZ_CHECK(p.id == "fuzz");
  FUZZ_CHECK(!p.name.empty());
  FUZZ_CHECK(p.country.size() == 2);
  if (p.pending_timeout_upper) FUZZ_CHECK(p.pending_timeout && *p.pending_timeout <= *p.pending_timeout_upper);
  if (p.established_timeout_upper)
    FUZZ_CHECK(p.established_timeout && *p.established_timeout <= *p.established_timeout_upper);
  if (p.pending_timeout) FUZZ_CHECK(p.pending_timeout->count() > 0);
  if (p.mtu) FUZZ_CHECK(*p.mtu >= 1 && *p.mtu <= 65535);
  FUZZ_CHECK(p.source.count("allocator") == (p.allocator ? 1u : 0u));
  FUZZ_CHECK(p.source.count("mtu") == (p.mtu ? 1u : 0u));
  // A trace profile's ports are read from its file by io::load_profile.
  const bool unread_trace = p.allocator && std::holds_alternative<TraceSpec>(*p.allocator);
  if (unread_trace) FUZZ_CHECK(!std::get<TraceSpec>(*p.allocator).source.empty());
  if (p.allocator && !unread_trace) FUZZ_CHECK(!validate(*p.allocator));
  if (p.allocator_provenance) {
    FUZZ_CHECK(p.allocator && !p.allocator_provenance->runs.empty() && p.allocator_provenance->rows >= 1);
  }

  // With every gap filled, a NAT can be built; errors must name a field.
  NatConfigOptions options;
  options.public_addresses = {IpAddress::v4({203, 0, 113, 1})};
  options.fallbacks.mapping = MappingBehavior::EndpointIndependent;
  options.fallbacks.filtering = FilteringBehavior::AddressAndPortDependent;
  options.fallbacks.allocator = UniformSpec{};
  options.fallbacks.pending_timeout = seconds(30);
  options.fallbacks.established_timeout = seconds(120);
  auto config = make_nat_config(p, options);
  if (!config) {
    FUZZ_CHECK(!config.error().field.empty() && !config.error().message.empty());
    return;
  }
  exercise_allocator(config->allocator, seed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::uint64_t seed = 0xcbf29ce484222325u;  // FNV-1a: the same input always draws the same ports
  for (std::uint8_t byte : std::string_view(text.substr(0, 64))) seed = (seed ^ byte) * 0x100000001b3u;

  auto profile = parse_profile(text, "fuzz/fuzz.json");
  if (profile) {
    check_profile(*profile, seed);
  } else {
    FUZZ_CHECK(!profile.error().message.empty());
    FUZZ_CHECK(profile.error().file == "fuzz/fuzz.json");
    FUZZ_CHECK(!profile.error().to_string().empty());
  }

  // Short inputs double as allocator spellings ("block:256", "beta:2,5,4630,13937").
  if (size <= 64) {
    if (auto spec = parse_allocator_spec(text); spec && !validate(*spec)) exercise_allocator(*spec, seed);
  }
  // Any input is also a trace file: ports in 1..65535, and a valid trace replays them.
  if (auto ports = parse_trace_text(text)) {
    for (std::uint16_t port : *ports) FUZZ_CHECK(port >= 1);
    FUZZ_CHECK(parse_trace_text(trace_text(*ports, "fuzz")).value() == *ports);
    const TraceSpec trace{"fuzz", std::make_shared<const std::vector<std::uint16_t>>(std::move(*ports))};
    if (!validate(AllocatorSpec{trace})) exercise_allocator(trace, seed);
  } else {
    FUZZ_CHECK(ports.error().rfind("line ", 0) == 0);
  }
  return 0;
}

#pragma once
// Plain-data descriptions of the port allocators, so NAT configs and carrier
// profiles can be copied, compared and validated before anything is built.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/time.hpp"
#include "nat/port_allocator.hpp"

namespace natpunch::nat {

// Ports below 1024 are never handed out: the thesis counts P = 64,511
// usable ports (Section VI-E), i.e. 1024..65535.
inline constexpr std::uint16_t kFirstUsablePort = 1024;
inline constexpr std::uint16_t kLastPort = 65535;

// Keeps the internal port when it is free; otherwise the next free port
// above it (wrapping within [min, max]).
struct PreservingSpec {
  std::uint16_t min = kFirstUsablePort;
  std::uint16_t max = kLastPort;
  bool operator==(const PreservingSpec&) const = default;
};

// The next free port after the last one handed out, wrapping within [min, max].
struct SequentialSpec {
  std::uint16_t min = kFirstUsablePort;
  std::uint16_t max = kLastPort;
  bool operator==(const SequentialSpec&) const = default;
};

// Uniform over the free ports of [min, max] (LycaMobile NL: [2048, 65535]).
struct UniformSpec {
  std::uint16_t min = kFirstUsablePort;
  std::uint16_t max = kLastPort;
  bool operator==(const UniformSpec&) const = default;
};

// Uniform over the whole usable range, like Linux's NF_NAT_RANGE_PROTO_RANDOM_FULLY.
struct RandomFullySpec {
  bool operator==(const RandomFullySpec&) const = default;
};

// KPN / Lebara (Table II): a subscriber holds a block of block_size
// consecutive ports starting at a multiple of block_size and takes its ports
// in order; when the block is used up, or every mapping in it has timed out,
// the subscriber's next mapping gets a random free block. Only whole blocks
// inside [min, max] are used.
//
// Other subscribers of the same NAT are modelled as `background_subscribers`
// that each hold one whole block for `background_hold`, then let it go and
// take another random free block (start times are staggered at random).
// They make blocks scarce and move which ones are free, as the thesis saw at
// peak hours; they never take a block someone holds.
struct BlockSpec {
  std::uint32_t block_size = 256;
  std::uint16_t min = kFirstUsablePort;
  std::uint16_t max = kLastPort;
  std::uint32_t background_subscribers = 0;
  Duration background_hold = seconds(120);
  bool operator==(const BlockSpec&) const = default;
};

// Vodafone NL (Table II): port = floor(loc + scale * X), X ~ Beta(alpha, beta);
// draws that hit a port in use are redrawn.
struct BetaSpec {
  double alpha = 2.242;
  double beta = 5.008;
  double loc = 4630;
  double scale = 13937;
  bool operator==(const BetaSpec&) const = default;
};

// Locality, as the real carrier logs show it (the analyzer finds it,
// src/analyze/window_search.hpp): a subscriber's consecutive mappings stay
// inside one window of `size` ports, the windows being
// [k * size + offset, k * size + offset + size - 1]; inside it the ports
// come in order (each the next free port after the previous one, wrapping
// inside the window) or at random (any free port of the window). A stay
// ends after `hold` (time since the first mapping in the window; the real
// Vodafone NL: ~61 s) or after `mappings` mappings (in order and
// mappings == size: the window used up, as the thesis's blocks), and the
// next mapping lands in a new window, placed by `placement`: uniformly over
// the whole windows inside [min, max], or the window holding
// floor(loc + scale * X), X ~ Beta(alpha, beta) (whole windows inside the
// law's support). Exactly one of `hold` and `mappings` is set.
enum class WindowOrder : std::uint8_t { InOrder, Random };

std::string_view to_string(WindowOrder order);  // "in_order", "random"

struct WindowSpec {
  std::variant<UniformSpec, BetaSpec> placement = UniformSpec{};
  std::uint32_t size = 256;
  std::uint32_t offset = 0;
  WindowOrder order = WindowOrder::InOrder;
  std::optional<Duration> hold;
  std::optional<std::uint32_t> mappings = 256;
  bool operator==(const WindowSpec&) const = default;
};

// A real carrier's external ports replayed in order (allocator_trace.hpp):
// the joined log of a mapping collection, as `natpunch analyze
// --trace-out` writes it and io::load_trace reads it. `source` names where
// the ports came from (messages); the ports are shared, not copied, by the
// NAT configs of a simulation's many runs.
struct TraceSpec {
  std::string source;
  std::shared_ptr<const std::vector<std::uint16_t>> ports;
  bool operator==(const TraceSpec& other) const {
    return source == other.source &&
           (ports == other.ports || (ports && other.ports && *ports == *other.ports));
  }
};

// A trace shorter than this is no sequence.
inline constexpr std::size_t kMinTracePorts = 2;

using AllocatorSpec =
    std::variant<PreservingSpec, SequentialSpec, UniformSpec, RandomFullySpec, BlockSpec, BetaSpec, WindowSpec, TraceSpec>;

// The profile spelling of the kind: "preserving", "sequential", "uniform",
// "random", "block", "beta", "trace"; a window allocator is spelt by its
// placement ("uniform" or "beta") with a "locality" object, and named
// "window" here.
std::string_view kind_name(const AllocatorSpec& spec);

// For a person, what sets a window or trace allocator apart, to follow
// "<kind_name> ports": " (32 at offset 31, random order, held 61.0 s, Beta
// placement)", " (39571 from voda.trace)"; empty for the other kinds.
std::string details(const AllocatorSpec& spec);

struct AllocatorSpecError {
  std::string field;    // the spec member at fault, e.g. "block_size"
  std::string message;  // e.g. "must be a power of two between 2 and 32768"
};

// nullopt when make_allocator() may be called with `spec`.
std::optional<AllocatorSpecError> validate(const AllocatorSpec& spec);

// `spec` must be valid (see validate()).
std::unique_ptr<PortAllocator> make_allocator(const AllocatorSpec& spec);

}  // namespace natpunch::nat

#include "measure/allocator_sample.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>

#include "nat/allocator_spec.hpp"

namespace natpunch::measure {

namespace {

constexpr int kLargestInOrderStep = 16;   // other subscribers may take a few ports in between
constexpr std::uint32_t kSmallestBlock = 64;
constexpr std::uint32_t kClusterSpan = nat::kClusteredWindow;
constexpr std::size_t kMostBackStepsInOrder = 1;
constexpr std::size_t kMinClusterMappings = 5;
constexpr double kWholeRangeShare = 0.9;

// The step from one mapped port to the next, in -32767..32768.
int step(std::uint16_t from, std::uint16_t to) {
  int d = int{to} - int{from};
  if (d > 32768) d -= 65536;
  if (d <= -32768) d += 65536;
  return d;
}

// Largest power of two dividing both (>= 1); `a` and `b` are not both 0.
std::uint32_t common_alignment(std::uint32_t a, std::uint32_t b) {
  const std::uint32_t bits = a | b;
  return bits == 0 ? 65536 : (bits & (~bits + 1));
}

// [lo, hi] widened by one mean gap between sampled ports each side: the
// discrete uniform's unbiased estimate of its ends.
std::pair<std::uint16_t, std::uint16_t> widened(std::uint16_t lo, std::uint16_t hi, std::size_t n) {
  const std::uint32_t gap = (std::uint32_t{hi} - lo) / static_cast<std::uint32_t>(n - 1);
  const std::uint32_t floor_port = std::min<std::uint32_t>(lo, nat::kFirstUsablePort);
  const std::uint32_t low = std::max<std::uint32_t>(floor_port, lo > gap ? lo - gap : 0);
  const std::uint32_t high = std::min<std::uint32_t>(nat::kLastPort, std::uint32_t{hi} + gap);
  return {static_cast<std::uint16_t>(std::max<std::uint32_t>(low, 1)), static_cast<std::uint16_t>(high)};
}

}  // namespace

nat::AllocatorGuess classify_allocator_sample(std::span<const ProbeMapping> sample, nat::MappingBehavior mapping) {
  nat::AllocatorGuess guess;
  guess.mappings = sample.size();
  if (!sample.empty()) {
    const auto [lo, hi] = std::minmax_element(sample.begin(), sample.end(), [](const auto& a, const auto& b) {
      return a.mapped_port < b.mapped_port;
    });
    guess.lowest = lo->mapped_port;
    guess.highest = hi->mapped_port;
  }
  if (mapping == nat::MappingBehavior::None) {
    guess.kind = nat::AllocatorClass::NotTranslated;
    guess.why = "no NAT: ports are not translated";
    return guess;
  }
  // Port 0 is no mapping at all (a broken or hostile STUN answer): such a
  // sample says nothing about the allocator.
  if (std::any_of(sample.begin(), sample.end(), [](const auto& m) { return m.mapped_port == 0; })) {
    guess.why = "a mapping to port 0: the sample is unusable";
    return guess;
  }
  const std::size_t n = sample.size();
  if (n < kMinSampleMappings) {
    guess.why = std::to_string(n) + " mappings: too few to tell";
    return guess;
  }

  std::size_t known = 0, kept = 0;
  for (const auto& m : sample) {
    if (!m.local_port) continue;
    ++known;
    if (*m.local_port == m.mapped_port) ++kept;
  }
  if (known >= kMinSampleMappings && 4 * kept >= 3 * known) {
    guess.kind = nat::AllocatorClass::Preserving;
    guess.spec = nat::PreservingSpec{};
    guess.why = std::to_string(kept) + " of " + std::to_string(known) + " mappings kept their local port";
    return guess;
  }

  std::size_t up = 0, back = 0;
  std::optional<std::uint32_t> block;
  for (std::size_t i = 1; i < n; ++i) {
    const int d = step(sample[i - 1].mapped_port, sample[i].mapped_port);
    if (d >= 1 && d <= kLargestInOrderStep) {
      ++up;
      continue;
    }
    if (d <= 0 && d > -static_cast<int>(kClusterSpan)) ++back;
    // A jump: from the last port of an aligned block to the first of another?
    const std::uint32_t end = std::uint32_t{sample[i - 1].mapped_port} + 1;
    const std::uint32_t start = sample[i].mapped_port;
    const std::uint32_t size = std::min<std::uint32_t>(common_alignment(end, start), 32768);
    if (size >= kSmallestBlock && end != 65536) block = block ? std::min(*block, size) : size;
  }
  // Random order inside a small window goes up by small steps about half
  // the time, and back as often; an allocator in order goes back at most
  // once (wrapping inside its window).
  if (4 * up >= 3 * (n - 1) && back <= kMostBackStepsInOrder) {
    guess.kind = nat::AllocatorClass::InOrder;
    guess.why = std::to_string(up) + " of " + std::to_string(n - 1) + " steps between mappings went up by 1-" +
                std::to_string(kLargestInOrderStep);
    if (block) {
      guess.spec = nat::BlockSpec{*block};
      guess.why += "; a jump from the end of one aligned " + std::to_string(*block) +
                   "-port block to the start of another";
    } else {
      guess.spec = nat::SequentialSpec{};
      guess.why += " (sequential, or a block not yet used up)";
    }
    return guess;
  }

  const std::uint32_t span = std::uint32_t{guess.highest} - guess.lowest;
  const auto [low, high] = widened(guess.lowest, guess.highest, n);
  if (n >= kMinClusterMappings && span < kClusterSpan) {
    guess.kind = nat::AllocatorClass::Clustered;
    guess.spec = nat::UniformSpec{low, high};
    guess.why = "all " + std::to_string(n) + " mappings within " + std::to_string(span + 1) + " ports, not in order";
    return guess;
  }
  guess.kind = nat::AllocatorClass::Random;
  const double whole = double{nat::kLastPort} - nat::kFirstUsablePort + 1;
  if (high - low + 1 >= kWholeRangeShare * whole) {
    guess.spec = nat::RandomFullySpec{};
  } else {
    guess.spec = nat::UniformSpec{low, high};
  }
  guess.why = std::to_string(n) + " mappings spread over ports " + std::to_string(guess.lowest) + "-" +
              std::to_string(guess.highest);
  return guess;
}

}  // namespace natpunch::measure

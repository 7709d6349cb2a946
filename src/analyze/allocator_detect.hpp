#pragma once
// Which port allocator produced a joined mapping table, with its parameters
// and the numbers that led there (thesis Section VI-A, Table II). Field
// names follow the carrier profile's `allocator` object.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string_view>

#include "analyze/beta_fit.hpp"
#include "analyze/mapping_join.hpp"

namespace natpunch::analyze {

enum class AllocatorKind { Block, Sequential, Preserving, Uniform, Beta, Unknown };

std::string_view to_string(AllocatorKind kind);

struct BlockEvidence {
  // Visits: maximal stretches of consecutive rows inside one aligned block.
  std::size_t blocks = 0;
  double start_aligned_fraction = 0;  // first port of the visit is a multiple of 256 (KPN: 36.9 %)
  double consumed_whole_fraction = 0;  // every port of the block was seen in the visit (KPN: 32.3 %)
  // +1 steps that cross a multiple of block_size, against what a
  // sequential allocator would show (steps / block_size).
  std::size_t boundary_crossings = 0;
  double expected_sequential_crossings = 0;
};

struct UniformEvidence {
  double ks_d = 0;  // against uniform over [min, max]
  double ks_p = 0;
};

struct AllocatorEvidence {
  std::size_t rows = 0;
  double preserved_fraction = 0;  // mapped == local
  double step_fraction = 0;       // mapped[i] == mapped[i-1] + 1 (phone's order)
  // Lengths of runs of consecutive ports (each +1 step extends a run).
  std::map<std::uint32_t, std::size_t> run_lengths;
  std::optional<BlockEvidence> block;
  std::optional<UniformEvidence> uniform;
  std::optional<BetaFit> beta;
  std::string_view reason;  // one line: which rule decided
};

struct DetectedAllocator {
  AllocatorKind kind = AllocatorKind::Unknown;
  std::optional<std::uint32_t> block_size;
  std::optional<std::uint16_t> min, max;  // the observed range (uniform, sequential, preserving)
  std::optional<double> alpha, beta, loc, scale;
  AllocatorEvidence evidence;
};

// Fewer joined rows than this say nothing reliable about an allocator.
inline constexpr std::size_t kMinRowsForDetection = 50;

DetectedAllocator detect_allocator(std::span<const MappingRow> rows);

}  // namespace natpunch::analyze

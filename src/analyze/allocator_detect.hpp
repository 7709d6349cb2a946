#pragma once
// Which port allocator produced a joined mapping table, with its parameters
// and the numbers that led there (thesis Section VI-A, Table II). Field
// names follow the carrier profile's `allocator` object.
//
// Two units of a collection appear throughout:
//
// - a *session* is a maximal stretch of rows (in the phone's time order)
//   with no pause longer than DetectOptions::session_gap_ms between two
//   rows. The thesis apps send every ~15 ms while running, so a longer
//   pause means the app was stopped and started again (a new "run"), and
//   the NAT may have let the old mappings time out meanwhile. Runs of
//   consecutive ports and block visits never span two sessions.
// - a *visit* (block allocators only) is a maximal stretch of rows of one
//   session whose mapped ports all lie in one aligned block: one
//   assignment of a block to the phone, the unit of the thesis's "consumed
//   a port group in its entirety 32.3 % of the time" and "36.9 % of the
//   time ... the initial port was available" for KPN.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "analyze/beta_fit.hpp"
#include "analyze/goodness_of_fit.hpp"
#include "analyze/mapping_join.hpp"
#include "analyze/window_visits.hpp"

namespace natpunch::analyze {

enum class AllocatorKind { Block, Sequential, Preserving, Uniform, Beta, Unknown };

std::string_view to_string(AllocatorKind kind);

// How the ports of a held block are handed out: in order (KPN, Lebara: the
// NAT model's BlockAllocator) or in a random order inside the block.
enum class BlockOrder { InOrder, Random };

std::string_view to_string(BlockOrder order);  // "in_order", "random"

struct UniformEvidence {
  double ks_d = 0;  // against uniform over [min, max]
  double ks_p = 0;
  ChiSquareTest chi_square;  // the same question binned: equal-width bins over [min, max]
};

// Block (window) allocators: the blocks are windows of block_size ports at
// `offset` (window_search.hpp); visits, reset rule and placement come from
// window_visits.hpp.
struct BlockEvidence {
  BlockOrder order = BlockOrder::InOrder;
  std::uint32_t offset = 0;
  std::size_t visits = 0;
  double start_aligned_fraction = 0;   // first port of the visit is a multiple of 256 (KPN: 36.9 %)
  double consumed_whole_fraction = 0;  // every port of the block was seen in the visit (KPN: 32.3 %)
  // Of the row-to-row transitions inside visits, the share that are +1
  // steps: near 1 for in-order blocks, near 1/block_size for random order.
  double in_visit_step_fraction = 0;
  // In-order blocks: +1 steps that cross a multiple of block_size, against
  // what a sequential allocator would show (steps / block_size).
  std::size_t boundary_crossings = 0;
  double expected_sequential_crossings = 0;
  // The share of transitions that stay in one block (window), and the share
  // expected if the same ports came in a random order (sum over blocks of
  // (rows in block / rows)^2). 1 - same_block_fraction is the jump rate: the
  // odds per mapping of moving to another window.
  double same_block_fraction = 0;
  double same_block_by_chance = 0;
  // What ends a stay (complete visits: entered and left by a jump).
  std::size_t complete_visits = 0;
  double median_mappings = 0;
  double mappings_cv = 0;
  double median_hold_s = 0;
  double hold_cv = 0;
  ResetDecision reset;
  // Where blocks sit, one sample per visit (its block's middle port):
  // uniform over [placement_min, placement_max] or a Beta fit.
  std::optional<UniformEvidence> placement_uniform;
  std::optional<BetaFit> placement_beta;
  const char* placement_why = "";
  // Reuse across sessions (the thesis: "the initial random ports were often
  // reused across sessions"): visits whose first port, or whose block,
  // already had a visit in an earlier session. Both 0 with one session.
  double reused_start_fraction = 0;
  double reused_block_fraction = 0;
  // Start ports that began visits in two or more sessions, most sessions
  // first (at most 10): (port, sessions).
  std::vector<std::pair<std::uint16_t, std::size_t>> repeated_starts;
};

struct AllocatorEvidence {
  std::size_t rows = 0;
  std::size_t sessions = 0;
  double preserved_fraction = 0;  // mapped == local
  double step_fraction = 0;       // mapped[i] == mapped[i-1] + 1 (phone's order, within a session)
  // Lengths of runs of consecutive ports (each +1 step extends a run; a
  // session boundary ends one) -> how many runs had that length.
  std::map<std::uint32_t, std::size_t> run_lengths;
  std::optional<BlockEvidence> block;
  std::optional<UniformEvidence> uniform;
  std::optional<BetaFit> beta;
  std::string_view reason;  // one line: which rule decided
};

// Block allocators (windows) are plain blocks in the thesis's sense when
// taken in order from offset 0 until used up, placed uniformly: KPN's and
// Lebara's. Anything else is a window with locality (nat::WindowSpec).
struct DetectedAllocator {
  AllocatorKind kind = AllocatorKind::Unknown;
  std::optional<std::uint32_t> block_size;
  std::optional<BlockOrder> block_order;
  std::optional<std::uint32_t> block_offset;
  std::optional<ResetDecision> block_reset;
  // Uniform, sequential, preserving: the observed range. Block: the range
  // its blocks are placed in uniformly (estimated), unless they follow
  // the Beta law below.
  std::optional<std::uint16_t> min, max;
  std::optional<double> alpha, beta, loc, scale;  // Beta; for a block, its placement
  AllocatorEvidence evidence;

  bool plain_block() const;  // a block as the thesis's (exportable as kind "block")
};

struct DetectOptions {
  double session_gap_ms = 30'000;  // a longer pause between two rows starts a new session
};

// Fewer joined rows than this say nothing reliable about an allocator.
inline constexpr std::size_t kMinRowsForDetection = 50;

DetectedAllocator detect_allocator(std::span<const MappingRow> rows, const DetectOptions& options = {});

// Session number (0, 1, ...) of each row, by DetectOptions::session_gap_ms;
// a row of another collection (MappingRow::run) starts a new one too.
std::vector<std::uint32_t> assign_sessions(std::span<const MappingRow> rows, double session_gap_ms);

// P(port <= p) under the detected law, for the uniform and Beta kinds
// (figures and goodness-of-fit); nullopt for the others.
std::optional<std::function<double(double)>> fitted_cdf(const DetectedAllocator& detected);

}  // namespace natpunch::analyze

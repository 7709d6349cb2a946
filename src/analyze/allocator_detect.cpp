#include "analyze/allocator_detect.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "analyze/goodness_of_fit.hpp"

namespace natpunch::analyze {

namespace {

// Decision rules, tried in this order (the simpler explanation first):
//
// 1. preserving: mapped == local in at least half the rows. A random
//    allocator agrees by chance once in ~64,000; a preserving NAT moves a
//    port only when the local port is already taken.
// 2. ordered (block or sequential): at least half the steps in the phone's
//    order are +1. Random allocators make +1 steps with odds ~1/range.
//    - block: the smallest power of two B (2..32768) for which +1 steps
//      almost never cross a multiple of B: at most 10 % of the
//      steps / B crossings a sequential allocator would make, with at least
//      5 such crossings expected so the absence means something. A block
//      allocator only crosses when its next random block happens to be the
//      neighbour (odds ~1/blocks); every larger B passes too, every smaller
//      one fails, so the smallest passing B is the block size.
//    - sequential: ordered, but no B passes.
// 3. uniform: KS D against uniform [min, max] within the 1 % critical value
//    1.63 / sqrt(n), plus 0.01 of slack for real data's small misfits.
// 4. beta: the 4-parameter ML fit's KS D within the same bound.
// 5. unknown: none of the above; the evidence still says what was seen.
constexpr double kPreservedThreshold = 0.5;
constexpr double kOrderedThreshold = 0.5;
constexpr double kCrossingRatio = 0.1;
constexpr double kMinExpectedCrossings = 5;
constexpr double kKsSlack = 0.01;

bool steps_up(std::span<const MappingRow> rows, std::size_t i) {
  return rows[i].mapped_port == static_cast<std::uint32_t>(rows[i - 1].mapped_port) + 1;
}

// nullopt with `undecided` set: every block size the data can test was
// ruled out, but larger ones could not be told from sequential.
std::optional<std::uint32_t> find_block_size(std::span<const MappingRow> rows, std::size_t steps,
                                             BlockEvidence& evidence, bool& undecided) {
  undecided = false;
  for (std::uint32_t size = 2; size <= 32768; size *= 2) {
    std::size_t crossings = 0;
    for (std::size_t i = 1; i < rows.size(); ++i)
      if (steps_up(rows, i) && rows[i].mapped_port % size == 0) ++crossings;
    const double expected = static_cast<double>(steps) / size;
    if (expected < kMinExpectedCrossings) {
      undecided = true;
      return std::nullopt;
    }
    if (static_cast<double>(crossings) <= kCrossingRatio * expected) {
      evidence.boundary_crossings = crossings;
      evidence.expected_sequential_crossings = expected;
      return size;
    }
  }
  return std::nullopt;
}

void describe_blocks(std::span<const MappingRow> rows, std::uint32_t size, BlockEvidence& evidence) {
  std::size_t aligned = 0, whole = 0;
  std::vector<bool> seen(size);
  std::size_t start = 0;
  const auto close = [&](std::size_t end) {
    ++evidence.blocks;
    if (rows[start].mapped_port % 256 == 0) ++aligned;
    std::fill(seen.begin(), seen.end(), false);
    std::size_t distinct = 0;
    for (std::size_t i = start; i < end; ++i) {
      const auto offset = rows[i].mapped_port % size;
      if (!seen[offset]) {
        seen[offset] = true;
        ++distinct;
      }
    }
    if (distinct == size) ++whole;
  };
  for (std::size_t i = 1; i < rows.size(); ++i)
    if (rows[i].mapped_port / size != rows[i - 1].mapped_port / size) {
      close(i);
      start = i;
    }
  close(rows.size());
  evidence.start_aligned_fraction = static_cast<double>(aligned) / static_cast<double>(evidence.blocks);
  evidence.consumed_whole_fraction = static_cast<double>(whole) / static_cast<double>(evidence.blocks);
}

double ks_bound(std::size_t n) { return 1.63 / std::sqrt(static_cast<double>(n)) + kKsSlack; }

}  // namespace

std::string_view to_string(AllocatorKind kind) {
  switch (kind) {
    case AllocatorKind::Block: return "block";
    case AllocatorKind::Sequential: return "sequential";
    case AllocatorKind::Preserving: return "preserving";
    case AllocatorKind::Uniform: return "uniform";
    case AllocatorKind::Beta: return "beta";
    case AllocatorKind::Unknown: break;
  }
  return "unknown";
}

DetectedAllocator detect_allocator(std::span<const MappingRow> rows) {
  DetectedAllocator result;
  auto& evidence = result.evidence;
  evidence.rows = rows.size();
  if (rows.size() < kMinRowsForDetection) {
    evidence.reason = "too few joined rows to tell";
    return result;
  }

  std::size_t preserved = 0, steps = 0;
  std::uint16_t lo = 65535, hi = 0;
  std::uint32_t run = 1;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].mapped_port == rows[i].local_port) ++preserved;
    lo = std::min(lo, rows[i].mapped_port);
    hi = std::max(hi, rows[i].mapped_port);
    if (i == 0) continue;
    if (steps_up(rows, i)) {
      ++steps;
      ++run;
    } else {
      ++evidence.run_lengths[run];
      run = 1;
    }
  }
  ++evidence.run_lengths[run];
  const double transitions = static_cast<double>(rows.size() - 1);
  evidence.preserved_fraction = static_cast<double>(preserved) / static_cast<double>(rows.size());
  evidence.step_fraction = static_cast<double>(steps) / transitions;

  if (evidence.preserved_fraction >= kPreservedThreshold) {
    result.kind = AllocatorKind::Preserving;
    result.min = lo;
    result.max = hi;
    evidence.reason = "mapped port equals local port in at least half the rows";
    return result;
  }
  if (evidence.step_fraction >= kOrderedThreshold) {
    BlockEvidence block;
    bool undecided = false;
    if (auto size = find_block_size(rows, steps, block, undecided)) {
      describe_blocks(rows, *size, block);
      evidence.block = block;
      result.kind = AllocatorKind::Block;
      result.block_size = *size;
      evidence.reason = "ports taken in order, and +1 steps never cross a multiple of block_size";
    } else {
      result.kind = AllocatorKind::Sequential;
      result.min = lo;
      result.max = hi;
      evidence.reason = undecided ? "ports taken in order, across the block boundaries seen; too few rows to rule "
                                    "out larger blocks"
                                  : "ports taken in order, across every block boundary";
    }
    return result;
  }

  std::vector<double> sorted;
  sorted.reserve(rows.size());
  for (const auto& row : rows) sorted.push_back(row.mapped_port);
  std::sort(sorted.begin(), sorted.end());
  // Discrete uniform on [lo, hi]: P(port <= p) = (p + 1 - lo) / (hi + 1 - lo).
  const double width = static_cast<double>(hi) + 1 - lo;
  UniformEvidence uniform;
  uniform.ks_d = ks_statistic(sorted, [&](double p) { return std::clamp((p + 1 - lo) / width, 0.0, 1.0); });
  uniform.ks_p = ks_p_value(uniform.ks_d, sorted.size());
  evidence.uniform = uniform;
  if (uniform.ks_d <= ks_bound(rows.size())) {
    result.kind = AllocatorKind::Uniform;
    result.min = lo;
    result.max = hi;
    evidence.reason = "KS distance to uniform [min, max] within the 1 % critical value";
    return result;
  }

  std::vector<std::uint16_t> ports;
  ports.reserve(rows.size());
  for (const auto& row : rows) ports.push_back(row.mapped_port);
  evidence.beta = fit_beta(ports);
  if (evidence.beta->converged && evidence.beta->ks_d <= ks_bound(evidence.beta->samples)) {
    result.kind = AllocatorKind::Beta;
    result.alpha = evidence.beta->alpha;
    result.beta = evidence.beta->beta;
    result.loc = evidence.beta->loc;
    result.scale = evidence.beta->scale;
    evidence.reason = "not uniform; a maximum-likelihood Beta fit is within the KS critical value";
    return result;
  }
  evidence.reason = "neither ordered, preserving, uniform nor Beta-shaped";
  return result;
}

}  // namespace natpunch::analyze

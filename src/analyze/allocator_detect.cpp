#include "analyze/allocator_detect.hpp"

#include <algorithm>
#include <array>
#include <boost/math/distributions/beta.hpp>
#include <cmath>
#include <vector>

namespace natpunch::analyze {

namespace {

// Decision rules, tried in this order (the simpler explanation first):
//
// 1. preserving: mapped == local in at least half the rows. A random
//    allocator agrees by chance once in ~64,000; a preserving NAT moves a
//    port only when the local port is already taken.
// 2. ordered (in-order block or sequential): at least half the steps in
//    the phone's order are +1. Random allocators make +1 steps with odds
//    ~1/range.
//    - block: the smallest power of two B (2..32768), with its offset, for
//      which +1 steps almost never cross a block boundary
//      (window_search.hpp). A block allocator only crosses when its next
//      random block happens to be the neighbour (odds ~1/blocks); every
//      larger B passes too, every smaller one fails, so the smallest
//      passing B is the block size.
//    - sequential: ordered, but no B passes.
// 3. random-order block (window): the smallest B, with its best offset,
//    for which at least 75 % of the transitions stay inside one block,
//    while the same ports in a random order would stay with odds at most a
//    tenth of that (window_search.hpp).
//    For both kinds of block: visits tell what ends a stay (a number of
//    mappings or a time) and one sample per visit where blocks sit: uniform
//    (KS on the visits' block centres within the bound below), else a
//    Beta fit to them (the same bound), else uniform with the misfit said
//    (window_visits.hpp).
// 4. uniform: KS D against uniform [min, max] within the 1 % critical value
//    1.63 / sqrt(n), plus 0.01 of slack for real data's small misfits.
// 5. beta: the 4-parameter ML fit's KS D within the same bound.
// 6. unknown: none of the above; the evidence still says what was seen.
constexpr double kPreservedThreshold = 0.5;
constexpr double kOrderedThreshold = 0.5;
constexpr double kKsSlack = 0.01;

double ks_bound(std::size_t n) { return 1.63 / std::sqrt(static_cast<double>(n)) + kKsSlack; }

// Enough bins to see a shape, with ~50 ports expected in each.
std::size_t histogram_bins(std::size_t n) { return std::clamp<std::size_t>(n / 50, 10, 256); }

ChiSquareTest chi_square_against(std::span<const std::uint16_t> ports, std::uint16_t lo, std::uint16_t hi,
                                 const std::function<double(double)>& cdf, std::size_t estimated_parameters) {
  const auto histogram = make_port_histogram(ports, lo, hi, histogram_bins(ports.size()));
  const auto expected = expected_counts(histogram, cdf);
  return chi_square_test(histogram.counts, expected, estimated_parameters);
}

std::function<double(double)> uniform_cdf(std::uint16_t lo, std::uint16_t hi) {
  // Discrete uniform on [lo, hi]: P(port <= p) = (p + 1 - lo) / (hi + 1 - lo).
  const double width = static_cast<double>(hi) + 1 - lo;
  return [lo, width](double p) { return std::clamp((std::floor(p) + 1 - lo) / width, 0.0, 1.0); };
}

std::function<double(double)> beta_cdf(double alpha, double beta, double loc, double scale) {
  const boost::math::beta_distribution<double> law(alpha, beta);
  // The allocator floors loc + scale * X: P(port <= p) = F((p + 1 - loc) / scale).
  return [law, loc, scale](double p) {
    const double z = (std::floor(p) + 1 - loc) / scale;
    return z <= 0 ? 0.0 : z >= 1 ? 1.0 : boost::math::cdf(law, z);
  };
}

// The range uniform placement spans: the blocks seen, widened at each end
// by the mean gap between `samples` uniform draws (the unbiased estimate of
// a uniform range's ends), snapped to whole blocks, never below
// kFirstUsablePort unless blocks were seen there.
std::pair<std::uint16_t, std::uint16_t> placement_range(const VisitEvidence& v, const WindowGrid& grid, std::size_t samples) {
  double lo = v.lowest_window_start, hi = v.highest_window_end;
  // A window reaching below port 1 is no whole window a NAT could hand out.
  if (lo < 1) lo = grid.offset >= 1 ? grid.offset : grid.size;
  if (hi < lo + grid.size - 1) hi = std::min(65535.0, lo + grid.size - 1);
  const double gap = samples > 1 ? (hi - lo + 1 - grid.size) / static_cast<double>(samples - 1) : 0;
  const double floor_port = std::min<double>(1024, lo);
  const auto windows_below = std::floor(std::min(gap, lo - floor_port) / grid.size);
  const auto windows_above = std::floor(std::min(gap, 65535 - hi) / grid.size);
  return {static_cast<std::uint16_t>(lo - windows_below * grid.size),
          static_cast<std::uint16_t>(hi + windows_above * grid.size)};
}

}  // namespace

bool DetectedAllocator::plain_block() const {
  return kind == AllocatorKind::Block && block_order == BlockOrder::InOrder && block_offset.value_or(0) == 0 &&
         block_reset && block_reset->rule == ResetRule::Mappings && block_reset->mappings == block_size && !alpha;
}

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

std::string_view to_string(BlockOrder order) { return order == BlockOrder::Random ? "random" : "in_order"; }

std::vector<std::uint32_t> assign_sessions(std::span<const MappingRow> rows, double session_gap_ms) {
  std::vector<std::uint32_t> session(rows.size(), 0);
  for (std::size_t i = 1; i < rows.size(); ++i)
    session[i] = session[i - 1] + (rows[i].run != rows[i - 1].run ||
                                           rows[i].client_time_ms - rows[i - 1].client_time_ms > session_gap_ms
                                       ? 1
                                       : 0);
  return session;
}

std::optional<std::function<double(double)>> fitted_cdf(const DetectedAllocator& d) {
  if (d.kind == AllocatorKind::Uniform && d.min && d.max) return uniform_cdf(*d.min, *d.max);
  if (d.kind == AllocatorKind::Beta && d.alpha && d.beta && d.loc && d.scale)
    return beta_cdf(*d.alpha, *d.beta, *d.loc, *d.scale);
  return std::nullopt;
}

DetectedAllocator detect_allocator(std::span<const MappingRow> rows, const DetectOptions& options) {
  DetectedAllocator result;
  auto& evidence = result.evidence;
  evidence.rows = rows.size();
  SessionSequence seq{rows, assign_sessions(rows, options.session_gap_ms)};
  evidence.sessions = rows.empty() ? 0 : std::size_t{seq.session.back()} + 1;

  std::size_t preserved = 0, steps = 0, transitions = 0;
  std::uint16_t lo = 65535, hi = 0;
  std::uint32_t run = 1;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].mapped_port == rows[i].local_port) ++preserved;
    lo = std::min(lo, rows[i].mapped_port);
    hi = std::max(hi, rows[i].mapped_port);
    if (i == 0) continue;
    if (seq.continues(i)) ++transitions;
    if (seq.steps_up(i)) {
      ++steps;
      ++run;
    } else {
      ++evidence.run_lengths[run];
      run = 1;
    }
  }
  if (!rows.empty()) ++evidence.run_lengths[run];
  if (rows.size() < kMinRowsForDetection) {
    evidence.reason = "too few joined rows to tell";
    return result;
  }
  evidence.preserved_fraction = static_cast<double>(preserved) / static_cast<double>(rows.size());
  evidence.step_fraction = transitions ? static_cast<double>(steps) / static_cast<double>(transitions) : 0;

  if (evidence.preserved_fraction >= kPreservedThreshold) {
    result.kind = AllocatorKind::Preserving;
    result.min = lo;
    result.max = hi;
    evidence.reason = "mapped port equals local port in at least half the rows";
    return result;
  }
  const auto found_block = [&](const WindowGrid& grid, BlockOrder order, BlockEvidence& block) {
    block.order = order;
    block.offset = grid.offset;
    VisitEvidence visits = describe_visits(seq, grid);
    block.visits = visits.visits;
    block.start_aligned_fraction = visits.start_aligned_fraction;
    block.consumed_whole_fraction = visits.consumed_whole_fraction;
    block.in_visit_step_fraction = visits.in_visit_step_fraction;
    block.reused_start_fraction = visits.reused_start_fraction;
    block.reused_block_fraction = visits.reused_block_fraction;
    block.repeated_starts = std::move(visits.repeated_starts);
    block.complete_visits = visits.complete_visits;
    block.median_mappings = visits.median_mappings;
    block.mappings_cv = visits.mappings_cv;
    block.median_hold_s = visits.median_hold_s;
    block.hold_cv = visits.hold_cv;
    block.reset = decide_reset(visits, grid, order == BlockOrder::InOrder);
    if (order == BlockOrder::InOrder) {
      block.same_block_fraction = stay_fraction(seq, grid);
    }
    // Where blocks sit, one sample per visit.
    const auto& centres = visits.window_centres;
    const auto [range_lo, range_hi] = placement_range(visits, grid, centres.size());
    std::vector<double> sorted(centres.begin(), centres.end());
    std::sort(sorted.begin(), sorted.end());
    UniformEvidence uniform;
    const auto half = grid.size / 2;
    const auto uniform_law = uniform_cdf(static_cast<std::uint16_t>(visits.lowest_window_start + half),
                                         static_cast<std::uint16_t>(visits.highest_window_end - grid.size + 1 + half));
    uniform.ks_d = sorted.size() > 1 && visits.distinct_windows > 1 ? ks_statistic(sorted, uniform_law) : 0;
    uniform.ks_p = ks_p_value(uniform.ks_d, sorted.size());
    block.placement_uniform = uniform;
    result.kind = AllocatorKind::Block;
    result.block_size = grid.size;
    result.block_order = order;
    result.block_offset = grid.offset;
    result.block_reset = block.reset;
    if (uniform.ks_d <= ks_bound(sorted.size())) {
      block.placement_why = "blocks sit uniformly: KS distance of the visits' blocks to uniform within the bound";
    } else {
      BetaFit fit = fit_beta(centres);
      const bool fits = fit.converged && fit.ks_d <= ks_bound(fit.samples);
      block.placement_beta = fit;
      if (fits) {
        block.placement_why = "blocks sit by a Beta law: not uniform, and the Beta fit to the visits' blocks is "
                              "within the KS bound";
        result.alpha = fit.alpha;
        result.beta = fit.beta;
        result.loc = fit.loc;
        result.scale = fit.scale;
      } else {
        block.placement_why = "neither uniform nor a Beta fit within the KS bound: uniform over the range seen "
                              "stands in";
      }
    }
    if (!result.alpha) {
      result.min = range_lo;
      result.max = range_hi;
    }
    evidence.block = std::move(block);
  };
  if (evidence.step_fraction >= kOrderedThreshold) {
    BlockEvidence block;
    const InOrderSearch search = find_in_order_window(seq, steps);
    if (search.grid) {
      block.boundary_crossings = search.crossings;
      block.expected_sequential_crossings = search.expected_sequential_crossings;
      found_block(*search.grid, BlockOrder::InOrder, block);
      evidence.reason = "ports taken in order, and +1 steps never cross a block boundary";
    } else {
      result.kind = AllocatorKind::Sequential;
      result.min = lo;
      result.max = hi;
      evidence.reason = search.undecided ? "ports taken in order, across the block boundaries seen; too few rows to "
                                           "rule out larger blocks"
                                         : "ports taken in order, across every block boundary";
    }
    return result;
  }
  {
    const RandomOrderSearch search = find_random_order_window(seq);
    if (search.grid) {
      BlockEvidence block;
      block.same_block_fraction = search.stay_fraction;
      block.same_block_by_chance = search.stay_by_chance;
      found_block(*search.grid, BlockOrder::Random, block);
      evidence.reason = "ports in random order, but consecutive rows stay inside one block (window) far more often "
                        "than chance";
      return result;
    }
  }

  std::vector<std::uint16_t> ports;
  ports.reserve(rows.size());
  for (const auto& row : rows) ports.push_back(row.mapped_port);
  std::vector<double> sorted(ports.begin(), ports.end());
  std::sort(sorted.begin(), sorted.end());
  UniformEvidence uniform;
  const auto uniform_law = uniform_cdf(lo, hi);
  uniform.ks_d = ks_statistic(sorted, uniform_law);
  uniform.ks_p = ks_p_value(uniform.ks_d, sorted.size());
  uniform.chi_square = chi_square_against(ports, lo, hi, uniform_law, 2);
  evidence.uniform = uniform;
  if (uniform.ks_d <= ks_bound(rows.size())) {
    result.kind = AllocatorKind::Uniform;
    result.min = lo;
    result.max = hi;
    evidence.reason = "KS distance to uniform [min, max] within the 1 % critical value";
    return result;
  }

  evidence.beta = fit_beta(ports);
  auto& fit = *evidence.beta;
  if (fit.scale > 0) fit.chi_square = chi_square_against(ports, lo, hi, beta_cdf(fit.alpha, fit.beta, fit.loc, fit.scale), 4);
  if (fit.converged && fit.ks_d <= ks_bound(fit.samples)) {
    result.kind = AllocatorKind::Beta;
    result.alpha = fit.alpha;
    result.beta = fit.beta;
    result.loc = fit.loc;
    result.scale = fit.scale;
    evidence.reason = "not uniform; a maximum-likelihood Beta fit is within the KS critical value";
    return result;
  }
  evidence.reason = "neither preserving, ordered, block-shaped, uniform nor Beta-shaped";
  return result;
}

}  // namespace natpunch::analyze

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
//    - block: the smallest power of two B (2..32768) for which +1 steps
//      almost never cross a multiple of B: at most 10 % of the
//      steps / B crossings a sequential allocator would make, with at least
//      5 such crossings expected so the absence means something. A block
//      allocator only crosses when its next random block happens to be the
//      neighbour (odds ~1/blocks); every larger B passes too, every smaller
//      one fails, so the smallest passing B is the block size.
//    - sequential: ordered, but no B passes.
// 3. random-order block: the smallest B for which at least 75 % of the
//    transitions stay inside one aligned block of B ports, while the same
//    ports in a random order would stay with odds at most a tenth of that.
//    Inside a block of B0 ports taken in random order, a transition stays
//    in an aligned half (B0 / 2) with odds ~1/2, so 75 % separates B0 from
//    every smaller B; the chance odds (sum of squared block shares) rule
//    out a narrow range or hump where any B holds most ports.
// 4. uniform: KS D against uniform [min, max] within the 1 % critical value
//    1.63 / sqrt(n), plus 0.01 of slack for real data's small misfits.
// 5. beta: the 4-parameter ML fit's KS D within the same bound.
// 6. unknown: none of the above; the evidence still says what was seen.
constexpr double kPreservedThreshold = 0.5;
constexpr double kOrderedThreshold = 0.5;
constexpr double kCrossingRatio = 0.1;
constexpr double kMinExpectedCrossings = 5;
constexpr double kSameBlockThreshold = 0.75;
constexpr double kSameBlockChanceRatio = 0.1;
constexpr double kKsSlack = 0.01;
constexpr std::uint32_t kMaxBlockSize = 32768;
constexpr std::size_t kMaxRepeatedStarts = 10;

// The rows with the session boundaries the whole analysis respects.
struct Sequence {
  std::span<const MappingRow> rows;
  std::vector<std::uint32_t> session;  // per row

  bool continues(std::size_t i) const { return i > 0 && session[i] == session[i - 1]; }
  bool steps_up(std::size_t i) const {
    return continues(i) && rows[i].mapped_port == static_cast<std::uint32_t>(rows[i - 1].mapped_port) + 1;
  }
};

// nullopt with `undecided` set: every block size the data can test was
// ruled out, but larger ones could not be told from sequential.
std::optional<std::uint32_t> find_in_order_block_size(const Sequence& seq, std::size_t steps, BlockEvidence& evidence,
                                                      bool& undecided) {
  undecided = false;
  for (std::uint32_t size = 2; size <= kMaxBlockSize; size *= 2) {
    std::size_t crossings = 0;
    for (std::size_t i = 1; i < seq.rows.size(); ++i)
      if (seq.steps_up(i) && seq.rows[i].mapped_port % size == 0) ++crossings;
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

std::optional<std::uint32_t> find_random_order_block_size(const Sequence& seq, BlockEvidence& evidence) {
  std::vector<std::size_t> port_counts(65536, 0);
  for (const auto& row : seq.rows) ++port_counts[row.mapped_port];
  std::size_t transitions = 0;
  for (std::size_t i = 1; i < seq.rows.size(); ++i)
    if (seq.continues(i)) ++transitions;
  if (transitions == 0) return std::nullopt;
  const double n = static_cast<double>(seq.rows.size());
  std::vector<std::size_t> block_counts;
  for (unsigned shift = 1; (1U << shift) <= kMaxBlockSize; ++shift) {
    const std::uint32_t size = 1U << shift;
    // Shifts, not divisions: this pass runs 15 times over every row.
    std::size_t same = 0;
    for (std::size_t i = 1; i < seq.rows.size(); ++i)
      if (seq.continues(i) && (seq.rows[i].mapped_port >> shift) == (seq.rows[i - 1].mapped_port >> shift)) ++same;
    block_counts.assign(65536 / size, 0);
    for (std::size_t port = 0; port < port_counts.size(); ++port) block_counts[port / size] += port_counts[port];
    double chance = 0;
    for (const std::size_t count : block_counts) chance += (static_cast<double>(count) / n) * (static_cast<double>(count) / n);
    const double fraction = static_cast<double>(same) / static_cast<double>(transitions);
    if (fraction >= kSameBlockThreshold && chance <= kSameBlockChanceRatio * fraction) {
      evidence.same_block_fraction = fraction;
      evidence.same_block_by_chance = chance;
      return size;
    }
  }
  return std::nullopt;
}

// Visits, how they start and end, and their reuse across sessions.
void describe_visits(const Sequence& seq, std::uint32_t size, BlockEvidence& evidence) {
  const auto rows = seq.rows;
  std::size_t aligned = 0, whole = 0, in_visit_transitions = 0, in_visit_steps = 0;
  std::size_t reused_starts = 0, reused_blocks = 0;
  // Stamps instead of clearing a `seen` array per visit: a visit costs its
  // rows, not the block size.
  std::vector<std::uint32_t> seen_in_visit(size, 0);
  constexpr std::uint32_t kNever = 0xffffffffU;
  std::vector<std::uint32_t> start_last_session(65536, kNever);
  std::vector<std::size_t> start_sessions(65536, 0);
  std::vector<std::uint32_t> block_last_session(65536 / size + 1, kNever);

  std::size_t start = 0;
  const auto close = [&](std::size_t end) {
    const std::uint32_t stamp = static_cast<std::uint32_t>(++evidence.visits);
    const std::uint16_t first = rows[start].mapped_port;
    const std::uint32_t session = seq.session[start];
    if (first % 256 == 0) ++aligned;
    std::size_t distinct = 0;
    for (std::size_t i = start; i < end; ++i) {
      auto& mark = seen_in_visit[rows[i].mapped_port % size];
      if (mark != stamp) {
        mark = stamp;
        ++distinct;
      }
      if (i > start) {
        ++in_visit_transitions;
        if (seq.steps_up(i)) ++in_visit_steps;
      }
    }
    if (distinct == size) ++whole;
    if (start_last_session[first] != kNever && start_last_session[first] < session) ++reused_starts;
    if (start_last_session[first] != session) {
      start_last_session[first] = session;
      ++start_sessions[first];
    }
    auto& block_session = block_last_session[first / size];
    if (block_session != kNever && block_session < session) ++reused_blocks;
    block_session = session;
  };
  for (std::size_t i = 1; i < rows.size(); ++i)
    if (!seq.continues(i) || rows[i].mapped_port / size != rows[i - 1].mapped_port / size) {
      close(i);
      start = i;
    }
  close(rows.size());

  const double visits = static_cast<double>(evidence.visits);
  evidence.start_aligned_fraction = static_cast<double>(aligned) / visits;
  evidence.consumed_whole_fraction = static_cast<double>(whole) / visits;
  evidence.in_visit_step_fraction =
      in_visit_transitions ? static_cast<double>(in_visit_steps) / static_cast<double>(in_visit_transitions) : 0;
  evidence.reused_start_fraction = static_cast<double>(reused_starts) / visits;
  evidence.reused_block_fraction = static_cast<double>(reused_blocks) / visits;
  for (std::size_t port = 0; port < start_sessions.size(); ++port)
    if (start_sessions[port] >= 2) evidence.repeated_starts.emplace_back(static_cast<std::uint16_t>(port), start_sessions[port]);
  std::stable_sort(evidence.repeated_starts.begin(), evidence.repeated_starts.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (evidence.repeated_starts.size() > kMaxRepeatedStarts) evidence.repeated_starts.resize(kMaxRepeatedStarts);
}

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
  Sequence seq{rows, assign_sessions(rows, options.session_gap_ms)};
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
  const auto found_block = [&](std::uint32_t size, BlockOrder order, BlockEvidence& block) {
    block.order = order;
    describe_visits(seq, size, block);
    evidence.block = std::move(block);
    result.kind = AllocatorKind::Block;
    result.block_size = size;
    result.block_order = order;
  };
  if (evidence.step_fraction >= kOrderedThreshold) {
    BlockEvidence block;
    bool undecided = false;
    if (auto size = find_in_order_block_size(seq, steps, block, undecided)) {
      found_block(*size, BlockOrder::InOrder, block);
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
  {
    BlockEvidence block;
    if (auto size = find_random_order_block_size(seq, block)) {
      found_block(*size, BlockOrder::Random, block);
      evidence.reason = "ports in random order, but consecutive rows stay inside one aligned block of block_size "
                        "far more often than chance";
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

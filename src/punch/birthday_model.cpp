#include "punch/birthday_model.hpp"

#include <cmath>
#include <limits>

namespace natpunch::punch {

namespace {

bool is_open_unit_probability(double p) { return p > 0.0 && p < 1.0; }  // false for NaN too

// Stirling-series remainder of ln Gamma(x + 1) - [(x + 1/2) ln x - x + ln sqrt(2 pi)].
// For x >= 16 the first omitted term, 1/(1188 x^9), is below 2e-14.
double stirling_remainder(double x) {
  const double inv = 1.0 / x;
  const double inv2 = inv * inv;
  return inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 / 1680.0)));
}

// -ln(1 - u) - u = u^2/2 + u^3/3 + ..., summed directly because forming it
// from log1p would cancel away the digits that matter.
constexpr double kSeriesMaximum = 0.01;
double log1p_tail(double u) {
  double power = u * u;
  double sum = 0.0;
  for (int k = 2; k < 40; ++k) {
    const double term = power / k;
    sum += term;
    if (term < sum * 1e-17) break;
    power *= u;
  }
  return sum;
}

// Direct sums stay exact enough and cheap up to here; beyond it the closed
// form is O(1), which matters for a binary search over 2^32 candidates.
constexpr std::uint64_t kDirectSumLimit = 4096;
constexpr std::uint64_t kStirlingMinimum = 16;

// Smallest n >= start_low with probability(n) >= p, starting from an
// approximate n0: the closed-form inverses can land one off after rounding.
template <class Probability>
std::uint64_t settle(std::uint64_t n0, std::uint64_t start_low, double p, Probability probability) {
  std::uint64_t n = n0 < start_low ? start_low : n0;
  while (probability(n) < p) ++n;
  while (n > start_low && probability(n - 1) >= p) --n;
  return n;
}

}  // namespace

double classic_log_no_collision(std::uint64_t draws, std::uint64_t space) {
  if (draws <= 1) return 0.0;
  if (draws > space) return -std::numeric_limits<double>::infinity();
  const double n_space = static_cast<double>(space);
  if (draws <= kDirectSumLimit) {
    double sum = 0.0;
    for (std::uint64_t i = 1; i < draws; ++i) sum += std::log1p(-static_cast<double>(i) / n_space);
    return sum;
  }
  const std::uint64_t rest = space - draws;
  const double n = static_cast<double>(draws);
  if (rest < kStirlingMinimum) {
    // Only reached when the result is below -4000 or so: P is 1 to double
    // precision, so lgamma's absolute error no longer matters.
    return std::lgamma(n_space + 1.0) - std::lgamma(static_cast<double>(rest) + 1.0) - n * std::log(n_space);
  }
  // ln[space! / ((space - n)! space^n)] with Stirling for both factorials:
  // the huge terms cancel analytically, leaving (y + 1/2) ln(space / y) - n
  // plus small remainders. Subtracting two lgamma values of ~9e10 instead
  // would leave an absolute error near 1e-5, enough to move the 99.9 % answer.
  const double y = static_cast<double>(rest);
  const double u = n / n_space;
  double main_term = 0.0;
  if (u <= kSeriesMaximum) {
    // ln(space / y) = u + tail(u); expanding (y + 1/2) u by hand removes the
    // O(n) cancellation, leaving terms of the size of the result.
    main_term = -n * u + 0.5 * u + (y + 0.5) * log1p_tail(u);
  } else {
    // The result is below -20 here, so the O(n eps) cancellation is tiny in relative terms.
    const double log_ratio = 2 * draws <= space ? -std::log1p(-u) : std::log(n_space / y);
    main_term = (y + 0.5) * log_ratio - n;
  }
  return main_term + stirling_remainder(n_space) - stirling_remainder(y);
}

double classic_collision_probability(std::uint64_t draws, std::uint64_t space) {
  return -std::expm1(classic_log_no_collision(draws, space));
}

std::optional<std::uint64_t> classic_draws_for_probability(double p, std::uint64_t space) {
  if (!is_open_unit_probability(p) || space == 0 || space > kMaxSpace) return std::nullopt;
  // Same comparison as the caller will make with the forward function, so
  // "smallest n reaching p" holds exactly, even at the rounding boundary.
  std::uint64_t lo = 2;
  std::uint64_t hi = space + 1;  // pigeonhole: always a collision
  while (lo < hi) {
    const std::uint64_t mid = lo + (hi - lo) / 2;
    if (classic_collision_probability(mid, space) >= p)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

double classic_draws_approximation(double p, std::uint64_t space) {
  if (!is_open_unit_probability(p)) return std::numeric_limits<double>::quiet_NaN();
  return std::sqrt(2.0 * static_cast<double>(space) * -std::log1p(-p));
}

double nat_pair_success_probability(std::uint64_t probes_per_side, std::uint64_t ports) {
  const double ratio = static_cast<double>(probes_per_side) / static_cast<double>(ports);
  return -std::expm1(-ratio * ratio);
}

std::optional<std::uint64_t> nat_pair_probes_for_probability(double p, std::uint64_t ports) {
  if (!is_open_unit_probability(p) || ports == 0) return std::nullopt;
  const double estimate = std::ceil(static_cast<double>(ports) * std::sqrt(-std::log1p(-p)));
  return settle(static_cast<std::uint64_t>(estimate), 1, p,
                [ports](std::uint64_t n) { return nat_pair_success_probability(n, ports); });
}

double one_hard_side_success_probability(std::uint64_t easy_probes, std::uint64_t hard_mappings,
                                         std::uint64_t ports) {
  if (easy_probes == 0 || hard_mappings == 0) return 0.0;
  if (hard_mappings >= ports) return 1.0;
  const double miss = std::log1p(-static_cast<double>(hard_mappings) / static_cast<double>(ports));
  return -std::expm1(static_cast<double>(easy_probes) * miss);
}

std::optional<std::uint64_t> one_hard_side_probes_for_probability(double p, std::uint64_t hard_mappings,
                                                                  std::uint64_t ports) {
  if (!is_open_unit_probability(p) || ports == 0 || hard_mappings == 0) return std::nullopt;
  if (hard_mappings >= ports) return 1;
  const double miss = std::log1p(-static_cast<double>(hard_mappings) / static_cast<double>(ports));
  const double estimate = std::ceil(std::log1p(-p) / miss);
  return settle(static_cast<std::uint64_t>(estimate), 1, p, [hard_mappings, ports](std::uint64_t n) {
    return one_hard_side_success_probability(n, hard_mappings, ports);
  });
}

std::optional<RoamingEstimate> thesis_roaming_estimate(const RoamingParameters& in) {
  const auto positive = [](double v) { return std::isfinite(v) && v > 0.0; };
  if (!positive(in.pending_timeout_ms) || !positive(in.latency_ms) || !positive(in.probe_interval_ms))
    return std::nullopt;
  if (in.ports == 0 || in.ports > 0xFFFFFFFFULL) return std::nullopt;  // P^2 must fit in 64 bits
  const double per_window = in.pending_timeout_ms / in.probe_interval_ms;
  if (per_window > static_cast<double>(kMaxSpace)) return std::nullopt;

  RoamingEstimate out;
  // The thesis rounds up (120000/2.98 = 40268.46 -> 40269): a probe started
  // before the timeout still counts. The epsilon keeps an exact quotient
  // such as 3000/3 from gaining a probe through floating-point noise.
  out.probes_per_window = static_cast<std::uint64_t>(std::ceil(per_window - 1e-9));
  if (out.probes_per_window == 0) out.probes_per_window = 1;
  out.pair_space = in.ports * in.ports;
  if (out.probes_per_window >= out.pair_space) {
    out.window_probability = 1.0;
    out.windows_needed = 1;
  } else {
    out.window_probability =
        static_cast<double>(out.probes_per_window) / static_cast<double>(out.pair_space);
    // Integer ceil(P^2 / Y): the thesis rounded Y/P^2 to 0.0000004032 before
    // inverting and got 2,480,159 windows; the unrounded value is 2,480,137.
    out.windows_needed = out.pair_space / out.probes_per_window +
                         (out.pair_space % out.probes_per_window != 0 ? 1 : 0);
  }
  out.time_ms = static_cast<double>(out.windows_needed) * in.latency_ms;
  return out;
}

}  // namespace natpunch::punch

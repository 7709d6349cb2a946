#include "analyze/beta_fit.hpp"

#include <algorithm>
#include <boost/math/distributions/beta.hpp>
#include <cmath>
#include <vector>

#include "analyze/goodness_of_fit.hpp"
#include "analyze/nelder_mead.hpp"

namespace natpunch::analyze {

namespace {

// Beyond this many ports the estimate's spread is far below what a profile
// needs, and the fit's cost grows with every sample: keep 1 M rows < 2 s.
constexpr std::size_t kMaxFitSamples = 100'000;

// The allocator floors loc + scale * X, so port p stands for [p, p + 1);
// its midpoint is the continuous value the likelihood sees.
std::vector<double> continuous_sample(std::span<const std::uint16_t> ports) {
  const std::size_t stride = ports.size() > kMaxFitSamples ? (ports.size() + kMaxFitSamples - 1) / kMaxFitSamples : 1;
  std::vector<double> x;
  x.reserve(ports.size() / stride + 1);
  for (std::size_t i = 0; i < ports.size(); i += stride) x.push_back(ports[i] + 0.5);
  std::sort(x.begin(), x.end());
  return x;
}

struct Params {
  double alpha, beta, loc, scale;
};

// The law's support must lie on ports, as an allocator's does
// (nat::validate: loc >= 1, loc + scale <= 65536).
constexpr double kLowestLoc = 1;
constexpr double kHighestEnd = 65536;

double logistic(double v) { return 1 / (1 + std::exp(-v)); }
double logit(double p) { return std::log(p / (1 - p)); }

// Unconstrained coordinates keep every Nelder-Mead point a valid law whose
// support holds all samples and lies on ports: loc between 1 and the
// smallest sample, loc + scale between the largest and 65536, shapes
// positive.
Params decode(const NelderMeadPoint& p, double lo, double hi) {
  const double loc = kLowestLoc + (lo - kLowestLoc) * logistic(p[2]);
  const double end = hi + (kHighestEnd - hi) * logistic(p[3]);
  return Params{std::exp(p[0]), std::exp(p[1]), loc, end - loc};
}

double negative_log_likelihood(const Params& q, std::span<const double> x) {
  // Shapes below 1 make the density unbounded at an end the fit can move
  // onto a sample: no maximum exists there, so keep away.
  if (q.alpha <= 1.0 || q.beta <= 1.0 || q.alpha > 1e4 || q.beta > 1e4) return INFINITY;
  double sum_log_z = 0, sum_log_1mz = 0;
  for (double v : x) {
    const double z = (v - q.loc) / q.scale;
    sum_log_z += std::log(z);
    sum_log_1mz += std::log1p(-z);
  }
  const double n = static_cast<double>(x.size());
  const double log_beta_fn = std::lgamma(q.alpha) + std::lgamma(q.beta) - std::lgamma(q.alpha + q.beta);
  return -((q.alpha - 1) * sum_log_z + (q.beta - 1) * sum_log_1mz - n * (log_beta_fn + std::log(q.scale)));
}

}  // namespace

BetaFit fit_beta(std::span<const std::uint16_t> ports) {
  BetaFit fit;
  const std::vector<double> x = continuous_sample(ports);
  fit.samples = x.size();
  if (x.size() < 2 || x.front() == x.back()) return fit;
  const double lo = x.front(), hi = x.back(), range = hi - lo;
  if (lo <= kLowestLoc || hi >= kHighestEnd) return fit;  // no room for a support on ports

  // Start from the method of moments on a support just wider than the data.
  const double start_loc = lo - 0.01 * range, start_scale = range * 1.02;
  double mean = 0, var = 0;
  for (double v : x) mean += (v - start_loc) / start_scale;
  mean /= static_cast<double>(x.size());
  for (double v : x) var += std::pow((v - start_loc) / start_scale - mean, 2);
  var /= static_cast<double>(x.size());
  const double common = std::max(mean * (1 - mean) / std::max(var, 1e-12) - 1, 2.5);
  const double a0 = std::max(mean * common, 1.1), b0 = std::max((1 - mean) * common, 1.1);

  const auto objective = [&](const NelderMeadPoint& p) { return negative_log_likelihood(decode(p, lo, hi), x); };
  // Where the support's ends start: 1 % of the range beyond the samples,
  // as a share of the room the port space leaves there.
  const auto share = [](double gap, double room) { return logit(std::clamp(gap / room, 1e-6, 1 - 1e-6)); };
  NelderMeadPoint start{std::log(a0), std::log(b0), share(lo - start_loc, lo - kLowestLoc),
                        share(start_loc + start_scale - hi, kHighestEnd - hi)};
  const NelderMeadPoint step{0.3, 0.3, 1.0, 1.0};
  // Restarts from the best point: a single Nelder-Mead run can stall on a
  // ridge, the shapes and the support's ends being strongly correlated.
  NelderMeadResult best;
  best.value = INFINITY;
  for (int round = 0; round < 4; ++round) {
    auto result = nelder_mead(objective, start, step, 1e-10, 2000);
    const bool improved = result.value < best.value - 1e-9 * std::abs(best.value);
    if (result.value < best.value) best = result;
    start = best.best;
    if (!improved && round > 0) break;
  }
  const Params q = decode(best.best, lo, hi);
  fit.alpha = q.alpha;
  fit.beta = q.beta;
  fit.loc = q.loc;
  fit.scale = q.scale;
  fit.log_likelihood = -best.value;
  fit.converged = best.converged;
  const boost::math::beta_distribution<double> law(q.alpha, q.beta);
  // The KS distance is against the discretised law the allocator draws
  // from: P(port <= p) = F((p + 1 - loc) / scale), evaluated at the port
  // (x - 0.5), so the midpoint shift does not show up as misfit.
  fit.ks_d = ks_statistic(x, [&](double v) {
    const double z = (v + 0.5 - q.loc) / q.scale;
    return z <= 0 ? 0.0 : z >= 1 ? 1.0 : boost::math::cdf(law, z);
  });
  fit.ks_p = ks_p_value(fit.ks_d, fit.samples);
  return fit;
}

}  // namespace natpunch::analyze

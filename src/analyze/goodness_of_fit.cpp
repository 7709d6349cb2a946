#include "analyze/goodness_of_fit.hpp"

#include <algorithm>
#include <boost/math/distributions/chi_squared.hpp>
#include <cmath>

namespace natpunch::analyze {

double ks_statistic(std::span<const double> sorted, const std::function<double(double)>& cdf) {
  const double n = static_cast<double>(sorted.size());
  double d = 0;
  double f = 0;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    // Ports are discrete: a million samples hold a few thousand distinct
    // values, and the CDF (a Beta CDF costs ~1 us) is evaluated once per value.
    if (i == 0 || sorted[i] != sorted[i - 1]) f = cdf(sorted[i]);
    d = std::max({d, static_cast<double>(i + 1) / n - f, f - static_cast<double>(i) / n});
  }
  return d;
}

double ks_p_value(double d, std::size_t n) {
  if (n == 0) return 1.0;
  const double root = std::sqrt(static_cast<double>(n));
  const double lambda = (root + 0.12 + 0.11 / root) * d;
  if (lambda < 0.2) return 1.0;  // the series converges slowly there, and the answer is 1 to many digits
  double sum = 0;
  double sign = 1;
  for (int k = 1; k <= 100; ++k) {
    const double term = sign * std::exp(-2.0 * k * k * lambda * lambda);
    sum += term;
    if (std::abs(term) < 1e-12) break;
    sign = -sign;
  }
  return std::clamp(2.0 * sum, 0.0, 1.0);
}

PortHistogram make_port_histogram(std::span<const std::uint16_t> ports, std::uint16_t lo, std::uint16_t hi,
                                  std::size_t bins) {
  PortHistogram h;
  if (hi < lo) return h;
  const std::size_t width = std::size_t{hi} - lo + 1;
  bins = std::clamp<std::size_t>(bins, 1, width);
  h.edges.resize(bins + 1);
  for (std::size_t j = 0; j <= bins; ++j) h.edges[j] = static_cast<double>(lo + j * width / bins);
  h.counts.assign(bins, 0);
  for (const std::uint16_t port : ports) {
    if (port < lo || port > hi) continue;
    // The bin with edges[j] <= port < edges[j+1]: floor((port - lo) * bins / width) is it or one
    // below it (the edges are rounded down), so nudge it into place.
    std::size_t j = std::min(bins - 1, (std::size_t{port} - lo) * bins / width);
    while (j > 0 && h.edges[j] > port) --j;
    while (j + 1 < bins && h.edges[j + 1] <= port) ++j;
    ++h.counts[j];
    ++h.total;
  }
  return h;
}

std::vector<double> expected_counts(const PortHistogram& histogram, const std::function<double(double)>& cdf) {
  std::vector<double> expected(histogram.counts.size());
  const double n = static_cast<double>(histogram.total);
  for (std::size_t j = 0; j < expected.size(); ++j)
    // Ports edges[j] .. edges[j+1] - 1: P(port <= edges[j+1] - 1) - P(port <= edges[j] - 1).
    expected[j] = n * std::max(0.0, cdf(histogram.edges[j + 1] - 1) - cdf(histogram.edges[j] - 1));
  return expected;
}

ChiSquareTest chi_square_test(std::span<const std::size_t> observed, std::span<const double> expected,
                              std::size_t estimated_parameters) {
  constexpr double kMinExpected = 5;
  std::vector<double> o, e;  // merged bins
  double open_o = 0, open_e = 0;
  const std::size_t n = std::min(observed.size(), expected.size());
  for (std::size_t j = 0; j < n; ++j) {
    open_o += static_cast<double>(observed[j]);
    open_e += expected[j];
    if (open_e >= kMinExpected) {
      o.push_back(open_o);
      e.push_back(open_e);
      open_o = open_e = 0;
    }
  }
  // A thin tail left over joins the last full bin.
  if (!o.empty()) {
    o.back() += open_o;
    e.back() += open_e;
  } else if (open_e > 0) {
    o.push_back(open_o);
    e.push_back(open_e);
  }
  ChiSquareTest test;
  test.bins = o.size();
  for (std::size_t j = 0; j < o.size(); ++j) test.statistic += (o[j] - e[j]) * (o[j] - e[j]) / e[j];
  if (test.bins <= estimated_parameters + 1) return test;  // nothing left to test: dof 0, p 1
  test.dof = test.bins - 1 - estimated_parameters;
  const boost::math::chi_squared_distribution<double> law(static_cast<double>(test.dof));
  test.p = boost::math::cdf(boost::math::complement(law, test.statistic));
  return test;
}

}  // namespace natpunch::analyze

#include "analyze/goodness_of_fit.hpp"

#include <algorithm>
#include <cmath>

namespace natpunch::analyze {

double ks_statistic(std::span<const double> sorted, const std::function<double(double)>& cdf) {
  const double n = static_cast<double>(sorted.size());
  double d = 0;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const double f = cdf(sorted[i]);
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

}  // namespace natpunch::analyze

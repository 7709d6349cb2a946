#include "analyze/nelder_mead.hpp"

#include <algorithm>
#include <cmath>

namespace natpunch::analyze {

NelderMeadResult nelder_mead(const std::function<double(const NelderMeadPoint&)>& f, const NelderMeadPoint& start,
                             const NelderMeadPoint& step, double tolerance, std::size_t max_evaluations) {
  constexpr std::size_t n = kNelderMeadDims;
  // Standard coefficients (Nelder & Mead 1965; Lagarias et al. 1998).
  constexpr double kReflect = 1.0, kExpand = 2.0, kContract = 0.5, kShrink = 0.5;
  NelderMeadResult result;
  std::array<NelderMeadPoint, n + 1> simplex;
  std::array<double, n + 1> values{};
  const auto eval = [&](const NelderMeadPoint& x) {
    ++result.evaluations;
    const double v = f(x);
    return std::isnan(v) ? INFINITY : v;
  };
  simplex[0] = start;
  for (std::size_t i = 0; i < n; ++i) {
    simplex[i + 1] = start;
    simplex[i + 1][i] += step[i];
  }
  for (std::size_t i = 0; i <= n; ++i) values[i] = eval(simplex[i]);

  std::array<std::size_t, n + 1> order{};
  while (result.evaluations < max_evaluations) {
    for (std::size_t i = 0; i <= n; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
    const std::size_t best = order[0], worst = order[n], second_worst = order[n - 1];
    if (std::isfinite(values[worst]) &&
        std::abs(values[worst] - values[best]) <= tolerance * (1.0 + std::abs(values[best]))) {
      result.converged = true;
      break;
    }
    NelderMeadPoint centroid{};
    for (std::size_t i = 0; i <= n; ++i)
      if (i != worst)
        for (std::size_t d = 0; d < n; ++d) centroid[d] += simplex[i][d] / static_cast<double>(n);
    const auto along = [&](double t) {
      NelderMeadPoint x;
      for (std::size_t d = 0; d < n; ++d) x[d] = centroid[d] + t * (simplex[worst][d] - centroid[d]);
      return x;
    };
    const NelderMeadPoint reflected = along(-kReflect);
    const double reflected_value = eval(reflected);
    if (reflected_value < values[best]) {
      const NelderMeadPoint expanded = along(-kExpand);
      const double expanded_value = eval(expanded);
      if (expanded_value < reflected_value) {
        simplex[worst] = expanded;
        values[worst] = expanded_value;
      } else {
        simplex[worst] = reflected;
        values[worst] = reflected_value;
      }
      continue;
    }
    if (reflected_value < values[second_worst]) {
      simplex[worst] = reflected;
      values[worst] = reflected_value;
      continue;
    }
    const bool outside = reflected_value < values[worst];
    const NelderMeadPoint contracted = along(outside ? -kContract : kContract);
    const double contracted_value = eval(contracted);
    if (contracted_value < (outside ? reflected_value : values[worst])) {
      simplex[worst] = contracted;
      values[worst] = contracted_value;
      continue;
    }
    for (std::size_t i = 0; i <= n; ++i) {
      if (i == best) continue;
      for (std::size_t d = 0; d < n; ++d) simplex[i][d] = simplex[best][d] + kShrink * (simplex[i][d] - simplex[best][d]);
      values[i] = eval(simplex[i]);
    }
  }
  const auto best = static_cast<std::size_t>(std::min_element(values.begin(), values.end()) - values.begin());
  result.best = simplex[best];
  result.value = values[best];
  return result;
}

}  // namespace natpunch::analyze

#pragma once
// A small derivative-free minimiser for the Beta fit's 4 parameters: the
// log-likelihood's gradient in loc and scale is awkward near the support's
// ends, and 4 dimensions are where Nelder-Mead is still dependable.
#include <array>
#include <cstddef>
#include <functional>

namespace natpunch::analyze {

inline constexpr std::size_t kNelderMeadDims = 4;
using NelderMeadPoint = std::array<double, kNelderMeadDims>;

struct NelderMeadResult {
  NelderMeadPoint best{};
  double value = 0;
  std::size_t evaluations = 0;
  bool converged = false;  // the simplex's values agree within `tolerance`
};

// Minimises `f` from `start`, with initial steps `step` per coordinate.
// `f` may return +infinity for points outside its domain.
NelderMeadResult nelder_mead(const std::function<double(const NelderMeadPoint&)>& f, const NelderMeadPoint& start,
                             const NelderMeadPoint& step, double tolerance, std::size_t max_evaluations);

}  // namespace natpunch::analyze

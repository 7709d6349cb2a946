#pragma once
// Maximum-likelihood fit of a four-parameter Beta law
// port ~ loc + scale * Beta(alpha, beta), the form the thesis fits to
// Vodafone NL's mappings (B(2.242, 5.008, 4630, 13937), Section VI-A 4).
#include <cstddef>
#include <cstdint>
#include <span>

#include "analyze/goodness_of_fit.hpp"

namespace natpunch::analyze {

struct BetaFit {
  double alpha = 0;
  double beta = 0;
  double loc = 0;
  double scale = 0;
  double log_likelihood = 0;
  double ks_d = 0;  // KS distance of the ports to the fitted law
  double ks_p = 0;  // its p-value (optimistic: the law was fitted to the same ports)
  // Binned goodness of fit on every port (not only the fit's subsample),
  // 4 degrees of freedom taken by the fitted parameters; filled in by
  // detect_allocator().
  ChiSquareTest chi_square;
  std::size_t samples = 0;  // ports the fit used (a deterministic subsample of large inputs)
  bool converged = false;
};

// `ports` in any order; needs at least 2 distinct values.
BetaFit fit_beta(std::span<const std::uint16_t> ports);

}  // namespace natpunch::analyze

#pragma once
// Maximum-likelihood fit of a four-parameter Beta law
// port ~ loc + scale * Beta(alpha, beta), the form the thesis fits to
// Vodafone NL's mappings (B(2.242, 5.008, 4630, 13937), Section VI-A 4).
#include <cstddef>
#include <cstdint>
#include <span>

namespace natpunch::analyze {

struct BetaFit {
  double alpha = 0;
  double beta = 0;
  double loc = 0;
  double scale = 0;
  double log_likelihood = 0;
  double ks_d = 0;  // KS distance of the ports to the fitted law
  std::size_t samples = 0;  // ports the fit used (a deterministic subsample of large inputs)
  bool converged = false;
};

// `ports` in any order; needs at least 2 distinct values.
BetaFit fit_beta(std::span<const std::uint16_t> ports);

}  // namespace natpunch::analyze

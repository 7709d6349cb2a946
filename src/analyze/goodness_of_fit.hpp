#pragma once
// Kolmogorov-Smirnov statistics for the allocator detector's "is it this
// law?" questions.
#include <functional>
#include <span>

namespace natpunch::analyze {

// D = sup |F_n - F| for `sorted` samples against the continuous CDF `cdf`.
double ks_statistic(std::span<const double> sorted, const std::function<double(double)>& cdf);

// The asymptotic p-value of D for n samples (Kolmogorov's series with
// Stephens' small-n correction). With parameters estimated from the same
// data it is optimistic, so the detector also reports D itself.
double ks_p_value(double d, std::size_t n);

}  // namespace natpunch::analyze

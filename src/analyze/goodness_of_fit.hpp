#pragma once
// Goodness-of-fit statistics for the allocator detector's "is it this
// law?" questions: Kolmogorov-Smirnov on the raw ports and Pearson's
// chi-square on a histogram of them.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace natpunch::analyze {

// D = sup |F_n - F| for `sorted` samples against the continuous CDF `cdf`.
double ks_statistic(std::span<const double> sorted, const std::function<double(double)>& cdf);

// The asymptotic p-value of D for n samples (Kolmogorov's series with
// Stephens' small-n correction). With parameters estimated from the same
// data it is optimistic, so the detector also reports D itself.
double ks_p_value(double d, std::size_t n);

// Counts of ports in `bins` equal-width bins over [lo, hi] (integer ports;
// bin j holds ports edges[j] .. edges[j + 1] - 1, so bins differ in width by
// at most one port). Also what the port-histogram figure draws.
struct PortHistogram {
  std::vector<double> edges;  // bins + 1 edges; edges.front() == lo, edges.back() == hi + 1
  std::vector<std::size_t> counts;
  std::size_t total = 0;
};
PortHistogram make_port_histogram(std::span<const std::uint16_t> ports, std::uint16_t lo, std::uint16_t hi,
                                  std::size_t bins);

// Expected count per bin of `histogram.total` ports drawn from the law with
// P(port <= p) = cdf(p).
std::vector<double> expected_counts(const PortHistogram& histogram, const std::function<double(double)>& cdf);

struct ChiSquareTest {
  double statistic = 0;
  std::size_t bins = 0;  // after merging neighbours until each expects >= 5
  std::size_t dof = 0;   // bins - 1 - estimated parameters
  double p = 1;
};

// Pearson's test of observed against expected counts. Neighbouring bins are
// merged until each expects at least 5 (the usual validity rule, which the
// Beta law's thin tails need). `estimated_parameters` fitted from the same
// data each cost one degree of freedom.
ChiSquareTest chi_square_test(std::span<const std::size_t> observed, std::span<const double> expected,
                              std::size_t estimated_parameters);

}  // namespace natpunch::analyze

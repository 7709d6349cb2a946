#include "analyze/plot_data.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "analyze/goodness_of_fit.hpp"

namespace natpunch::analyze {

std::string mappings_csv(std::span<const MappingRow> rows, double session_gap_ms) {
  std::string out = "row,time_s,session,local_port,mapped_port,server_port\n";
  out.reserve(out.size() + rows.size() * 40);
  const auto sessions = assign_sessions(rows, session_gap_ms);
  const double t0 = rows.empty() ? 0 : rows.front().client_time_ms;
  char line[128];
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    const int n = std::snprintf(line, sizeof line, "%zu,%.3f,%u,%u,%u,%u\n", i, (r.client_time_ms - t0) / 1000.0,
                                sessions[i], unsigned{r.local_port}, unsigned{r.mapped_port}, unsigned{r.server_port});
    if (n > 0) out.append(line, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof line - 1));
  }
  return out;
}

std::string run_lengths_csv(const AllocatorEvidence& evidence) {
  std::string out = "length,runs\n";
  for (const auto& [length, runs] : evidence.run_lengths) out += std::to_string(length) + "," + std::to_string(runs) + "\n";
  return out;
}

std::string histogram_csv(std::span<const MappingRow> rows, const DetectedAllocator& detected) {
  std::string out = "bin_lo,bin_hi,count,expected\n";
  if (rows.empty()) return out;
  std::vector<std::uint16_t> ports;
  ports.reserve(rows.size());
  for (const auto& row : rows) ports.push_back(row.mapped_port);
  const auto [lo, hi] = std::minmax_element(ports.begin(), ports.end());
  const std::size_t bins = std::clamp<std::size_t>(ports.size() / 50, 10, 200);
  const auto histogram = make_port_histogram(ports, *lo, *hi, bins);
  std::vector<double> expected;
  if (const auto cdf = fitted_cdf(detected)) expected = expected_counts(histogram, *cdf);
  char line[128];
  for (std::size_t j = 0; j < histogram.counts.size(); ++j) {
    int n = 0;
    const auto first = static_cast<unsigned>(histogram.edges[j]), last = static_cast<unsigned>(histogram.edges[j + 1] - 1);
    if (expected.empty()) n = std::snprintf(line, sizeof line, "%u,%u,%zu,\n", first, last, histogram.counts[j]);
    else n = std::snprintf(line, sizeof line, "%u,%u,%zu,%.3f\n", first, last, histogram.counts[j], expected[j]);
    if (n > 0) out.append(line, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof line - 1));
  }
  return out;
}

}  // namespace natpunch::analyze

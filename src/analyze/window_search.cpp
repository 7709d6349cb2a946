#include "analyze/window_search.hpp"

#include <algorithm>
#include <boost/math/distributions/poisson.hpp>
#include <cstdlib>

namespace natpunch::analyze {

namespace {

constexpr double kCrossingRatio = 0.1;
constexpr double kMinExpectedCrossings = 5;
// Family-wise odds that some offset of `size` escapes sequential crossings
// by chance.
constexpr double kOffsetFalseAlarm = 1e-3;
constexpr double kStayThreshold = 0.75;
constexpr double kStayChanceRatio = 0.1;
constexpr std::uint32_t kMaxWindow = 32768;

double poisson_cdf(std::size_t k, double mean) {
  if (mean <= 0) return 1.0;
  return boost::math::cdf(boost::math::poisson_distribution<double>(mean), static_cast<double>(k));
}

}  // namespace

InOrderSearch find_in_order_window(const SessionSequence& seq, std::size_t steps) {
  InOrderSearch search;
  std::vector<std::size_t> landings;
  for (std::uint32_t size = 2; size <= kMaxWindow; size *= 2) {
    const double expected = static_cast<double>(steps) / size;
    if (expected < kMinExpectedCrossings) {
      search.undecided = true;
      return search;
    }
    // A +1 step onto port p crosses the boundary of every grid whose
    // offset is p mod size.
    landings.assign(size, 0);
    for (std::size_t i = 1; i < seq.rows.size(); ++i)
      if (seq.steps_up(i)) ++landings[seq.rows[i].mapped_port % size];
    const auto fewest = static_cast<std::uint32_t>(std::min_element(landings.begin(), landings.end()) - landings.begin());
    // Offset 0 is the thesis's block: one test, no search among offsets.
    const std::uint32_t offset = landings[0] <= kCrossingRatio * expected ? 0 : fewest;
    const std::size_t crossings = landings[offset];
    const bool few = static_cast<double>(crossings) <= kCrossingRatio * expected;
    const bool not_chance = offset == 0 || size * poisson_cdf(crossings, expected) <= kOffsetFalseAlarm;
    if (few && not_chance) {
      search.grid = WindowGrid{size, offset};
      search.crossings = crossings;
      search.expected_sequential_crossings = expected;
      return search;
    }
  }
  return search;
}

RandomOrderSearch find_random_order_window(const SessionSequence& seq) {
  RandomOrderSearch search;
  std::size_t transitions = 0;
  for (std::size_t i = 1; i < seq.rows.size(); ++i)
    if (seq.continues(i)) ++transitions;
  if (transitions == 0) return search;
  std::vector<std::size_t> port_counts(65536, 0);
  for (const auto& row : seq.rows) ++port_counts[row.mapped_port];
  const double n = static_cast<double>(seq.rows.size());

  std::vector<std::int64_t> crossing_delta;
  std::vector<std::size_t> window_counts;
  for (std::uint32_t size = 2; size <= kMaxWindow; size *= 2) {
    // A transition a -> b with 0 < |b - a| < size leaves the window for
    // exactly the offsets (min + 1 .. max) mod size: a cyclic interval,
    // added to a difference array so every offset costs O(1).
    crossing_delta.assign(size + 1, 0);
    std::size_t close = 0;
    for (std::size_t i = 1; i < seq.rows.size(); ++i) {
      if (!seq.continues(i)) continue;
      const std::uint32_t a = seq.rows[i - 1].mapped_port, b = seq.rows[i].mapped_port;
      const std::uint32_t lo = std::min(a, b), hi = std::max(a, b);
      if (hi - lo >= size) continue;
      ++close;
      if (hi == lo) continue;
      const std::uint32_t first = (lo + 1) % size, last = hi % size;  // inclusive
      ++crossing_delta[first];
      --crossing_delta[last + 1];
      if (first > last) {  // wraps past size - 1
        ++crossing_delta[0];
      }
    }
    std::uint32_t best_offset = 0;
    std::int64_t best_crossings = 0, running = 0;
    for (std::uint32_t offset = 0; offset < size; ++offset) {
      running += crossing_delta[offset];
      if (offset == 0 || running < best_crossings) {
        best_crossings = running;
        best_offset = offset;
      }
    }
    const double fraction = static_cast<double>(close - static_cast<std::size_t>(best_crossings)) /
                            static_cast<double>(transitions);
    const WindowGrid grid{size, best_offset};
    window_counts.assign(65536 / size + 2, 0);
    for (std::uint32_t port = 0; port < port_counts.size(); ++port)
      window_counts[grid.index(static_cast<std::uint16_t>(port))] += port_counts[port];
    double chance = 0;
    for (const std::size_t count : window_counts) chance += (static_cast<double>(count) / n) * (static_cast<double>(count) / n);
    if (fraction >= kStayThreshold && chance <= kStayChanceRatio * fraction) {
      search.grid = grid;
      search.stay_fraction = fraction;
      search.stay_by_chance = chance;
      return search;
    }
  }
  return search;
}

double stay_fraction(const SessionSequence& seq, const WindowGrid& grid) {
  std::size_t transitions = 0, stays = 0;
  for (std::size_t i = 1; i < seq.rows.size(); ++i) {
    if (!seq.continues(i)) continue;
    ++transitions;
    if (grid.index(seq.rows[i].mapped_port) == grid.index(seq.rows[i - 1].mapped_port)) ++stays;
  }
  return transitions ? static_cast<double>(stays) / static_cast<double>(transitions) : 0;
}

}  // namespace natpunch::analyze

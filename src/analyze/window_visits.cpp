#include "analyze/window_visits.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <unordered_map>

namespace natpunch::analyze {

namespace {

constexpr std::size_t kMaxRepeatedStarts = 10;
constexpr double kUsedUpShare = 0.9;
constexpr std::size_t kMinCompleteVisits = 3;

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  if (values.size() % 2 == 1) return *middle;
  const double upper = *middle;
  return (upper + *std::max_element(values.begin(), middle)) / 2;
}

double coefficient_of_variation(const std::vector<double>& values) {
  if (values.size() < 2) return 0;
  double mean = 0;
  for (double v : values) mean += v;
  mean /= static_cast<double>(values.size());
  if (mean <= 0) return 0;
  double variance = 0;
  for (double v : values) variance += (v - mean) * (v - mean);
  variance /= static_cast<double>(values.size());
  return std::sqrt(variance) / mean;
}

std::uint16_t clamp_port(std::int64_t port) { return static_cast<std::uint16_t>(std::clamp<std::int64_t>(port, 0, 65535)); }

}  // namespace

std::string_view to_string(ResetRule rule) { return rule == ResetRule::Hold ? "hold" : "mappings"; }

VisitEvidence describe_visits(const SessionSequence& seq, const WindowGrid& grid) {
  VisitEvidence evidence;
  const auto rows = seq.rows;
  if (rows.empty()) return evidence;
  const std::uint32_t size = grid.size;
  std::size_t aligned = 0, whole = 0, in_visit_transitions = 0, in_visit_steps = 0;
  std::size_t reused_starts = 0, reused_windows = 0;
  std::vector<double> complete_mappings, complete_holds, complete_distinct;
  // Stamps instead of clearing a `seen` array per visit: a visit costs its
  // rows, not the window size.
  std::vector<std::uint32_t> seen_in_visit(size, 0);
  constexpr std::uint32_t kNever = 0xffffffffU;
  std::vector<std::uint32_t> start_last_session(65536, kNever);
  std::vector<std::size_t> start_sessions(65536, 0);
  std::vector<std::uint32_t> window_last_session(65536 / size + 2, kNever);
  std::uint32_t lowest = 0xffffffffU, highest = 0;
  std::array<std::uint32_t, 2> recent{kNever, kNever};  // the session's last two windows, latest first
  std::uint32_t recent_session = kNever;

  std::size_t start = 0;
  const auto close = [&](std::size_t end) {
    const std::uint32_t stamp = static_cast<std::uint32_t>(++evidence.visits);
    const std::uint16_t first = rows[start].mapped_port;
    const std::uint32_t window = grid.index(first);
    const std::uint32_t session = seq.session[start];
    const std::int64_t window_first = grid.first_port(window);
    if (first == window_first) ++aligned;
    std::size_t distinct = 0;
    for (std::size_t i = start; i < end; ++i) {
      auto& mark = seen_in_visit[(rows[i].mapped_port + size - grid.offset) % size];
      if (mark != stamp) {
        mark = stamp;
        ++distinct;
      }
      if (i > start) {
        ++in_visit_transitions;
        const std::uint32_t step = (rows[i].mapped_port + size - rows[i - 1].mapped_port) % size;
        if (step == 1) ++in_visit_steps;
      }
    }
    if (distinct == size) ++whole;
    if (start > 0 && seq.continues(start) && end < rows.size() && seq.continues(end)) {
      complete_mappings.push_back(static_cast<double>(end - start));
      complete_holds.push_back((rows[end].client_time_ms - rows[start].client_time_ms) / 1000.0);
      complete_distinct.push_back(static_cast<double>(distinct));
    }
    if (start_last_session[first] != kNever && start_last_session[first] < session) ++reused_starts;
    if (start_last_session[first] != session) {
      start_last_session[first] = session;
      ++start_sessions[first];
    }
    auto& window_session = window_last_session[window];
    if (window_session != kNever && window_session < session) ++reused_windows;
    // A return to one of the last two windows of the session (some logs
    // alternate between two) is no new draw of the placement.
    if (session != recent_session) recent = {kNever, kNever};
    if (window != recent[0] && window != recent[1])
      evidence.window_centres.push_back(clamp_port(window_first + size / 2));
    recent = {window, recent[0]};
    recent_session = session;
    window_session = session;
    lowest = std::min(lowest, window);
    highest = std::max(highest, window);
  };
  for (std::size_t i = 1; i < rows.size(); ++i)
    if (!seq.continues(i) || grid.index(rows[i].mapped_port) != grid.index(rows[i - 1].mapped_port)) {
      close(i);
      start = i;
    }
  close(rows.size());

  const double visits = static_cast<double>(evidence.visits);
  evidence.complete_visits = complete_mappings.size();
  evidence.start_aligned_fraction = static_cast<double>(aligned) / visits;
  evidence.consumed_whole_fraction = static_cast<double>(whole) / visits;
  evidence.in_visit_step_fraction =
      in_visit_transitions ? static_cast<double>(in_visit_steps) / static_cast<double>(in_visit_transitions) : 0;
  evidence.median_mappings = median(complete_mappings);
  evidence.mappings_cv = coefficient_of_variation(complete_mappings);
  evidence.median_hold_s = median(complete_holds);
  evidence.hold_cv = coefficient_of_variation(complete_holds);
  evidence.median_distinct_ports = median(complete_distinct);
  evidence.reused_start_fraction = static_cast<double>(reused_starts) / visits;
  evidence.reused_block_fraction = static_cast<double>(reused_windows) / visits;
  for (std::size_t port = 0; port < start_sessions.size(); ++port)
    if (start_sessions[port] >= 2) evidence.repeated_starts.emplace_back(static_cast<std::uint16_t>(port), start_sessions[port]);
  std::stable_sort(evidence.repeated_starts.begin(), evidence.repeated_starts.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (evidence.repeated_starts.size() > kMaxRepeatedStarts) evidence.repeated_starts.resize(kMaxRepeatedStarts);
  evidence.lowest_window_start = clamp_port(grid.first_port(lowest));
  evidence.highest_window_end = clamp_port(grid.first_port(highest) + size - 1);
  std::vector<std::uint32_t> windows;
  windows.reserve(evidence.window_centres.size());
  for (const auto centre : evidence.window_centres) windows.push_back(grid.index(centre));
  std::sort(windows.begin(), windows.end());
  evidence.distinct_windows = static_cast<std::size_t>(std::unique(windows.begin(), windows.end()) - windows.begin());
  return evidence;
}

ResetDecision decide_reset(const VisitEvidence& visits, const WindowGrid& grid, bool in_order) {
  ResetDecision decision;
  decision.mappings = grid.size;
  if (visits.complete_visits < kMinCompleteVisits) {
    decision.why = "too few complete visits to tell; assumed: until the window is used up";
    return decision;
  }
  if (in_order && visits.median_distinct_ports >= kUsedUpShare * grid.size) {
    decision.why = "in order, and a stay ends when the window is used up";
    return decision;
  }
  if (visits.hold_cv < visits.mappings_cv) {
    decision.rule = ResetRule::Hold;
    decision.hold_s = visits.median_hold_s;
    decision.why = "a stay lasts a steadier time than number of mappings";
    return decision;
  }
  decision.mappings = static_cast<std::uint32_t>(std::max(1.0, std::round(visits.median_mappings)));
  decision.why = "a stay lasts a steadier number of mappings than time";
  return decision;
}

}  // namespace natpunch::analyze

#pragma once
// A *visit* is a maximal stretch of rows of one session whose mapped ports
// all lie in one window: one stay of the subscriber in a window (the
// thesis's "port group" for KPN). Visits tell what ends a stay (the reset
// rule: a number of mappings, or a time) and where windows sit (one sample
// per new window, so a thousand mappings in one window weigh as one draw of
// the NAT's placement, not a thousand).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "analyze/window_search.hpp"

namespace natpunch::analyze {

// What makes a subscriber leave its window for a new one.
enum class ResetRule {
  Mappings,  // after a number of mappings in it (in order: the window used up)
  Hold,      // after holding it for a time (the real Vodafone NL: ~61 s)
};

std::string_view to_string(ResetRule rule);  // "mappings", "hold"

struct VisitEvidence {
  std::size_t visits = 0;
  // Visits entered by a jump from another window and left by one, inside
  // one session: the only ones whose length says what ends a stay.
  std::size_t complete_visits = 0;
  double start_aligned_fraction = 0;   // the visit's first port is its window's first port (KPN: 36.9 %)
  double consumed_whole_fraction = 0;  // every port of the window was seen in the visit (KPN: 32.3 %)
  // Of the row-to-row transitions inside visits, the share that are +1
  // steps (cyclic inside the window): near 1 in order, near 1/size at random.
  double in_visit_step_fraction = 0;
  // Complete visits: median mappings and median time from the visit's
  // first mapping to the next visit's first, with their coefficients of
  // variation (standard deviation / mean; 0 when fewer than 2 visits).
  double median_mappings = 0;
  double mappings_cv = 0;
  double median_hold_s = 0;
  double hold_cv = 0;
  double median_distinct_ports = 0;
  // Reuse across sessions (the thesis: "the initial random ports were often
  // reused across sessions"): visits whose first port, or whose window,
  // already had a visit in an earlier session. Both 0 with one session.
  double reused_start_fraction = 0;
  double reused_block_fraction = 0;
  // Start ports that began visits in two or more sessions, most sessions
  // first (at most 10): (port, sessions).
  std::vector<std::pair<std::uint16_t, std::size_t>> repeated_starts;
  // One port per new window for the placement tests: the middle of the
  // window. Returning to one of the session's last two windows (some logs
  // alternate between two) is not another draw of where windows sit.
  std::vector<std::uint16_t> window_centres;
  // First ports of the lowest and the highest window visited.
  std::uint16_t lowest_window_start = 0;
  std::uint16_t highest_window_end = 0;
  std::size_t distinct_windows = 0;
};

VisitEvidence describe_visits(const SessionSequence& seq, const WindowGrid& grid);

struct ResetDecision {
  ResetRule rule = ResetRule::Mappings;
  std::uint32_t mappings = 0;  // ResetRule::Mappings
  double hold_s = 0;           // ResetRule::Hold
  const char* why = "";
};

// In order, with complete visits that use at least 90 % of the window's
// ports: the window is used up (mappings = size). Otherwise, with at least
// 3 complete visits, the quantity that varies less between visits
// (relative to its mean) is the rule; a constant send rate cannot tell the
// two apart, logs taken at different rates can. Fewer complete visits:
// mappings = size, said so in `why`.
ResetDecision decide_reset(const VisitEvidence& visits, const WindowGrid& grid, bool in_order);

}  // namespace natpunch::analyze

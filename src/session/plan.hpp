#pragma once
// The punching plan of a session: the stages both peers run, derived from
// the same two NatInfos (each side passes (own, peer)), so their stages
// start together. Pure: no clock, no I/O, table-tested
// (tests/unit/session_plan_test.cpp).
//
//   either side relay-only (--force-relay)  -> no stage: the relay at once
//   a NAT's mapping unknown                 -> first a short hole punch that
//                                              assumes endpoint-independent
//                                              mapping (the common case, and
//                                              nearly free), then what the
//                                              real knowledge calls for
//   otherwise                               -> the one strategy the pair
//                                              calls for (strategy_selection)
// `punch_timeout` bounds the whole plan (default 10 s; zero: only the
// probe budget, minutes at the thesis's rate): after it, the relay.
//
// When stages start: the rendezvous gives both sides a common start (its
// start delay after pairing them), which the strategies that open many
// mappings need -- a birthday attack (naive, improved) or one hard side
// only works when both blasts overlap within the NATs' pending timeouts.
// A direct connect or a simple hole punch needs no simultaneity: a probe
// that reaches the peer's NAT before the peer has sent is dropped, the
// peer's own probe gets through the hole ours opened, and the answers flow
// (the probes repeat every send interval). Those stages begin at
// `paired`, the moment this side learned of the pairing, so an easy pair
// is direct within a few round trips instead of after the start delay;
// their end stays on the common clock (start + their budget), so a later
// stage still starts together on both sides.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "punch/strategy_selection.hpp"

namespace natpunch::session {

struct PlanOptions {
  Duration hole_punch = milliseconds(2000);  // the first stage when a NAT is unknown
  Duration punch_timeout = seconds(10);      // the whole plan; zero: no bound but the probe budget
  std::uint64_t probe_budget = 170000;       // per stage
  bool relay_only = false;                   // either side forced the relay
};

struct Stage {
  punch::StrategyKind kind = punch::StrategyKind::RelayOnly;
  std::string why;             // one line for progress reports
  punch::SideKnowledge local;  // what the stage assumes about each side
  punch::SideKnowledge peer;
  TimePoint start{};
  std::optional<Duration> time_budget;
  std::uint64_t probe_budget = 0;
};

// Whether a strategy's stage must begin at the common start (see above).
bool needs_common_start(punch::StrategyKind kind);

// `start`: the common start; `paired`: this side's pairing moment (no
// later than `start`; nullopt: every stage at the common start).
std::vector<Stage> plan(const punch::SideKnowledge& local, const punch::SideKnowledge& peer, TimePoint start,
                        const PlanOptions& options, std::optional<TimePoint> paired = std::nullopt);

}  // namespace natpunch::session

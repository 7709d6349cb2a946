#include "session/plan.hpp"

namespace natpunch::session {

namespace {

// A stage that needs no common start begins at the pairing; its budget
// grows by the head start, so it ends when it would have.
void start_early(Stage& s, std::optional<TimePoint> paired) {
  if (!paired || *paired >= s.start || needs_common_start(s.kind)) return;
  const Duration head = s.start - *paired;
  s.start = *paired;
  if (s.time_budget) *s.time_budget += head;
}

std::vector<Stage> stages_from_common_start(const punch::SideKnowledge& local, const punch::SideKnowledge& peer,
                                           TimePoint start, const PlanOptions& o) {
  std::vector<Stage> stages;
  if (o.relay_only) return stages;
  // Zero: no cap (a plain Duration: GCC 12 misreads an optional here).
  const Duration total = o.punch_timeout;
  const bool capped = o.punch_timeout > Duration::zero();
  TimePoint at = start;
  const bool unknown = local.mapping == nat::MappingBehavior::Unknown || peer.mapping == nat::MappingBehavior::Unknown;
  if (unknown) {
    auto optimistic = [](punch::SideKnowledge k) {
      if (k.mapping == nat::MappingBehavior::Unknown) k.mapping = nat::MappingBehavior::EndpointIndependent;
      return k;
    };
    Stage s;
    s.local = optimistic(local);
    s.peer = optimistic(peer);
    s.start = at;
    const auto choice = punch::choose_strategy(s.local, s.peer);
    s.kind = choice.kind;
    s.why = std::string(choice.why) + " (NAT behaviour unknown: assumed endpoint-independent first)";
    Duration budget = o.hole_punch;
    if (capped && total < budget) budget = total;
    s.time_budget = budget;
    s.probe_budget = o.probe_budget;
    stages.push_back(s);
    at += budget;
  }
  Stage s;
  s.local = local;
  s.peer = peer;
  s.start = at;
  const auto choice = punch::choose_strategy(local, peer);
  s.kind = choice.kind;
  s.why = std::string(choice.why);
  if (capped) {
    const Duration left = start + total - at;
    if (left <= Duration::zero()) return stages;
    s.time_budget = left;
  }
  s.probe_budget = o.probe_budget;
  // What the real knowledge calls for is what the optimistic stage
  // already runs: it simply goes on for the rest of the bound.
  if (!stages.empty() && s.kind == stages.front().kind) {
    stages.front().time_budget = capped ? std::optional<Duration>(total) : std::nullopt;
    return stages;
  }
  stages.push_back(s);
  return stages;
}

}  // namespace

bool needs_common_start(punch::StrategyKind kind) {
  switch (kind) {
    case punch::StrategyKind::Direct:
    case punch::StrategyKind::HolePunch:
    case punch::StrategyKind::RelayOnly: return false;
    case punch::StrategyKind::OneHardSide:
    case punch::StrategyKind::NaiveBirthday:
    case punch::StrategyKind::ImprovedBirthday: return true;
  }
  return true;
}

std::vector<Stage> plan(const punch::SideKnowledge& local, const punch::SideKnowledge& peer, TimePoint start,
                        const PlanOptions& o, std::optional<TimePoint> paired) {
  std::vector<Stage> stages = stages_from_common_start(local, peer, start, o);
  // Only the first stage can begin before the common start.
  if (!stages.empty()) start_early(stages.front(), paired);
  return stages;
}

}  // namespace natpunch::session

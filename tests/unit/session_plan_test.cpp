// The punching plan (session/plan.hpp), as a table: what each side knows
// about its NAT x what it learns about the peer's -> the stages both run,
// their kinds and budgets. Every plan under the default options ends within
// the default bound (issue 22: an unknown pair, prc x sym, punched for
// minutes without a route).
#include "session/plan.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <natpunch/session.hpp>

#include "io/peer_session.hpp"

namespace natpunch::session {
namespace {

using punch::SideKnowledge;
using punch::StrategyKind;
using M = nat::MappingBehavior;
using F = nat::FilteringBehavior;

constexpr TimePoint kStart = kTimeZero + seconds(100);

struct Side {
  const char* name;
  SideKnowledge knowledge;
};

SideKnowledge side(M mapping, F filtering, std::optional<nat::AllocatorSpec> allocator = std::nullopt) {
  SideKnowledge k;
  k.mapping = mapping;
  k.filtering = filtering;
  k.allocator = allocator;
  k.observed_port = 40000;  // every side registered
  return k;
}

const Side kUnknown{"unknown", side(M::Unknown, F::Unknown)};
const Side kPublic{"public", side(M::None, F::None)};
const Side kFullCone{"fc", side(M::EndpointIndependent, F::EndpointIndependent)};
const Side kPrc{"prc", side(M::EndpointIndependent, F::AddressAndPortDependent)};
const Side kSym{"sym", side(M::AddressAndPortDependent, F::AddressAndPortDependent)};
const Side kKpn{"kpn", side(M::AddressAndPortDependent, F::AddressAndPortDependent, nat::BlockSpec{})};

struct Row {
  const Side* local;
  const Side* peer;
  std::vector<StrategyKind> stages;
};

using K = StrategyKind;
const Row kTable[] = {
    {&kUnknown, &kUnknown, {K::HolePunch, K::ImprovedBirthday}},
    {&kUnknown, &kPublic, {K::Direct}},
    {&kUnknown, &kFullCone, {K::Direct}},
    {&kUnknown, &kPrc, {K::HolePunch, K::OneHardSide}},
    {&kUnknown, &kSym, {K::OneHardSide, K::ImprovedBirthday}},
    {&kUnknown, &kKpn, {K::OneHardSide, K::ImprovedBirthday}},
    {&kPublic, &kSym, {K::Direct}},
    {&kFullCone, &kKpn, {K::Direct}},
    {&kPrc, &kPrc, {K::HolePunch}},
    {&kPrc, &kSym, {K::OneHardSide}},
    {&kPrc, &kKpn, {K::OneHardSide}},
    {&kSym, &kSym, {K::ImprovedBirthday}},
    {&kSym, &kKpn, {K::ImprovedBirthday}},
    {&kKpn, &kKpn, {K::ImprovedBirthday}},
};

std::string kinds(const std::vector<Stage>& stages) {
  std::string out;
  for (const auto& s : stages) out += std::string(out.empty() ? "" : ", ") + std::string(punch::to_string(s.kind));
  return out;
}

class PlanTable : public testing::TestWithParam<Row> {};

TEST_P(PlanTable, StagesAndTheirBudgetsEndWithinTheDefaultBound) {
  const auto& row = GetParam();
  const PlanOptions options;
  for (const bool swapped : {false, true}) {
    // Both ends derive the same plan from (own, peer).
    const auto& local = swapped ? row.peer->knowledge : row.local->knowledge;
    const auto& peer = swapped ? row.local->knowledge : row.peer->knowledge;
    const auto stages = plan(local, peer, kStart, options);
    SCOPED_TRACE(std::string(row.local->name) + " x " + row.peer->name + (swapped ? " (other end)" : "") + ": " +
                 kinds(stages));
    ASSERT_EQ(stages.size(), row.stages.size());
    TimePoint at = kStart;
    for (std::size_t i = 0; i < stages.size(); ++i) {
      EXPECT_EQ(stages[i].kind, row.stages[i]);
      EXPECT_EQ(stages[i].start, at) << "stage " << i << " starts when the one before ends";
      ASSERT_TRUE(stages[i].time_budget.has_value()) << "stage " << i << " is bounded in time";
      at += *stages[i].time_budget;
      EXPECT_EQ(stages[i].probe_budget, options.probe_budget);
    }
    EXPECT_EQ(at, kStart + options.punch_timeout) << "the plan uses the whole bound, then the relay";
    const bool unknown = row.local == &kUnknown || row.peer == &kUnknown;
    if (unknown && stages.size() > 1) {
      EXPECT_EQ(*stages[0].time_budget, options.hole_punch);
    }
  }
}

// With this side's pairing moment given (500 ms before the common start,
// the server's default delay): a first stage of a direct connect or a hole
// punch begins then, a birthday stage (one hard side, improved) at the
// common start; every stage still ends when it did, so a later stage
// starts together on both sides.
TEST_P(PlanTable, OnlyStagesThatNeedNoCommonStartBeginAtThePairing) {
  const auto& row = GetParam();
  const PlanOptions options;
  const TimePoint paired = kStart - milliseconds(500);
  for (const bool swapped : {false, true}) {
    const auto& local = swapped ? row.peer->knowledge : row.local->knowledge;
    const auto& peer = swapped ? row.local->knowledge : row.peer->knowledge;
    const auto common = plan(local, peer, kStart, options);
    const auto early = plan(local, peer, kStart, options, paired);
    SCOPED_TRACE(std::string(row.local->name) + " x " + row.peer->name + (swapped ? " (other end)" : "") + ": " +
                 kinds(early));
    ASSERT_EQ(early.size(), common.size());
    for (std::size_t i = 0; i < early.size(); ++i) {
      EXPECT_EQ(early[i].kind, common[i].kind);
      const bool at_once = i == 0 && (early[i].kind == K::Direct || early[i].kind == K::HolePunch);
      EXPECT_EQ(needs_common_start(early[i].kind), !(early[i].kind == K::Direct || early[i].kind == K::HolePunch));
      EXPECT_EQ(early[i].start, at_once ? paired : common[i].start) << "stage " << i;
      ASSERT_TRUE(early[i].time_budget.has_value());
      EXPECT_EQ(early[i].start + *early[i].time_budget, common[i].start + *common[i].time_budget)
          << "stage " << i << " ends when it did";
    }
  }
}

TEST(Plan, APairingAtOrAfterTheCommonStartChangesNothing) {
  for (const TimePoint paired : {kStart, kStart + milliseconds(10)}) {
    const auto stages = plan(kPrc.knowledge, kPrc.knowledge, kStart, PlanOptions{}, paired);
    ASSERT_EQ(stages.size(), 1u);
    EXPECT_EQ(stages[0].start, kStart);
    EXPECT_EQ(stages[0].time_budget, PlanOptions{}.punch_timeout);
  }
}

INSTANTIATE_TEST_SUITE_P(NatKinds, PlanTable, testing::ValuesIn(kTable), [](const auto& info) {
  return std::string(info.param.local->name) + "_" + info.param.peer->name;
});

// Issue 22, items 2 and 3: the library's, the CLI driver's and the plan's
// defaults bound punching (they were 0: only the 170,000-probe budget,
// ~8 minutes at 2.98 ms a probe), at learn's 10 s.
TEST(Plan, EveryDefaultBoundsPunchingAtTenSeconds) {
  EXPECT_EQ(PlanOptions{}.punch_timeout, seconds(10));
  EXPECT_EQ(Duration(natpunch::SessionOptions{}.punch_timeout), PlanOptions{}.punch_timeout);
  EXPECT_EQ(io::PunchPlan{}.punch_timeout, PlanOptions{}.punch_timeout);
  EXPECT_EQ(Duration(natpunch::SessionOptions{}.hole_punch_time), PlanOptions{}.hole_punch);
}

TEST(Plan, AStageTheRealKnowledgeRepeatsGoesOnForTheWholeBound) {
  const auto bounded = plan(kUnknown.knowledge, kPublic.knowledge, kStart, PlanOptions{});
  ASSERT_EQ(bounded.size(), 1u);
  EXPECT_EQ(bounded[0].time_budget, seconds(10));
  PlanOptions unbounded;
  unbounded.punch_timeout = Duration::zero();
  const auto open = plan(kUnknown.knowledge, kPublic.knowledge, kStart, unbounded);
  ASSERT_EQ(open.size(), 1u);
  EXPECT_FALSE(open[0].time_budget.has_value());
}

TEST(Plan, RelayOnlyHasNoStage) {
  PlanOptions options;
  options.relay_only = true;
  EXPECT_TRUE(plan(kPrc.knowledge, kPrc.knowledge, kStart, options).empty());
}

TEST(Plan, ZeroTimeoutLeavesOnlyTheProbeBudgetAndAShortOneCutsTheFirstStage) {
  PlanOptions unbounded;
  unbounded.punch_timeout = Duration::zero();
  const auto open = plan(kUnknown.knowledge, kSym.knowledge, kStart, unbounded);
  ASSERT_EQ(open.size(), 2u);
  EXPECT_EQ(open[0].time_budget, unbounded.hole_punch);
  EXPECT_FALSE(open[1].time_budget.has_value()) << "asked for: only the probe budget ends it";
  PlanOptions short_bound;
  short_bound.punch_timeout = milliseconds(1500);
  const auto cut = plan(kUnknown.knowledge, kSym.knowledge, kStart, short_bound);
  ASSERT_EQ(cut.size(), 1u) << "nothing is left for the second stage";
  EXPECT_EQ(cut[0].time_budget, milliseconds(1500));
}

TEST(Plan, ABlockedSideGetsTheRelayOnlyStrategy) {
  auto blocked = kPrc.knowledge;
  blocked.udp_blocked = true;
  const auto stages = plan(blocked, kPrc.knowledge, kStart, PlanOptions{});
  ASSERT_EQ(stages.size(), 1u);
  EXPECT_EQ(stages[0].kind, K::RelayOnly);
}

}  // namespace
}  // namespace natpunch::session

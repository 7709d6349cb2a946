// NAT type pair x strategy -> outcome, in the simulator (cf. Tailscale's
// natlab grid test). Each row is either certain by construction or
// overwhelmingly likely (the failure probability is given per row) with
// its fixed seed, so the table asserts outcomes, not just that it ran.
#include <gtest/gtest.h>

#include <string>

#include "sim/scenario.hpp"

namespace natpunch::sim {
namespace {

using M = nat::MappingBehavior;
using F = nat::FilteringBehavior;
using punch::LocalPortPolicy;

struct NatKind {
  const char* name;
  M mapping;
  F filtering;
};
constexpr NatKind kFullCone{"FullCone", M::EndpointIndependent, F::EndpointIndependent};
constexpr NatKind kRestricted{"Restricted", M::EndpointIndependent, F::AddressDependent};
constexpr NatKind kPortRestricted{"PortRestricted", M::EndpointIndependent, F::AddressAndPortDependent};
constexpr NatKind kSymmetric{"Symmetric", M::AddressAndPortDependent, F::AddressAndPortDependent};

struct PairRow {
  const char* why;
  NatKind a;
  NatKind b;
  LocalPortPolicy local_ports;
  std::uint16_t ports;      // NAT allocators and probe targets use [1024, 1024 + ports)
  std::uint64_t budget;     // probes per side
  Duration timeout;         // pending and established
  bool connects;
};

nat::NatConfig nat_config(const NatKind& kind, std::uint16_t ports, Duration timeout) {
  nat::NatConfig c;
  c.mapping = kind.mapping;
  c.filtering = kind.filtering;
  c.allocator = nat::UniformSpec{1024, static_cast<std::uint16_t>(1024 + ports - 1)};
  c.pending_timeout = timeout;
  c.established_timeout = timeout;
  return c;
}

const PairRow kRows[] = {
    // One external port per side; each probe of B hits A's with p = 1/64:
    // P(no hit in 2 x 3000 probes) ~ e^-94.
    {"cones expose one port", kFullCone, kFullCone, LocalPortPolicy::Fixed, 64, 3000, seconds(120), true},
    {"restricted admits the peer's address", kRestricted, kRestricted, LocalPortPolicy::Fixed, 64, 3000,
     seconds(120), true},
    // A has sent to every one of B's 64 ports after a few hundred probes, so
    // B's fixed port is admitted; then the first hit of A's port connects.
    {"port-restricted once both sides sprayed all ports", kPortRestricted, kPortRestricted, LocalPortPolicy::Fixed,
     64, 3000, seconds(120), true},
    {"full cone admits the symmetric side's random probes", kSymmetric, kFullCone, LocalPortPolicy::Fixed, 64, 3000,
     seconds(120), true},
    // Mappings recycle every 2 s, so chances keep coming: ~2000 fresh
    // mappings per side over 60 s, each matching with p ~ 1/64.
    {"symmetric pair in a tiny port space with recycling mappings", kSymmetric, kSymmetric,
     LocalPortPolicy::FreshPerProbe, 64, 20000, seconds(2), true},
    // 5 probes per side over 64,511^2 port pairs: P(hit) ~ 6e-9.
    {"symmetric pair, tiny budget, full port space", kSymmetric, kSymmetric, LocalPortPolicy::Fixed, 64511, 5,
     seconds(120), false},
    // A full-cone peer is hit with p = 1/64,511 per probe: P(hit in 5) ~ 1e-4.
    {"full cone, tiny budget, full port space", kFullCone, kFullCone, LocalPortPolicy::Fixed, 64511, 5, seconds(120),
     false},
};

class PairOutcomeTest : public ::testing::TestWithParam<PairRow> {};

TEST_P(PairOutcomeTest, NaiveAttack) {
  const PairRow& row = GetParam();
  NaivePairScenario scenario;
  scenario.nat_a = nat_config(row.a, row.ports, row.timeout);
  scenario.nat_b = nat_config(row.b, row.ports, row.timeout);
  scenario.attack.probe_budget = row.budget;
  scenario.attack.min_port = 1024;
  scenario.attack.max_port = static_cast<std::uint16_t>(1024 + row.ports - 1);
  scenario.attack.local_ports = row.local_ports;
  auto outcome = run_naive_pair(scenario, 12345);
  ASSERT_TRUE(outcome) << outcome.error().field;
  EXPECT_EQ(outcome->connected, row.connects) << row.why;
  if (row.connects) {
    // The side that heard the other first stopped; its peer got an ACK or
    // the same luck, and neither sent more than its budget.
    EXPECT_TRUE(outcome->a.outcome == punch::PunchOutcome::Connected ||
                outcome->b.outcome == punch::PunchOutcome::Connected);
    EXPECT_GT(outcome->time_to_connect, Duration::zero());
    EXPECT_LE(outcome->probes_a, row.budget);
  } else {
    EXPECT_EQ(outcome->a.outcome, punch::PunchOutcome::Stopped);
    EXPECT_EQ(outcome->b.outcome, punch::PunchOutcome::Stopped);
    EXPECT_EQ(outcome->probes_a, row.budget);
    EXPECT_EQ(outcome->probes_b, row.budget);
    // Every probe left its own NAT and died at the peer's, for a reason.
    std::uint64_t dropped_at_a = 0;
    std::uint64_t dropped_at_b = 0;
    for (auto n : outcome->drops_a) dropped_at_a += n;
    for (auto n : outcome->drops_b) dropped_at_b += n;
    EXPECT_EQ(dropped_at_a, row.budget);
    EXPECT_EQ(dropped_at_b, row.budget);
  }
}

std::string row_name(const ::testing::TestParamInfo<PairRow>& info) {
  const PairRow& r = info.param;
  return std::string(r.a.name) + "_x_" + r.b.name + "_" +
         (r.local_ports == LocalPortPolicy::Fixed ? "FixedPort" : "FreshPorts") + "_" + std::to_string(r.ports) +
         "ports_" + std::to_string(r.budget) + "probes";
}

INSTANTIATE_TEST_SUITE_P(Grid, PairOutcomeTest, ::testing::ValuesIn(kRows), row_name);

TEST(PairScenarioTest, SameSeedSameRunDifferentSeedDifferentRun) {
  NaivePairScenario scenario;
  // Connects after a random number of probes (p = 1/64 per probe).
  scenario.nat_a = nat_config(kFullCone, 64, seconds(120));
  scenario.nat_b = scenario.nat_a;
  scenario.attack.probe_budget = 3000;
  scenario.attack.min_port = 1024;
  scenario.attack.max_port = 1024 + 63;
  const auto first = run_naive_pair(scenario, 99);
  const auto again = run_naive_pair(scenario, 99);
  const auto other = run_naive_pair(scenario, 100);
  ASSERT_TRUE(first && again && other);
  ASSERT_TRUE(first->connected && again->connected && other->connected);
  EXPECT_EQ(first->time_to_connect, again->time_to_connect);
  EXPECT_EQ(first->events, again->events);
  EXPECT_EQ(first->a.peer, again->a.peer);
  EXPECT_NE(first->time_to_connect, other->time_to_connect);
}

TEST(PairScenarioTest, PeersThatDoNotOverlapInTimeNeverConnect) {
  // The easiest pair there is (full cones, 64 ports), but B starts after A
  // has given up: B's probes reach A's NAT, which still maps A's port, and
  // A's closed socket ignores them; A's probes found no mapping at B's NAT.
  NaivePairScenario scenario;
  scenario.nat_a = nat_config(kFullCone, 64, seconds(120));
  scenario.nat_b = scenario.nat_a;
  scenario.attack.probe_budget = 3000;  // ~9 s, then 1 s linger
  scenario.attack.min_port = 1024;
  scenario.attack.max_port = 1024 + 63;
  scenario.start_offset_b = seconds(20);
  const auto outcome = run_naive_pair(scenario, 5);
  ASSERT_TRUE(outcome);
  EXPECT_FALSE(outcome->connected);
  EXPECT_EQ(outcome->a.outcome, punch::PunchOutcome::Stopped);
  EXPECT_EQ(outcome->b.outcome, punch::PunchOutcome::Stopped);
  EXPECT_GT(outcome->drops_b[static_cast<std::size_t>(nat::Drop::NoMapping)], 0u);

  scenario.start_offset_b = seconds(5);  // overlapping halves: connects
  const auto overlapping = run_naive_pair(scenario, 5);
  ASSERT_TRUE(overlapping);
  EXPECT_TRUE(overlapping->connected);
  EXPECT_GT(overlapping->time_to_connect, seconds(5));
}

TEST(PairScenarioTest, InvalidNatConfigIsReportedNotRun) {
  NaivePairScenario scenario;
  scenario.nat_b.pending_timeout = Duration::zero();
  const auto outcome = run_naive_pair(scenario, 1);
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().field, "pending_timeout");
}

}  // namespace
}  // namespace natpunch::sim

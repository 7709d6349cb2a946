// Carrier load (sim/carrier_load.hpp) in the simulator: a per-subscriber
// mapping quota and other subscribers holding a block carrier's blocks
// starve a symmetric side of new mappings, so fewer of its naive probes
// leave its NAT and the attack succeeds as often as the probes that did
// leave predict. Small port spaces and 1 ms probes keep it fast.
//
// The pair: A symmetric (a new mapping per destination, one socket as in
// Algorithm 1), B full cone with one external port in the same 512-port
// range. Only A's probes can connect (B's are filtered by A's APDF unless A
// already hit B), each with p = 1/512, so a run with d probes leaving A
// succeeds with P = 1 - (1 - 1/512)^d.
#include <gtest/gtest.h>

#include <cmath>

#include "sim/carrier_load.hpp"
#include "sim/scenario.hpp"

namespace natpunch::sim {
namespace {

constexpr std::uint16_t kPorts = 512;
constexpr std::uint64_t kBudget = 1000;           // 1 s of probes at 1 ms
constexpr Duration kPending = milliseconds(250);  // ~250 of A's mappings alive at once
constexpr int kRuns = 300;

double success_probability(double probes_out) { return 1 - std::pow(1 - 1.0 / kPorts, probes_out); }
double standard_error(double p) { return std::sqrt(p * (1 - p) / kRuns); }

NaivePairScenario pair(nat::AllocatorSpec symmetric_allocator) {
  nat::NatConfig a;
  a.mapping = nat::MappingBehavior::AddressAndPortDependent;
  a.filtering = nat::FilteringBehavior::AddressAndPortDependent;
  a.allocator = symmetric_allocator;
  a.pending_timeout = kPending;
  a.established_timeout = kPending;
  nat::NatConfig b = a;
  b.mapping = nat::MappingBehavior::EndpointIndependent;
  b.filtering = nat::FilteringBehavior::EndpointIndependent;
  b.allocator = nat::UniformSpec{1024, 1024 + kPorts - 1};
  NaivePairScenario s;
  s.nat_a = a;
  s.nat_b = b;
  s.attack.probe_budget = kBudget;
  s.attack.send_interval = milliseconds(1);
  s.attack.min_port = 1024;
  s.attack.max_port = 1024 + kPorts - 1;
  return s;
}

struct Tally {
  double success_rate = 0;
  std::uint64_t max_probes_out_of_a = 0;  // over failed runs: sent minus dropped leaving A's NAT
  std::uint64_t capacity_drops_b = 0;
};

Tally run_many(const NaivePairScenario& scenario, std::uint64_t seed) {
  Tally t;
  int successes = 0;
  for (int run = 0; run < kRuns; ++run) {
    const auto outcome = run_naive_pair(scenario, seed + static_cast<std::uint64_t>(run));
    EXPECT_TRUE(outcome);
    if (!outcome) continue;
    if (outcome->connected) {
      ++successes;
    } else {
      const auto starved = outcome->drops_a[static_cast<std::size_t>(nat::Drop::CapacityExceeded)] +
                           outcome->drops_a[static_cast<std::size_t>(nat::Drop::PortsExhausted)];
      t.max_probes_out_of_a = std::max(t.max_probes_out_of_a, outcome->probes_a - starved);
    }
    t.capacity_drops_b += outcome->drops_b[static_cast<std::size_t>(nat::Drop::CapacityExceeded)];
  }
  t.success_rate = double(successes) / kRuns;
  return t;
}

TEST(CarrierLoadTest, WithLoadChangesOnlyWhatItSets) {
  nat::NatConfig kpn;
  kpn.allocator = nat::BlockSpec{};
  kpn.pending_timeout = seconds(120);
  EXPECT_EQ(with_load(kpn, CarrierLoad{}).allocator, kpn.allocator);
  const auto shared = with_load(kpn, CarrierLoad{100, std::nullopt, 2048});
  const auto& block = std::get<nat::BlockSpec>(shared.allocator);
  EXPECT_EQ(block.background_subscribers, 100u);
  EXPECT_EQ(block.background_hold, seconds(120));  // the carrier's pending timeout
  EXPECT_EQ(shared.max_mappings_per_subscriber, 2048u);
  nat::NatConfig lyca;
  lyca.allocator = nat::UniformSpec{2048, 65535};
  EXPECT_EQ(with_load(lyca, CarrierLoad{100, seconds(5), std::nullopt}).allocator, lyca.allocator);
}

TEST(CarrierLoadTest, MappingQuotaStarvesTheSymmetricSide) {
  NaivePairScenario scenario = pair(nat::UniformSpec{1024, 1024 + kPorts - 1});
  const Tally alone = run_many(scenario, 100);
  const double p_alone = success_probability(kBudget);  // 0.858
  EXPECT_NEAR(alone.success_rate, p_alone, 4 * standard_error(p_alone));

  // 10 new mappings per 250 ms: over 1 s of sending 10 x (4 + 1) = 50 at
  // most, plus probes that repeat the destination of one of the 10 live
  // mappings (p = 10/512 each: ~20 of 1,000, < 40 in any of 300 runs).
  scenario.nat_a = with_load(scenario.nat_a, CarrierLoad{0, std::nullopt, 10});
  scenario.nat_b = with_load(scenario.nat_b, CarrierLoad{0, std::nullopt, 10});
  const Tally quota = run_many(scenario, 100);
  EXPECT_LE(quota.max_probes_out_of_a, 90u);
  EXPECT_GE(quota.max_probes_out_of_a, 40u);
  const double p_max = success_probability(90);  // 0.16
  EXPECT_LE(quota.success_rate, p_max + 4 * standard_error(p_max));
  EXPECT_LT(quota.success_rate, alone.success_rate - 0.5);
  // The full cone holds one mapping for all its probes: the quota never bites.
  EXPECT_EQ(quota.capacity_drops_b, 0u);
}

TEST(CarrierLoadTest, BackgroundSubscribersTakeTheBlocksTheSymmetricSideNeeds) {
  // 32 blocks of 16 ports. Alone, A needs ~17 blocks at a time and always
  // finds them; with 28 background holders it has at most 4 (64 live
  // mappings). A block frees only once all 16 of its mappings have timed
  // out, so new mappings plus repeats of a live destination stay below
  // 64 x (4 + 1) = 320 (237 at most in these 300 runs).
  NaivePairScenario scenario = pair(nat::BlockSpec{16, 1024, 1024 + kPorts - 1});
  const Tally alone = run_many(scenario, 200);
  EXPECT_EQ(alone.max_probes_out_of_a, kBudget);
  const double p_alone = success_probability(kBudget);
  EXPECT_NEAR(alone.success_rate, p_alone, 4 * standard_error(p_alone));

  scenario.nat_a = with_load(scenario.nat_a, CarrierLoad{28, std::nullopt, std::nullopt});
  const Tally shared = run_many(scenario, 200);
  EXPECT_LE(shared.max_probes_out_of_a, 320u);
  const double p_max = success_probability(320);  // 0.465
  EXPECT_LE(shared.success_rate, p_max + 4 * standard_error(p_max));
  EXPECT_LT(shared.success_rate, alone.success_rate - 0.3);
}

}  // namespace
}  // namespace natpunch::sim

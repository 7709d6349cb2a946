// The simulator against the analytic NAT-pair model (issue 3): with
// timeouts and capacity out of the way, the naive attack between two
// symmetric NATs succeeds with P = 1 - exp(-n^2/N^2).
//
// The model treats each probe as an independent (source port, destination
// port) draw. That holds in the simulator when every probe leaves from a
// fresh socket (a new mapping with a new random external port); with one
// socket (Algorithm 1) a repeated destination reuses its mapping, so there
// are fewer independent chances and the model overestimates once n nears
// N. A small port space keeps the test fast: N = 300, n = 250 gives
// P = 0.500, and 1,500 runs give a standard error of 0.013.
#include <gtest/gtest.h>

#include <cmath>

#include "punch/birthday_model.hpp"
#include "sim/scenario.hpp"

namespace natpunch::sim {
namespace {

constexpr std::uint16_t kPorts = 300;
constexpr std::uint64_t kProbes = 250;
constexpr int kRuns = 1500;

NaivePairScenario symmetric_pair(punch::LocalPortPolicy local_ports) {
  nat::NatConfig c;
  c.mapping = nat::MappingBehavior::AddressAndPortDependent;
  c.filtering = nat::FilteringBehavior::AddressAndPortDependent;
  c.allocator = nat::UniformSpec{1024, 1024 + kPorts - 1};
  c.pending_timeout = std::chrono::hours(1);  // never limiting: a run lasts < 1 s
  c.established_timeout = std::chrono::hours(1);
  NaivePairScenario s;
  s.nat_a = c;
  s.nat_b = c;
  s.attack.probe_budget = kProbes;
  s.attack.min_port = 1024;
  s.attack.max_port = 1024 + kPorts - 1;
  s.attack.local_ports = local_ports;
  return s;
}

double success_rate(const NaivePairScenario& scenario, std::uint64_t seed) {
  int successes = 0;
  for (int run = 0; run < kRuns; ++run) {
    const auto outcome = run_naive_pair(scenario, seed + static_cast<std::uint64_t>(run));
    EXPECT_TRUE(outcome);
    if (outcome && outcome->connected) ++successes;
  }
  return static_cast<double>(successes) / kRuns;
}

TEST(BirthdayAgreementTest, NaiveAttackMatchesTheNatPairModel) {
  const double expected = punch::nat_pair_success_probability(kProbes, kPorts);
  ASSERT_NEAR(expected, 0.5, 0.01);
  const double measured = success_rate(symmetric_pair(punch::LocalPortPolicy::FreshPerProbe), 1000);
  const double standard_error = std::sqrt(expected * (1 - expected) / kRuns);
  EXPECT_NEAR(measured, expected, 4 * standard_error) << "simulated " << measured << " vs model " << expected;
}

TEST(BirthdayAgreementTest, OneSocketGetsFewerChancesThanTheModelCounts) {
  // Distinct destinations among n draws from N: N (1 - e^{-n/N}) ~ 170 of
  // 250, so the expected number of matches is ~(170/300)^2 instead of
  // (250/300)^2: P ~ 0.27 instead of 0.50.
  const double measured = success_rate(symmetric_pair(punch::LocalPortPolicy::Fixed), 5000);
  const double distinct = kPorts * (1 - std::exp(-static_cast<double>(kProbes) / kPorts));
  const double expected = 1 - std::exp(-(distinct * distinct) / (double(kPorts) * kPorts));
  const double standard_error = std::sqrt(expected * (1 - expected) / kRuns);
  EXPECT_NEAR(measured, expected, 4 * standard_error + 0.02) << "simulated " << measured << " vs " << expected;
  EXPECT_LT(measured, punch::nat_pair_success_probability(kProbes, kPorts) - 0.1);
}

}  // namespace
}  // namespace natpunch::sim

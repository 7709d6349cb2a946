// The improved strategies against the naive attack in the simulator, on
// the thesis's carriers (issue 5's targets, asserted in direction with a
// wide margin and small run counts so the suite stays fast), and the
// auto-selected strategy per carrier pair.
#include <gtest/gtest.h>

#include <string>

#include "sim/carrier_presets.hpp"
#include "sim/scenario.hpp"

namespace natpunch::sim {
namespace {

using punch::StrategyKind;

nat::NatConfig carrier(const char* name) { return carrier_preset(name)->nat; }

// Probes per side by the time the pair connected (the larger side), or
// `budget` + 1 when it did not.
std::uint64_t improved_probes(const char* a, const char* b, std::uint64_t seed, bool predict, StrategyMode mode,
                              std::uint64_t budget, StrategyKind* kind = nullptr) {
  StrategyPairScenario s;
  s.nat_a = carrier(a);
  s.nat_b = carrier(b);
  s.mode = mode;
  s.params.probe_budget = budget;
  s.params.predict = predict;
  auto outcome = run_strategy_pair(s, seed);
  EXPECT_TRUE(outcome);
  if (kind) *kind = outcome->kind_a;
  return outcome->connected ? std::max(outcome->probes_a, outcome->probes_b) : budget + 1;
}

int naive_successes(const char* a, const char* b, std::uint64_t budget, int runs) {
  int successes = 0;
  for (int run = 0; run < runs; ++run) {
    NaivePairScenario s;
    s.nat_a = carrier(a);
    s.nat_b = carrier(b);
    s.attack.probe_budget = budget;
    auto outcome = run_naive_pair(s, 1000 + static_cast<std::uint64_t>(run));
    EXPECT_TRUE(outcome);
    successes += outcome->connected ? 1 : 0;
  }
  return successes;
}

struct RatioRow {
  const char* a;
  const char* b;
  bool predict;
  std::uint64_t improved_max;  // every improved run connects within this many probes per side
  // The naive attack with `factor` x improved_max probes connects in at most
  // `naive_max` of 6 runs (analytic odds in the comment of each row).
  std::uint64_t factor;
  int naive_max;
};

// With prediction the handshake completes on the first probes: what is
// counted is the ~21 probes sent during one round trip (60 ms at 2.98 ms).
const RatioRow kRatioRows[] = {
    // KPN x KPN naive, 3,000 probes: P ~ (3000/64511)^2 ~ 0.2 % per run.
    {"kpn", "kpn", true, 30, 100, 1},
    // Lebara x Lebara naive (one port each, p = 2/64511 per probe pair of
    // slots): 3,000 probes -> ~9 %.
    {"lebara", "lebara", true, 30, 100, 3},
    // Vodafone x Vodafone naive: ~9 % at 3,000 probes.
    {"vodafone", "vodafone", true, 30, 100, 3},
    // Carrier-biased order alone (no prediction): offset-major blocks and
    // densest Beta ports with 256 sockets. Naive with 10x: 3,000 probes.
    {"lebara", "lebara", false, 300, 10, 3},
    // Vodafone's real windows (profiles/vodafone-nl.json): 256 sockets fill
    // eight 32-port windows placed by a Beta law broader than Table II's;
    // the worst of 40 runs needed 1,410 probes. Naive with 3x: 4,500
    // probes -> ~14 % per run.
    {"vodafone", "vodafone", false, 1500, 3, 3},
    // LycaMobile (uniform): the improved attack must be no worse; with 256
    // open sockets it is much better. Naive with 2x: 2,000 probes -> ~6 %.
    {"lycamobile", "lycamobile", false, 1000, 2, 3},
};

TEST(ImprovedStrategyTest, NeedsFarFewerProbesThanNaive) {
  for (const RatioRow& row : kRatioRows) {
    const std::string name = std::string(row.a) + " x " + row.b + (row.predict ? " (prediction)" : " (no prediction)");
    for (std::uint64_t seed = 1; seed <= 6; ++seed) {
      const auto probes = improved_probes(row.a, row.b, seed, row.predict, StrategyMode::Improved, 20000);
      EXPECT_LE(probes, row.improved_max) << name << " seed " << seed;
    }
    EXPECT_LE(naive_successes(row.a, row.b, row.improved_max * row.factor, 6), row.naive_max) << name;
  }
}

struct AutoRow {
  const char* a;
  const char* b;
  StrategyKind kind;
};

const AutoRow kAutoRows[] = {
    {"kpn", "kpn", StrategyKind::ImprovedBirthday},        // both symmetric, block allocator known
    {"kpn", "lebara", StrategyKind::OneHardSide},          // symmetric x restricted
    {"lebara", "vodafone", StrategyKind::HolePunch},       // restricted x restricted
    {"lycamobile", "kpn", StrategyKind::Direct},           // full cone
    {"odido", "odido", StrategyKind::ImprovedBirthday},    // allocator "known" (random-fully): no prediction, no repeats
};

TEST(AutoStrategyTest, PicksPerCarrierPairAndConnectsFast) {
  for (const AutoRow& row : kAutoRows) {
    StrategyKind kind{};
    const auto probes = improved_probes(row.a, row.b, 3, true, StrategyMode::Auto, 200000, &kind);
    EXPECT_EQ(kind, row.kind) << row.a << " x " << row.b;
    if (std::string(row.a) != "odido") {  // Odido x Odido stays a birthday attack: no bound on its probes
      EXPECT_LE(probes, 30u) << row.a << " x " << row.b;
    }
  }
}

}  // namespace
}  // namespace natpunch::sim

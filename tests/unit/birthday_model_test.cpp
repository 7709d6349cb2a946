#include "punch/birthday_model.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/rng.hpp"

namespace natpunch::punch {
namespace {

// ---- the thesis's figures ------------------------------------------------

struct InverseRow {
  double p;
  std::uint64_t space;
  std::uint64_t expected;
};

// Section III-A quotes 77,162 (50 %) and 243,587 (99.9 %) over "65535^2"
// pairs; those are the exact-product inverse over exactly 65535^2. The 2^32
// rows pin down that the space matters (the issue said "2^32 pairs").
TEST(BirthdayModelTest, ClassicInverseReproducesTheThesisCalculator) {
  const std::vector<InverseRow> rows = {
      {0.5, kThesisPortPairSpace, 77162},
      {0.999, kThesisPortPairSpace, 243587},
      {0.5, 1ULL << 32, 77164},
      {0.999, 1ULL << 32, 243591},
      {0.5, 365, 23},  // the textbook birthday paradox
      {0.99, 365, 57},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(testing::Message() << "p=" << r.p << " space=" << r.space);
    EXPECT_EQ(classic_draws_for_probability(r.p, r.space), r.expected);
    EXPECT_GE(classic_collision_probability(r.expected, r.space), r.p);
    EXPECT_LT(classic_collision_probability(r.expected - 1, r.space), r.p);
  }
}

// The square-root approximation the cited calculator uses for inverses does
// not give both figures under any rounding: with ceil it gives 77,162 but
// 243,589, so the thesis's numbers are the exact product.
TEST(BirthdayModelTest, SquareRootApproximationMissesTheThesisAt999) {
  EXPECT_NEAR(classic_draws_approximation(0.5, kThesisPortPairSpace), 77161.566, 1e-3);
  EXPECT_NEAR(classic_draws_approximation(0.999, kThesisPortPairSpace), 243588.496, 1e-3);
  EXPECT_EQ(std::ceil(classic_draws_approximation(0.5, kThesisPortPairSpace)), 77162.0);
  EXPECT_NE(std::ceil(classic_draws_approximation(0.999, kThesisPortPairSpace)), 243587.0);
}

struct ReferenceRow {
  std::uint64_t space;
  std::uint64_t draws;
  double log_no_collision;  // ln(1 - P)
  double probability;
};

// Exact product values from arbitrary-precision lgamma (mpmath, 60 digits).
// Subtracting double lgammas gets the 2^32-scale rows wrong in the 5th digit;
// these pass at 1e-13 relative.
TEST(BirthdayModelTest, ClassicMatchesArbitraryPrecisionReference) {
  const std::vector<ReferenceRow> rows = {
      {365, 23, -0.70784919614167301, 0.50729723432398541},
      {365, 57, -4.617491719379428, 0.99012245934116998},
      {kThesisPortPairSpace, 77162, -0.69315014898427034, 0.50000148420995963},
      {kThesisPortPairSpace, 243587, -6.9077726884357014, 0.99900001740930202},
      {1ULL << 32, 77164, -0.69316492766701117, 0.50000887347479344},
      {1ULL << 32, 100000, -1.1641506117249255, 0.68781228196369743},
      {1ULL << 32, 1ULL << 20, -128.01029585320263, 1.0},
      {1000000, 5000, -12.518379302946355, 0.99999634121452461},
      {1000000, 999990, -999869.12261309791, 1.0},
      {1ULL << 53, 100000000, -0.5551115088157884, 0.42599174935265037},
      {kThesisUsablePorts * kThesisUsablePorts, 170000, -3.4721914064138082, 0.96895108473798827},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(testing::Message() << "space=" << r.space << " draws=" << r.draws);
    EXPECT_NEAR(classic_log_no_collision(r.draws, r.space), r.log_no_collision,
                1e-13 * std::abs(r.log_no_collision));
    EXPECT_NEAR(classic_collision_probability(r.draws, r.space), r.probability, 1e-14);
  }
}

// Independent of the reference table: the closed form against the product
// itself, summed in long double, across the switch from sum to closed form.
TEST(BirthdayModelTest, ClassicClosedFormAgreesWithTheProduct) {
  for (std::uint64_t space : {5000ULL, 100000ULL, 1ULL << 32}) {
    for (std::uint64_t draws : {4096ULL, 4097ULL, 4200ULL, 5000ULL, 20000ULL, 77164ULL}) {
      if (draws > space) continue;
      long double sum = 0;
      for (std::uint64_t i = 1; i < draws; ++i)
        sum += std::log1p(-static_cast<long double>(i) / static_cast<long double>(space));
      SCOPED_TRACE(testing::Message() << "space=" << space << " draws=" << draws);
      EXPECT_NEAR(classic_log_no_collision(draws, space), static_cast<double>(sum),
                  1e-12 * std::abs(static_cast<double>(sum)));
    }
  }
}

TEST(BirthdayModelTest, NatPairAt170000ProbesIsAbout999) {
  const double p = nat_pair_success_probability(kThesisProbesPerSide, kThesisUsablePorts);
  EXPECT_NEAR(p, 1.0 - std::exp(-std::pow(170000.0 / 64511.0, 2)), 1e-15);
  EXPECT_NEAR(p, 0.99904, 1e-5);
  // 64,511 sqrt(ln 1000) = 169,551.7 and 64,511 sqrt(ln 2) = 53,708.9.
  EXPECT_EQ(nat_pair_probes_for_probability(0.999, kThesisUsablePorts), 169552U);
  EXPECT_EQ(nat_pair_probes_for_probability(0.5, kThesisUsablePorts), 53709U);
}

TEST(BirthdayModelTest, OneHardSideKnownValues) {
  // 256 mappings of 64,511: ln 2 / -ln(1 - 256/64511) = 174.3 -> 175 probes.
  EXPECT_EQ(one_hard_side_probes_for_probability(0.5, 256, kThesisUsablePorts), 175U);
  EXPECT_EQ(one_hard_side_probes_for_probability(0.999, 256, kThesisUsablePorts), 1738U);
  EXPECT_NEAR(one_hard_side_success_probability(1, 256, kThesisUsablePorts), 256.0 / 64511.0, 1e-15);
  EXPECT_DOUBLE_EQ(one_hard_side_success_probability(3, 1, 2), 1.0 - 0.125);
}

// ---- roaming (Section VI-E) ----------------------------------------------

struct RoamingRow {
  const char* name;
  RoamingParameters in;
  std::uint64_t probes_per_window;  // the thesis's Y
  std::uint64_t windows;            // ceil(P^2 / Y)
  double time;                      // in the thesis's unit
  double unit_ms;
};

TEST(BirthdayModelTest, RoamingReproducesTheThesis) {
  const std::vector<RoamingRow> rows = {
      // Thesis: Y ~ 1678, 2,480,159 windows (from the rounded 0.0000004032), ~54.6 hours.
      {"roaming", kThesisRoamingScenario, 1678, 2480137, 54.6, 3.6e6},
      // Thesis: Y ~ 40269 (rounded up from 40268.46), 103,347 windows, 39.6 minutes.
      {"local", kThesisLocalScenario, 40269, 103347, 39.6, 6e4},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    const auto e = thesis_roaming_estimate(r.in);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->pair_space, 4161669121U);
    EXPECT_EQ(e->probes_per_window, r.probes_per_window);
    EXPECT_EQ(e->windows_needed, r.windows);
    EXPECT_NEAR(e->time_ms / r.unit_ms, r.time, 0.05);
  }
  EXPECT_NEAR(thesis_roaming_estimate(kThesisRoamingScenario)->window_probability, 0.0000004032, 5e-11);
  EXPECT_NEAR(thesis_roaming_estimate(kThesisLocalScenario)->window_probability, 0.00000967616, 1e-11);  // the thesis truncates
  EXPECT_NEAR(thesis_roaming_estimate(kThesisLocalScenario)->time_ms, 103347 * 23.0, 1e-6);
}

TEST(BirthdayModelTest, RoamingRatioIsAbout82) {
  const double ratio =
      thesis_roaming_estimate(kThesisRoamingScenario)->time_ms / thesis_roaming_estimate(kThesisLocalScenario)->time_ms;
  EXPECT_GE(ratio, 82.0);  // "at least 82x"
  EXPECT_LT(ratio, 83.0);
}

TEST(BirthdayModelTest, RoamingRejectsNonsense) {
  EXPECT_FALSE(thesis_roaming_estimate({0, 23, 2.98, 64511}));
  EXPECT_FALSE(thesis_roaming_estimate({5000, -1, 2.98, 64511}));
  EXPECT_FALSE(thesis_roaming_estimate({5000, 23, 0, 64511}));
  EXPECT_FALSE(thesis_roaming_estimate({5000, 23, 2.98, 0}));
  EXPECT_FALSE(thesis_roaming_estimate({std::nan(""), 23, 2.98, 64511}));
  EXPECT_FALSE(thesis_roaming_estimate({HUGE_VAL, 23, 2.98, 64511}));
  // An exact quotient does not gain a probe from rounding noise.
  EXPECT_EQ(thesis_roaming_estimate({3000, 1, 3, 64511})->probes_per_window, 1000U);
  // More probes than pairs: every window hits.
  const auto saturated = thesis_roaming_estimate({1000, 7, 1, 10});
  EXPECT_EQ(saturated->windows_needed, 1U);
  EXPECT_DOUBLE_EQ(saturated->time_ms, 7.0);
}

// ---- properties ----------------------------------------------------------

TEST(BirthdayModelTest, ProbabilitiesAreMonotoneInProbes) {
  double classic = 0, pair = 0, hard = 0;
  for (std::uint64_t n = 0; n <= 400000; n += 997) {
    const double c = classic_collision_probability(n, kThesisPortPairSpace);
    const double p = nat_pair_success_probability(n, kThesisUsablePorts);
    const double h = one_hard_side_success_probability(n / 100, 256, kThesisUsablePorts);
    EXPECT_GE(c, classic);
    EXPECT_GE(p, pair);
    EXPECT_GE(h, hard);
    classic = c, pair = p, hard = h;
  }
  EXPECT_GT(classic, 0.9999);
  EXPECT_GT(pair, 0.9999);
}

TEST(BirthdayModelTest, InversesAreMonotoneInTarget) {
  std::uint64_t classic = 0, pair = 0, hard = 0;
  for (double p = 0.01; p < 1.0; p += 0.01) {
    const auto c = classic_draws_for_probability(p, 1ULL << 32);
    const auto q = nat_pair_probes_for_probability(p, kThesisUsablePorts);
    const auto h = one_hard_side_probes_for_probability(p, 256, kThesisUsablePorts);
    ASSERT_TRUE(c && q && h);
    EXPECT_GE(*c, classic);
    EXPECT_GE(*q, pair);
    EXPECT_GE(*h, hard);
    classic = *c, pair = *q, hard = *h;
  }
}

// The inverse is the smallest count reaching p, so forward(inverse(p)) >= p
// and forward(inverse(p) - 1) < p; and inverse(forward(n)) gives back n.
TEST(BirthdayModelTest, InverseRoundTrips) {
  for (double p : {1e-9, 0.001, 0.1, 0.5, 0.9, 0.999, 0.999999, 1 - 1e-12}) {
    SCOPED_TRACE(testing::Message() << "p=" << p);
    const auto c = *classic_draws_for_probability(p, kThesisPortPairSpace);
    EXPECT_GE(classic_collision_probability(c, kThesisPortPairSpace), p);
    EXPECT_LT(classic_collision_probability(c - 1, kThesisPortPairSpace), p);
    const auto q = *nat_pair_probes_for_probability(p, kThesisUsablePorts);
    EXPECT_GE(nat_pair_success_probability(q, kThesisUsablePorts), p);
    EXPECT_LT(nat_pair_success_probability(q - 1, kThesisUsablePorts), p);
    const auto h = *one_hard_side_probes_for_probability(p, 256, kThesisUsablePorts);
    EXPECT_GE(one_hard_side_success_probability(h, 256, kThesisUsablePorts), p);
    EXPECT_LT(one_hard_side_success_probability(h - 1, 256, kThesisUsablePorts), p);
  }
  // Only where one more probe still moves the double; past that, several
  // counts share the same rounded probability.
  for (std::uint64_t n : {2ULL, 3ULL, 1000ULL, 77162ULL, 243587ULL, 300000ULL}) {
    SCOPED_TRACE(testing::Message() << "n=" << n);
    EXPECT_EQ(classic_draws_for_probability(classic_collision_probability(n, kThesisPortPairSpace),
                                            kThesisPortPairSpace),
              n);
  }
  for (std::uint64_t n : {1ULL, 1000ULL, 53709ULL, 170000ULL, 250000ULL}) {
    SCOPED_TRACE(testing::Message() << "n=" << n);
    EXPECT_EQ(nat_pair_probes_for_probability(nat_pair_success_probability(n, kThesisUsablePorts),
                                              kThesisUsablePorts),
              n);
  }
  for (std::uint64_t n : {1ULL, 10ULL, 175ULL, 1738ULL, 5000ULL}) {
    SCOPED_TRACE(testing::Message() << "n=" << n);
    EXPECT_EQ(one_hard_side_probes_for_probability(one_hard_side_success_probability(n, 256, kThesisUsablePorts),
                                                   256, kThesisUsablePorts),
              n);
  }
}

TEST(BirthdayModelTest, EdgeCases) {
  // No collision is possible with fewer than two draws; pigeonhole past the space.
  EXPECT_EQ(classic_collision_probability(0, 365), 0.0);
  EXPECT_EQ(classic_collision_probability(1, 365), 0.0);
  EXPECT_EQ(classic_collision_probability(366, 365), 1.0);
  EXPECT_EQ(classic_collision_probability(1ULL << 40, 1ULL << 32), 1.0);
  EXPECT_EQ(classic_log_no_collision(366, 365), -HUGE_VAL);
  // 365!/365^365 = e^-361.13 > 0: P rounds to 1, its log does not.
  EXPECT_NEAR(classic_log_no_collision(365, 365), -361.1308844795589, 1e-9);
  EXPECT_NEAR(classic_collision_probability(2, 2), 0.5, 1e-15);
  EXPECT_NEAR(classic_collision_probability(2, kThesisPortPairSpace), 1.0 / 4294836225.0, 1e-24);
  EXPECT_EQ(classic_draws_for_probability(1, 1), std::nullopt);
  EXPECT_EQ(classic_draws_for_probability(0.5, 1), 2U);

  // p -> 0: the first count that can succeed; p -> 1: finite and below the pigeonhole bound.
  EXPECT_EQ(classic_draws_for_probability(1e-300, 365), 2U);
  EXPECT_EQ(nat_pair_probes_for_probability(1e-300, kThesisUsablePorts), 1U);
  EXPECT_EQ(one_hard_side_probes_for_probability(1e-300, 256, kThesisUsablePorts), 1U);
  EXPECT_LE(*classic_draws_for_probability(std::nextafter(1.0, 0.0), 365), 366U);
  EXPECT_GT(*classic_draws_for_probability(std::nextafter(1.0, 0.0), 365), 100U);
  EXPECT_TRUE(nat_pair_probes_for_probability(std::nextafter(1.0, 0.0), kThesisUsablePorts));

  // Targets outside (0, 1) have no answer.
  for (double p : {0.0, 1.0, -0.5, 1.5, std::nan("")}) {
    EXPECT_EQ(classic_draws_for_probability(p, 365), std::nullopt);
    EXPECT_EQ(nat_pair_probes_for_probability(p, 64511), std::nullopt);
    EXPECT_EQ(one_hard_side_probes_for_probability(p, 256, 64511), std::nullopt);
    EXPECT_TRUE(std::isnan(classic_draws_approximation(p, 365)));
  }
  EXPECT_EQ(nat_pair_success_probability(0, kThesisUsablePorts), 0.0);

  // One hard side: no mappings never succeeds; all ports mapped always does.
  EXPECT_EQ(one_hard_side_success_probability(1000, 0, 64511), 0.0);
  EXPECT_EQ(one_hard_side_probes_for_probability(0.5, 0, 64511), std::nullopt);
  EXPECT_EQ(one_hard_side_success_probability(0, 256, 64511), 0.0);
  EXPECT_EQ(one_hard_side_success_probability(1, 64511, 64511), 1.0);
  EXPECT_EQ(one_hard_side_probes_for_probability(0.999, 64511, 64511), 1U);
}

// ---- Monte-Carlo check of the NAT-pair model -----------------------------
//
// Stands in for the simulator check the issue asks for until src/sim exists:
// draw both sides' (source, destination) port pairs over a small port space
// and count trials in which some A pair (a, b) meets a B pair (b, a).

double simulate_nat_pair(Rng& rng, std::uint32_t ports, std::uint32_t probes, int trials) {
  const std::uint64_t pairs = static_cast<std::uint64_t>(ports) * ports;
  std::vector<bool> sent_by_a(pairs);
  std::vector<std::size_t> marked;
  marked.reserve(probes);
  int hits = 0;
  for (int t = 0; t < trials; ++t) {
    // One draw per probe: key = src * ports + dst is uniform over all pairs.
    for (std::uint32_t i = 0; i < probes; ++i) {
      const std::size_t key = rng.uniform(0, pairs - 1);
      sent_by_a[key] = true;
      marked.push_back(key);
    }
    bool hit = false;
    for (std::uint32_t i = 0; i < probes && !hit; ++i) {
      const std::uint64_t key = rng.uniform(0, pairs - 1);
      const std::uint64_t src = key / ports, dst = key % ports;
      hit = sent_by_a[dst * ports + src];  // B's (src, dst) meets A's (dst, src)
    }
    hits += hit ? 1 : 0;
    for (auto key : marked) sent_by_a[key] = false;
    marked.clear();
  }
  return static_cast<double>(hits) / trials;
}

TEST(BirthdayModelTest, NatPairModelMatchesMonteCarlo) {
  constexpr std::uint32_t kPorts = 1000;
  constexpr int kTrials = 2000;
  Rng rng(20240531);
  for (std::uint32_t probes : {500U, 1000U, 1500U}) {  // P = 0.22, 0.63, 0.89
    const double expected = nat_pair_success_probability(probes, kPorts);
    const double observed = simulate_nat_pair(rng, kPorts, probes, kTrials);
    const double standard_error = std::sqrt(expected * (1 - expected) / kTrials);
    SCOPED_TRACE(testing::Message() << "probes=" << probes << " expected=" << expected << " observed=" << observed);
    EXPECT_NEAR(observed, expected, 4 * standard_error + 1e-3);
  }
}

TEST(BirthdayModelTest, OneHardSideModelMatchesMonteCarlo) {
  constexpr std::uint64_t kPorts = 1000;
  constexpr std::uint64_t kMappings = 20;  // ports [0, 20) are open; uniform probes make the choice irrelevant
  constexpr std::uint64_t kProbes = 50;
  constexpr int kTrials = 5000;
  Rng rng(7);
  int hits = 0;
  for (int t = 0; t < kTrials; ++t) {
    bool hit = false;
    for (std::uint64_t i = 0; i < kProbes && !hit; ++i) hit = rng.uniform(0, kPorts - 1) < kMappings;
    hits += hit ? 1 : 0;
  }
  const double expected = one_hard_side_success_probability(kProbes, kMappings, kPorts);
  const double observed = static_cast<double>(hits) / kTrials;
  EXPECT_NEAR(observed, expected, 4 * std::sqrt(expected * (1 - expected) / kTrials));
}

}  // namespace
}  // namespace natpunch::punch

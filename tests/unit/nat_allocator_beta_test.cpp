#include "nat/allocator_beta.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/math/distributions/beta.hpp>
#include <cmath>
#include <vector>

#include "core/rng.hpp"

namespace natpunch::nat {
namespace {

const BetaSpec kVodafone{2.242, 5.008, 4630, 13937};

std::vector<std::uint16_t> sample(BetaAllocator& allocator, Rng& rng, int n) {
  std::vector<std::uint16_t> ports;
  ports.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto port = allocator.allocate(kTimeZero, PortRequest{}, rng);
    EXPECT_TRUE(port);
    ports.push_back(port.value_or(0));
    allocator.release(kTimeZero, ports.back());  // independent draws from an empty NAT
  }
  std::sort(ports.begin(), ports.end());
  return ports;
}

TEST(BetaAllocatorTest, VodafoneSupport) {
  BetaAllocator allocator(kVodafone);
  EXPECT_EQ(allocator.support().min, 4630);
  EXPECT_EQ(allocator.support().max, 4630 + 13937 - 1);
}

// Kolmogorov-Smirnov statistic of sorted `ports` against the discretised
// law P(port <= p) = F((p + 1 - loc) / scale). Both CDFs are step functions
// constant on [p, p + 1), so the largest gap over the integers is exact.
double ks_statistic(const std::vector<std::uint16_t>& ports, const BetaSpec& law_spec) {
  const boost::math::beta_distribution<double> law(law_spec.alpha, law_spec.beta);
  double d = 0;
  std::size_t below = 0;
  for (int p = 1; p <= 65535; ++p) {
    while (below < ports.size() && ports[below] <= p) ++below;
    const double empirical = double(below) / double(ports.size());
    const double x = (p + 1 - law_spec.loc) / law_spec.scale;
    const double model = x <= 0 ? 0.0 : x >= 1 ? 1.0 : cdf(law, x);
    d = std::max(d, std::abs(empirical - model));
  }
  return d;
}

// Critical value for alpha = 0.01: 1.63 / sqrt(n) (asymptotic; Boost 1.74
// has no KS distribution). The seed is fixed, so the test is deterministic;
// this sample gives D ~ 0.005.
constexpr int kSamples = 20000;
const double kCritical = 1.63 / std::sqrt(double(kSamples));

TEST(BetaAllocatorTest, VodafonePortsPassAKolmogorovSmirnovTest) {
  BetaAllocator allocator(kVodafone);
  Rng rng(2);
  const double d = ks_statistic(sample(allocator, rng, kSamples), kVodafone);
  EXPECT_LT(d, kCritical) << "KS statistic D = " << d;
}

// Filling the support once switches the allocator to weighted sampling for
// good; emptied again, it must still draw from the same law.
TEST(BetaAllocatorTest, WeightedSamplingAfterACrowdedSpellFollowsTheSameLaw) {
  BetaAllocator allocator(kVodafone);
  Rng rng(3);
  std::vector<std::uint16_t> all;
  while (auto port = allocator.allocate(kTimeZero, PortRequest{}, rng)) all.push_back(*port);
  ASSERT_EQ(all.size(), allocator.support().size());
  for (auto port : all) allocator.release(kTimeZero, port);
  const double d = ks_statistic(sample(allocator, rng, kSamples), kVodafone);
  EXPECT_LT(d, kCritical) << "KS statistic D = " << d;
}

// The same test has the power to tell a slightly different law apart, so a
// pass above means something.
TEST(BetaAllocatorTest, KolmogorovSmirnovRejectsANearbyWrongLaw) {
  BetaSpec wrong = kVodafone;
  wrong.alpha = 2.35;
  BetaAllocator allocator(wrong);
  Rng rng(2);
  const double d = ks_statistic(sample(allocator, rng, kSamples), kVodafone);
  EXPECT_GT(d, 2 * kCritical) << "KS statistic D = " << d;
}

TEST(BetaAllocatorTest, MedianMatchesTheModel) {
  BetaAllocator allocator(kVodafone);
  Rng rng(77);
  const auto ports = sample(allocator, rng, 20000);
  const boost::math::beta_distribution<double> law(kVodafone.alpha, kVodafone.beta);
  const double model_median = kVodafone.loc + kVodafone.scale * quantile(law, 0.5);  // ~8670
  const double sample_median = ports[ports.size() / 2];
  // Standard error of the median: 1 / (2 f(m) sqrt(n)) ~ 19 ports here.
  EXPECT_NEAR(sample_median, model_median, 100.0);
  EXPECT_GE(ports.front(), 4630);
  EXPECT_LE(ports.back(), 4630 + 13937 - 1);
}

TEST(BetaAllocatorTest, RedrawsPortsInUseAndFillsTheSupportBeforeFailing) {
  BetaAllocator allocator(BetaSpec{2.242, 5.008, 20000, 300});
  Rng rng(5);
  std::vector<bool> seen(300, false);
  for (int i = 0; i < 300; ++i) {
    auto port = allocator.allocate(kTimeZero, PortRequest{}, rng);
    ASSERT_TRUE(port) << "failed with " << 300 - i << " ports free";
    ASSERT_FALSE(seen[*port - 20000u]) << "port " << *port << " handed out twice";
    seen[*port - 20000u] = true;
  }
  EXPECT_FALSE(allocator.allocate(kTimeZero, PortRequest{}, rng));
  allocator.release(kTimeZero, 20299);  // the far tail: nearly zero mass, still handed out
  EXPECT_EQ(allocator.allocate(kTimeZero, PortRequest{}, rng), 20299);
}

}  // namespace
}  // namespace natpunch::nat

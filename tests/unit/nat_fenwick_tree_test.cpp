#include "nat/fenwick_tree.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "core/rng.hpp"

namespace natpunch::nat {
namespace {

// find(u) by brute force: the first index whose running sum exceeds u.
std::size_t slow_find(const std::vector<std::uint64_t>& w, std::uint64_t unit) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    sum += w[i];
    if (sum > unit) return i;
  }
  return w.size();
}

TEST(FenwickTreeTest, FindsTheOwnerOfEveryUnit) {
  const std::vector<std::uint64_t> weights = {3, 0, 1, 0, 0, 5, 2};
  FenwickTree tree(weights);
  EXPECT_EQ(tree.total(), 11u);
  for (std::uint64_t unit = 0; unit < tree.total(); ++unit)
    EXPECT_EQ(tree.find(unit), slow_find(weights, unit)) << unit;
}

TEST(FenwickTreeTest, AgreesWithBruteForceUnderRandomUpdates) {
  Rng rng(3);
  for (std::size_t n : {1u, 2u, 7u, 64u, 1000u}) {
    std::vector<std::uint64_t> weights(n);
    for (auto& w : weights) w = rng.uniform(0, 9);
    weights[0] = 1;  // keep the total positive
    FenwickTree tree(weights);
    for (int step = 0; step < 2000; ++step) {
      const auto i = static_cast<std::size_t>(rng.uniform(0, n - 1));
      weights[i] = i == 0 ? 1 : rng.uniform(0, 9);
      tree.set(i, weights[i]);
      ASSERT_EQ(tree.total(), std::accumulate(weights.begin(), weights.end(), std::uint64_t{0}));
      const std::uint64_t unit = rng.uniform(0, tree.total() - 1);
      ASSERT_EQ(tree.find(unit), slow_find(weights, unit)) << "n " << n << " step " << step;
    }
  }
}

}  // namespace
}  // namespace natpunch::nat

#include "nat/port_set.hpp"

#include <gtest/gtest.h>

#include <set>

#include "core/rng.hpp"

namespace natpunch::nat {
namespace {

TEST(PortSetTest, InsertEraseAndSize) {
  PortSet set;
  set.insert(0);
  set.insert(65535);
  set.insert(65535);  // twice counts once
  EXPECT_TRUE(set.contains(0));
  EXPECT_TRUE(set.contains(65535));
  EXPECT_FALSE(set.contains(1));
  EXPECT_EQ(set.size(), 2u);
  set.erase(0);
  set.erase(0);
  EXPECT_FALSE(set.contains(0));
  EXPECT_EQ(set.size(), 1u);
}

TEST(PortSetTest, NextFreeScansUpwardAndWrapsWithinTheRange) {
  PortSet set;
  const PortRange range{100, 200};
  for (std::uint16_t p = 150; p <= 200; ++p) set.insert(p);
  EXPECT_EQ(set.next_free(range, 120), 120);
  EXPECT_EQ(set.next_free(range, 150), 100);  // 150..200 taken: wraps to min
  set.insert(100);
  EXPECT_EQ(set.next_free(range, 170), 101);
  EXPECT_EQ(set.next_free(range, 7), 101);  // outside the range: starts at min
  for (std::uint16_t p = 100; p < 150; ++p) set.insert(p);
  EXPECT_FALSE(set.next_free(range, 120));
  EXPECT_EQ(set.next_free(PortRange{100, 201}, 120), 201);
}

TEST(PortSetTest, NthFreeCountsOnlyFreePortsInTheRange) {
  PortSet set;
  const PortRange range{60, 200};  // crosses word boundaries at 64, 128, 192
  std::set<std::uint16_t> model;
  Rng rng(7);
  for (int i = 0; i < 60; ++i) set.insert(static_cast<std::uint16_t>(rng.uniform(0, 300)));
  std::vector<std::uint16_t> free;
  for (std::uint16_t p = range.min; p <= range.max; ++p)
    if (!set.contains(p)) free.push_back(p);
  for (std::size_t n = 0; n < free.size(); ++n) EXPECT_EQ(set.nth_free(range, n), free[n]) << n;
  EXPECT_FALSE(set.nth_free(range, free.size()));
}

TEST(PortSetTest, WholePortSpace) {
  PortSet set;
  const PortRange all{0, 65535};
  EXPECT_EQ(all.size(), 65536u);
  EXPECT_EQ(set.nth_free(all, 65535), 65535);
  EXPECT_EQ(set.next_free(all, 65535), 65535);
  set.insert(65535);
  EXPECT_EQ(set.next_free(all, 65535), 0);
}

}  // namespace
}  // namespace natpunch::nat

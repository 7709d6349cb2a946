#include "nat/flat_index.hpp"

#include <gtest/gtest.h>

#include <unordered_map>
#include <vector>

#include "core/rng.hpp"

namespace natpunch::nat {
namespace {

// Keys are handles' values; hashes are deliberately weak (few distinct low
// bits) so probe runs are long and backward-shift deletion is exercised.
std::uint64_t weak_hash(std::uint32_t key) { return key % 37; }

TEST(FlatIndexTest, AgreesWithAMapUnderRandomInsertAndErase) {
  FlatIndex index(4);
  std::unordered_map<std::uint32_t, bool> model;
  Rng rng(11);
  for (int step = 0; step < 20000; ++step) {
    const auto key = static_cast<std::uint32_t>(rng.uniform(0, 999));
    const auto matches = [key](std::uint32_t h) { return h == key; };
    const bool present = model.count(key) > 0;
    ASSERT_EQ(index.find(weak_hash(key), matches) != FlatIndex::npos, present) << "step " << step;
    if (present) {
      index.erase(weak_hash(key), key);
      model.erase(key);
    } else {
      index.insert(weak_hash(key), key);
      model[key] = true;
    }
    ASSERT_EQ(index.size(), model.size());
  }
  for (std::uint32_t key = 0; key < 1000; ++key)
    EXPECT_EQ(index.find(weak_hash(key), [key](std::uint32_t h) { return h == key; }) != FlatIndex::npos,
              model.count(key) > 0)
        << key;
}

TEST(FlatIndexTest, EraseOfAnAbsentHandleIsANoOp) {
  FlatIndex index;
  index.insert(5, 1);
  index.erase(5, 2);
  index.erase(6, 1);
  EXPECT_EQ(index.size(), 1u);
  EXPECT_EQ(index.find(5, [](std::uint32_t h) { return h == 1; }), 1u);
}

}  // namespace
}  // namespace natpunch::nat

#include "nat/allocator_spec_text.hpp"

#include <gtest/gtest.h>

namespace natpunch::nat {
namespace {

struct Spelling {
  const char* text;
  AllocatorSpec expected;
};

TEST(AllocatorSpecText, ParsesEveryKindWithAndWithoutParameters) {
  BlockSpec block512;
  block512.block_size = 512;
  const Spelling cases[] = {
      {"preserving", PreservingSpec{}},
      {"sequential", SequentialSpec{}},
      {"random", RandomFullySpec{}},
      {"uniform", UniformSpec{}},
      {"uniform:2048-65535", UniformSpec{2048, 65535}},
      {"block", BlockSpec{}},
      {"block:512", block512},
      {"beta", BetaSpec{}},
      {"beta:2,5,4630.5,13937", BetaSpec{2, 5, 4630.5, 13937}},
  };
  for (const auto& c : cases) {
    auto spec = parse_allocator_spec(c.text);
    ASSERT_TRUE(spec) << c.text;
    EXPECT_EQ(*spec, c.expected) << c.text;
  }
}

TEST(AllocatorSpecText, RejectsBadSyntax) {
  for (const char* text : {"", "cone", "random:1", "sequential:", "uniform:", "uniform:2048", "uniform:1-70000",
                           "uniform:-5-6", "block:", "block:x", "block:99999999999", "beta:1,2,3",
                           "beta:1,2,3,4,5", "beta:1,2,,4", "beta:1,2,3,inf", "Block"}) {
    EXPECT_FALSE(parse_allocator_spec(text)) << text;
  }
}

TEST(AllocatorSpecText, LeavesValueChecksToValidate) {
  auto spec = parse_allocator_spec("block:300");
  ASSERT_TRUE(spec);
  EXPECT_TRUE(validate(*spec).has_value());
}

}  // namespace
}  // namespace natpunch::nat

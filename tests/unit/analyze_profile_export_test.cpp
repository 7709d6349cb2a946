// What `analyze --profile-out` writes loads with the carrier-profile loader
// and gives back the detected allocator.
#include "analyze/profile_export.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <variant>

#include "nat/profile.hpp"

namespace natpunch::analyze {
namespace {

DetectedAllocator detected(AllocatorKind kind) {
  DetectedAllocator d;
  d.kind = kind;
  d.evidence.rows = 1000;
  d.evidence.reason = "test";
  d.min = 2048;
  d.max = 65535;
  d.block_size = 256;
  d.alpha = 2.2;
  d.beta = 5.1;
  d.loc = 4600;
  d.scale = 14000;
  return d;
}

TEST(ProfileExport, LoadsWithTheProfileLoader) {
  struct Row {
    AllocatorKind kind;
    nat::AllocatorSpec expected;
  };
  const Row rows[] = {
      {AllocatorKind::Block, nat::BlockSpec{}},
      {AllocatorKind::Uniform, nat::UniformSpec{2048, 65535}},
      {AllocatorKind::Beta, nat::BetaSpec{2.2, 5.1, 4600, 14000}},
      {AllocatorKind::Sequential, nat::SequentialSpec{}},
      {AllocatorKind::Preserving, nat::PreservingSpec{}},
  };
  for (const auto& row : rows) {
    const auto text = profile_json(detected(row.kind), ProfileIdentity{"Test", "NL", false, "unit test"});
    const auto profile = nat::parse_profile(text, "analyzed.json");
    ASSERT_TRUE(profile) << to_string(row.kind) << ": " << profile.error().to_string();
    ASSERT_TRUE(profile->allocator);
    EXPECT_EQ(*profile->allocator, row.expected) << to_string(row.kind);
    EXPECT_EQ(profile->source.at("allocator"), "unit test");
  }
}

TEST(ProfileExport, UnknownAllocatorIsNull) {
  const auto text = profile_json(detected(AllocatorKind::Unknown), ProfileIdentity{"Test", "NL", false, "unit test"});
  const auto profile = nat::parse_profile(text, "analyzed.json");
  ASSERT_TRUE(profile) << profile.error().to_string();
  EXPECT_FALSE(profile->allocator);
  EXPECT_EQ(nlohmann::json::parse(allocator_object_json(detected(AllocatorKind::Unknown)))["kind"], "unknown");
}

}  // namespace
}  // namespace natpunch::analyze

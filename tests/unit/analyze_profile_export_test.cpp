// What `analyze --profile-out` writes loads with the carrier-profile loader
// and gives back the detected allocator.
#include "analyze/profile_export.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <chrono>
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
  d.alpha = 2.2;
  d.beta = 5.1;
  d.loc = 4600;
  d.scale = 14000;
  if (kind == AllocatorKind::Block) {  // the thesis's block: in order, used up, placed uniformly
    d.alpha = d.beta = d.loc = d.scale = std::nullopt;
    d.block_size = 256;
    d.block_order = BlockOrder::InOrder;
    d.block_offset = 0;
    d.block_reset = ResetDecision{ResetRule::Mappings, 256, 0, "used up"};
    d.evidence.block = BlockEvidence{};
  }
  return d;
}

// Vodafone NL's real logs: 32-port windows at offset 31, random order,
// a stay of ~61 s, windows placed by a Beta law.
DetectedAllocator vodafone_window() {
  DetectedAllocator d = detected(AllocatorKind::Block);
  d.block_size = 32;
  d.block_offset = 31;
  d.block_order = BlockOrder::Random;
  d.block_reset = ResetDecision{ResetRule::Hold, 0, 61.0234, "steadier time"};
  d.alpha = 13.2;
  d.beta = 7.4;
  d.loc = 1024;
  d.scale = 20000;
  d.min = d.max = std::nullopt;
  return d;
}

TEST(ProfileExport, LoadsWithTheProfileLoader) {
  struct Row {
    AllocatorKind kind;
    nat::AllocatorSpec expected;
  };
  const Row rows[] = {
      {AllocatorKind::Block, nat::BlockSpec{256, 2048, 65535}},
      {AllocatorKind::Uniform, nat::UniformSpec{2048, 65535}},
      {AllocatorKind::Beta, nat::BetaSpec{2.2, 5.1, 4600, 14000}},
      {AllocatorKind::Sequential, nat::SequentialSpec{}},
      {AllocatorKind::Preserving, nat::PreservingSpec{}},
  };
  for (const auto& row : rows) {
    const auto text = profile_json(detected(row.kind), ProfileIdentity{"Test", "NL", false, "unit test", {}, ""});
    const auto profile = nat::parse_profile(text, "analyzed.json");
    ASSERT_TRUE(profile) << to_string(row.kind) << ": " << profile.error().to_string();
    ASSERT_TRUE(profile->allocator);
    EXPECT_EQ(*profile->allocator, row.expected) << to_string(row.kind);
    EXPECT_EQ(profile->source.at("allocator"), "unit test");
  }
}

TEST(ProfileExport, WindowsWithLocalityAndProvenance) {
  ProfileIdentity identity{"Vodafone", "NL", false, "natpunch analyze ...", {"vodafone-nl/run1", "vodafone-nl/run4"},
                           "natpunch analyze a b c d --profile-out v.json"};
  const auto text = profile_json(vodafone_window(), identity);
  const auto profile = nat::parse_profile(text, "vodafone.json");
  ASSERT_TRUE(profile) << profile.error().to_string() << "\n" << text;
  const auto& window = std::get<nat::WindowSpec>(*profile->allocator);
  EXPECT_EQ(window.size, 32u);
  EXPECT_EQ(window.offset, 31u);
  EXPECT_EQ(window.order, nat::WindowOrder::Random);
  EXPECT_EQ(window.hold, std::chrono::milliseconds(61'023));  // to the millisecond, as the wire carries it
  EXPECT_EQ(std::get<nat::BetaSpec>(window.placement), (nat::BetaSpec{13.2, 7.4, 1024, 20000}));
  ASSERT_TRUE(profile->allocator_provenance);
  EXPECT_EQ(profile->allocator_provenance->runs, identity.runs);
  EXPECT_EQ(profile->allocator_provenance->rows, 1000u);
  EXPECT_EQ(profile->allocator_provenance->command, identity.command);
  // In order but at an offset: a window too, not the thesis's block.
  DetectedAllocator shifted = detected(AllocatorKind::Block);
  shifted.block_offset = 128;
  const auto shifted_profile = nat::parse_profile(profile_json(shifted, identity), "shifted.json");
  ASSERT_TRUE(shifted_profile) << shifted_profile.error().to_string();
  const auto& in_order = std::get<nat::WindowSpec>(*shifted_profile->allocator);
  EXPECT_EQ(in_order.order, nat::WindowOrder::InOrder);
  EXPECT_EQ(in_order.mappings, 256u);
  EXPECT_EQ(std::get<nat::UniformSpec>(in_order.placement), (nat::UniformSpec{2048, 65535}));
}

TEST(ProfileExport, UnknownAllocatorIsNull) {
  const auto text = profile_json(detected(AllocatorKind::Unknown), ProfileIdentity{"Test", "NL", false, "unit test", {}, ""});
  const auto profile = nat::parse_profile(text, "analyzed.json");
  ASSERT_TRUE(profile) << profile.error().to_string();
  EXPECT_FALSE(profile->allocator);
  EXPECT_EQ(nlohmann::json::parse(allocator_object_json(detected(AllocatorKind::Unknown)))["kind"], "unknown");
}

}  // namespace
}  // namespace natpunch::analyze

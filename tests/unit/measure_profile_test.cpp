// `measure all`'s profile: what was measured is filled in with its source,
// the rest is null, and the project's own loader accepts it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "measure/measured_profile.hpp"
#include "nat/profile.hpp"

namespace natpunch::measure {
namespace {

TimeoutSearchResult found(std::uint32_t s) {
  TimeoutSearchResult r;
  r.lower_s = s;
  r.upper_s = s + 1;
  return r;
}

TEST(MeasuredProfile, EverythingMeasuredLoadsWithItsValues) {
  MeasuredProfileInput in;
  in.name = "KPN";
  in.country = "NL";
  in.source = "test run";
  in.classic_type = "symmetric";
  in.mapping = "address-and-port-dependent";
  in.filtering = "address-and-port-dependent";
  in.pending = found(120);
  in.idle = found(239);
  MtuSearchResult mtu;
  mtu.largest_ok = 1445;
  in.fragmented = mtu;
  in.path_mtu = mtu;
  in.allocator_json = R"({"kind": "block", "block_size": 256})";
  const auto text = measured_profile_json(in);
  auto profile = nat::parse_profile(text, "kpn.json");
  ASSERT_TRUE(profile.ok()) << profile.error().message << "\n" << text;
  EXPECT_EQ(profile->pending_timeout, seconds(120));
  EXPECT_EQ(profile->pending_timeout_upper, seconds(121));
  EXPECT_EQ(profile->established_timeout, seconds(239));
  EXPECT_EQ(profile->mtu, 1445u);
  EXPECT_EQ(profile->jumbo, false);
  EXPECT_TRUE(profile->allocator.has_value());
  EXPECT_TRUE(profile->type.has_value());
}

TEST(MeasuredProfile, UnmeasuredAndUnboundedValuesAreNull) {
  MeasuredProfileInput in;
  in.source = "test run";
  in.classic_type = "open internet";  // not a NAT type a profile holds
  TimeoutSearchResult above;
  above.lower_s = 30;
  above.above_max = true;
  in.pending = above;
  in.idle = found(9);
  const auto text = measured_profile_json(in);
  auto profile = nat::parse_profile(text, "x.json");
  ASSERT_TRUE(profile.ok()) << profile.error().message << "\n" << text;
  const auto doc = nlohmann::json::parse(text);
  EXPECT_TRUE(doc["type"].is_null());
  EXPECT_TRUE(doc["allocator"].is_null());
  EXPECT_TRUE(doc["mtu"].is_null());
  EXPECT_TRUE(doc["timeouts"]["pending_s"].is_null());
  EXPECT_EQ(doc["timeouts"]["established_s"], 9);
  EXPECT_FALSE(profile->pending_timeout.has_value());
}

}  // namespace
}  // namespace natpunch::measure

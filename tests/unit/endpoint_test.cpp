#include "core/endpoint.hpp"

#include <gtest/gtest.h>

#include <unordered_set>

#include "io/resolver.hpp"

namespace natpunch {
namespace {

struct ParseCase {
  const char* text;
  bool valid;
  const char* canonical;  // to_string() of the parsed endpoint
};

class EndpointParse : public testing::TestWithParam<ParseCase> {};

TEST_P(EndpointParse, ParsesOrRejects) {
  const auto& c = GetParam();
  auto ep = Endpoint::parse(c.text);
  ASSERT_EQ(ep.has_value(), c.valid) << c.text;
  if (ep) {
    EXPECT_EQ(ep->to_string(), c.canonical);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, EndpointParse,
    testing::Values(ParseCase{"203.0.113.10:3478", true, "203.0.113.10:3478"},
                    ParseCase{"0.0.0.0:0", true, "0.0.0.0:0"},
                    ParseCase{"[2001:db8::1]:3478", true, "[2001:db8::1]:3478"},
                    ParseCase{"[::1]:65535", true, "[::1]:65535"},
                    ParseCase{"203.0.113.10", false, ""},        // no port
                    ParseCase{"203.0.113.10:65536", false, ""},  // port out of range
                    ParseCase{"203.0.113.10:-1", false, ""},
                    ParseCase{"203.0.113.10:34x", false, ""},
                    ParseCase{"203.0.113.256:1", false, ""},
                    ParseCase{"2001:db8::1:3478", false, ""},  // v6 needs brackets with a port
                    ParseCase{"[2001:db8::1]3478", false, ""},
                    ParseCase{"[2001:db8::1]:", false, ""},
                    ParseCase{"host:1", false, ""},
                    ParseCase{"", false, ""}));

TEST(IpAddress, V4HostOrderRoundTrip) {
  auto a = IpAddress::v4(0xCB00710Au);
  EXPECT_EQ(a.to_string(), "203.0.113.10");
  EXPECT_EQ(a.v4_host_order(), 0xCB00710Au);
  EXPECT_TRUE(IpAddress{}.is_unspecified());
  EXPECT_FALSE(a.is_unspecified());
}

TEST(IpAddress, V4AndV6AreDistinctEvenWithSameBytes) {
  auto v4 = IpAddress::parse("0.0.0.0");
  auto v6 = IpAddress::parse("::");
  ASSERT_TRUE(v4 && v6);
  EXPECT_NE(*v4, *v6);
  EXPECT_EQ(v4->size(), 4u);
  EXPECT_EQ(v6->size(), 16u);
}

TEST(Endpoint, HashSeparatesPorts) {
  std::unordered_set<Endpoint> set;
  for (std::uint16_t p = 1; p <= 100; ++p) set.insert(Endpoint{IpAddress::v4(0x7f000001u), p});
  EXPECT_EQ(set.size(), 100u);
}

TEST(Resolver, LiteralsDoNotNeedDns) {
  auto r = io::resolve_udp("203.0.113.10", 3478);
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->front().to_string(), "203.0.113.10:3478");
  auto with_port = io::resolve_udp("[2001:db8::2]:19302", 3478);
  ASSERT_TRUE(with_port.ok());
  EXPECT_EQ(with_port->front().to_string(), "[2001:db8::2]:19302");
  auto localhost = io::resolve_udp("localhost:5000", 3478);  // /etc/hosts, no network
  ASSERT_TRUE(localhost.ok()) << localhost.error();
  EXPECT_EQ(localhost->front().port, 5000);
}

TEST(Resolver, BadInputGivesActionableErrors) {
  auto bad_port = io::resolve_udp("203.0.113.10:99999", 3478);
  ASSERT_FALSE(bad_port.ok());
  EXPECT_NE(bad_port.error().find("port"), std::string::npos) << bad_port.error();
  auto empty = io::resolve_udp("", 3478);
  ASSERT_FALSE(empty.ok());
  auto no_host = io::resolve_udp(":3478", 3478);
  ASSERT_FALSE(no_host.ok());
  // DNS failures are tested in the lab, where no query can leave the namespace.
}

}  // namespace
}  // namespace natpunch

// The one parser for addresses users type (core/host_port.hpp): what it
// accepts, and a reason naming the real problem for what it refuses --
// never "cannot resolve" for a malformed literal (issue 22, item 8).
#include <gtest/gtest.h>

#include <string>

#include "core/host_port.hpp"

namespace natpunch {
namespace {

struct RemoteCase {
  const char* text;
  bool ok;
  const char* host_or_reason;  // the host when ok, else a word the error must contain
  std::uint16_t port = 0;
  bool literal = false;
};

class ParseHostPort : public testing::TestWithParam<RemoteCase> {};

TEST_P(ParseHostPort, AcceptsOrNamesTheProblem) {
  const auto& c = GetParam();
  auto r = parse_host_port(c.text, 3478);
  ASSERT_EQ(static_cast<bool>(r), c.ok) << c.text << ": " << (r ? r->host : r.error());
  if (c.ok) {
    EXPECT_EQ(r->host, c.host_or_reason);
    EXPECT_EQ(r->port, c.port);
    EXPECT_EQ(r->literal.has_value(), c.literal);
  } else {
    EXPECT_NE(r.error().find(c.host_or_reason), std::string::npos) << c.text << ": " << r.error();
    EXPECT_EQ(r.error().find("resolve"), std::string::npos) << r.error();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseHostPort,
    testing::Values(RemoteCase{"203.0.113.10", true, "203.0.113.10", 3478, true},
                    RemoteCase{"203.0.113.10:7000", true, "203.0.113.10", 7000, true},
                    RemoteCase{"[2001:db8::1]:3479", true, "2001:db8::1", 3479, true},
                    RemoteCase{"[2001:db8::1]", true, "2001:db8::1", 3478, true},
                    RemoteCase{"2001:db8::1", true, "2001:db8::1", 3478, true},
                    RemoteCase{"stun.example.org", true, "stun.example.org", 3478, false},
                    RemoteCase{"stun.example.org:65535", true, "stun.example.org", 65535, false},
                    RemoteCase{"localhost.", true, "localhost.", 3478, false},
                    // a bad port is a bad port, not an unresolvable name
                    RemoteCase{"[::1]:99999", false, "bad port"}, RemoteCase{"127.0.0.1:0", false, "bad port"},
                    RemoteCase{"host:0", false, "bad port"}, RemoteCase{"127.0.0.1:", false, "bad port"},
                    RemoteCase{"127.0.0.1:80x", false, "bad port"}, RemoteCase{"127.0.0.1:-1", false, "bad port"},
                    // a dotted quad that is not IPv4 never reaches DNS
                    RemoteCase{"999.1.1.1", false, "not an IPv4 address"},
                    RemoteCase{"1.2.3", false, "not an IPv4 address"},
                    RemoteCase{"1.2.3.4.5:3478", false, "not an IPv4 address"},
                    RemoteCase{"[1.2.3.4]:3478", false, "only IPv6"}, RemoteCase{"[::1", false, "missing ']'"},
                    RemoteCase{"[::1]x", false, "after ']'"}, RemoteCase{"[nonsense]:1", false, "not an IPv6"},
                    RemoteCase{"2001:db8::1:3478:x", false, "not an IPv6"},
                    RemoteCase{"bad host name:1", false, "space"},
                    RemoteCase{"host$name:1", false, "neither an IP address nor a host name"},
                    RemoteCase{"a..b", false, "neither an IP address nor a host name"},
                    RemoteCase{":3478", false, "missing host"}, RemoteCase{"", false, "empty"}),
    [](const auto& info) { return "case" + std::to_string(info.index); });

TEST(ParseHostPort, WithoutADefaultPortOneMustBeGiven) {
  EXPECT_FALSE(parse_host_port("203.0.113.10", 0));
  EXPECT_TRUE(parse_host_port("203.0.113.10:1", 0));
}

TEST(ParseBindEndpoint, TakesAnIpAndAnyPortIncludingZero) {
  for (const char* ok : {"0.0.0.0:0", "[::]:0", "127.0.0.1:3478", "[2001:db8::1]:65535"})
    EXPECT_TRUE(parse_bind_endpoint(ok)) << ok;
  const struct {
    const char* text;
    const char* reason;
  } bad[] = {{"0.0.0.0", "no port"},      {"localhost:0", "not an IP address"}, {"[::]:70000", "bad port"},
             {"999.0.0.0:0", "IPv4"},     {"[::1]:", "bad port"},               {"::", "no port"}};
  for (const auto& b : bad) {
    auto r = parse_bind_endpoint(b.text);
    ASSERT_FALSE(r) << b.text;
    EXPECT_NE(r.error().find(b.reason), std::string::npos) << b.text << ": " << r.error();
  }
  auto v6 = parse_bind_endpoint("[::]:0");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->address.is_v6());
}

}  // namespace
}  // namespace natpunch

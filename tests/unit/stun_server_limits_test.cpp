// STUN server amplification limits: the response size rule and per-source rate limiting.
#include "stun/server.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "stun/message.hpp"
#include "stun_server_test_support.hpp"

namespace natpunch::stun {
namespace {

using namespace server_test;

// --- size rule -----------------------------------------------------------

struct SizeRow {
  bool alternate;
  bool classic;
  bool fingerprint;
  std::optional<std::size_t> padding;
};

void PrintTo(const SizeRow& r, std::ostream* os) {
  *os << "alternate " << r.alternate << " classic " << r.classic << " fingerprint " << r.fingerprint << " padding "
      << (r.padding ? std::to_string(*r.padding) : "none");
}

class ResponseSizeTest : public ::testing::TestWithParam<SizeRow> {};

TEST_P(ResponseSizeTest, NeverLargerThanRequestOrUnpaddedResponse) {
  const auto& row = GetParam();
  Server server(row.alternate ? config_with_alternate() : config_without_alternate());
  RequestSpec spec;
  spec.cookie = row.classic ? kClassicCookie : kMagicCookie;
  spec.fingerprint = row.fingerprint;
  spec.padding = row.padding;
  const auto request = make_request(spec);
  RequestSpec unpadded_spec = spec;
  unpadded_spec.padding.reset();
  const auto unpadded = ask(server, make_request(unpadded_spec));
  const auto e = ask(server, request);
  ASSERT_TRUE(e.reply && unpadded.reply);
  const std::size_t minimal = unpadded.reply->length;

  EXPECT_LE(e.reply->length, std::max(request.size(), minimal));
  const bool padded = e.view().find(attr::kPadding) != nullptr;
  if (row.padding && request.size() >= minimal + 4) {
    EXPECT_TRUE(padded);
    EXPECT_EQ(e.reply->length, request.size());  // RFC 5780 fragmentation test still works
  } else {
    EXPECT_FALSE(padded);
    EXPECT_EQ(e.reply->length, minimal);
  }
  EXPECT_EQ(e.view().has_fingerprint(), row.fingerprint);
}

INSTANTIATE_TEST_SUITE_P(
    PaddingSizes, ResponseSizeTest,
    ::testing::Values(SizeRow{true, false, false, std::nullopt}, SizeRow{true, false, false, 0},
                      SizeRow{true, false, false, 32}, SizeRow{true, false, false, 44}, SizeRow{true, false, true, 48},
                      SizeRow{true, false, true, 1400}, SizeRow{true, true, false, 1400},
                      SizeRow{false, false, false, 4}, SizeRow{false, false, false, 8},
                      SizeRow{false, false, true, 500}, SizeRow{false, true, true, std::nullopt}),
    [](const ::testing::TestParamInfo<SizeRow>& info) {
      const auto& r = info.param;
      return std::string(r.alternate ? "Alt" : "NoAlt") + (r.classic ? "_Classic" : "_Modern") +
             (r.fingerprint ? "_Fingerprint" : "") +
             (r.padding ? "_Padding" + std::to_string(*r.padding) : std::string("_NoPadding"));
    });

TEST(StunServerTest, PaddingNeverExceedsOutputBuffer) {
  Server server(config_with_alternate());
  RequestSpec spec;
  spec.padding = 1400;
  const auto request = make_request(spec);
  const auto e = ask(server, request, S::PrimaryIpPrimaryPort, kClient, kTimeZero, 512);
  ASSERT_TRUE(e.reply);
  EXPECT_LT(e.reply->length, 512u);
  EXPECT_EQ(e.view().find(attr::kPadding), nullptr);
}

// --- rate limiting ---------------------------------------------------------

RateLimitConfig rates(double per_port, double port_burst, std::size_t max_sources = 1024) {
  RateLimitConfig c;
  c.requests_per_second = per_port;
  c.burst = port_burst;
  c.max_sources = max_sources;
  c.max_addresses = max_sources;
  return c;
}

ServerConfig limited(double rate, double burst, std::size_t max_sources = 1024) {
  auto c = config_with_alternate();
  c.rate_limit = rates(rate, burst, max_sources);
  return c;
}

TEST(StunServerTest, RateLimitKicksInAndRecovers) {
  Server server(limited(1.0, 5.0));
  const auto request = make_request({});
  const Endpoint other{IpAddress::v4({203, 0, 113, 6}), 40000};
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(ask(server, request).reply) << i;
  EXPECT_FALSE(ask(server, request).reply);
  EXPECT_EQ(server.counters().dropped_rate_limited, 1u);
  // Another source has its own bucket, and so has another port of the same
  // address (another phone behind the same carrier NAT).
  EXPECT_TRUE(ask(server, request, S::PrimaryIpPrimaryPort, other).reply);
  EXPECT_TRUE(ask(server, request, S::PrimaryIpPrimaryPort, Endpoint{kClient.address, 1}).reply);

  const TimePoint later = kTimeZero + milliseconds(1000);
  EXPECT_TRUE(ask(server, request, S::PrimaryIpPrimaryPort, kClient, later).reply);
  EXPECT_FALSE(ask(server, request, S::PrimaryIpPrimaryPort, kClient, later).reply);

  // Long idle refills only up to the burst.
  const TimePoint much_later = later + seconds(3600);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(ask(server, request, S::PrimaryIpPrimaryPort, kClient, much_later).reply);
  EXPECT_FALSE(ask(server, request, S::PrimaryIpPrimaryPort, kClient, much_later).reply);
  EXPECT_EQ(server.counters().dropped_rate_limited, 3u);
}

TEST(StunServerTest, GarbageDoesNotConsumeRateLimitTokens) {
  Server server(limited(1.0, 2.0));
  for (int i = 0; i < 100; ++i) ask(server, {0x00, 0x01, 0x02});
  EXPECT_EQ(server.tracked_sources(), 0u);
  EXPECT_TRUE(ask(server, make_request({})).reply);
  EXPECT_TRUE(ask(server, make_request({})).reply);
}

TEST(StunServerTest, SpoofedFloodKeepsTableBounded) {
  Server server(limited(1.0, 3.0, 64));
  const auto request = make_request({});
  for (std::uint32_t i = 0; i < 20000; ++i) {
    const Endpoint spoofed{IpAddress::v4(0x64400000u + i), 1234};
    ask(server, request, S::PrimaryIpPrimaryPort, spoofed);
    ASSERT_LE(server.tracked_sources(), 64u);
  }
  EXPECT_EQ(server.tracked_sources(), 64u);
  // A legitimate client still gets through (fresh bucket after eviction).
  EXPECT_TRUE(ask(server, request).reply);
}

// The address budget is per IPv6 /64 (one customer); the port buckets per
// full address and port (one device's socket).
TEST(SourceRateLimiterTest, Ipv6AddressBudgetPerSlash64) {
  RateLimitConfig config = rates(10.0, 10.0, 64);
  config.address_requests_per_second = 1.0;
  config.address_burst = 3.0;
  config.reserved_per_second = 0;
  config.reserved_burst = 0;
  SourceRateLimiter limiter(config, 42);
  const Endpoint a{*IpAddress::parse("2001:db8:1:2::1"), 1000};
  const Endpoint b{*IpAddress::parse("2001:db8:1:2:ffff::9"), 1000};
  const Endpoint c{*IpAddress::parse("2001:db8:1:3::1"), 1000};
  EXPECT_TRUE(limiter.allow(kTimeZero, a));
  EXPECT_TRUE(limiter.allow(kTimeZero, b));
  EXPECT_TRUE(limiter.allow(kTimeZero, a));
  EXPECT_FALSE(limiter.allow(kTimeZero, b)) << "the /64's budget of 3 is spent";
  EXPECT_TRUE(limiter.allow(kTimeZero, c)) << "another /64";
  EXPECT_EQ(limiter.tracked(), 3u);
  EXPECT_EQ(limiter.capacity(), 64u);
}

TEST(SourceRateLimiterTest, ClockSteppingBackDoesNotMintTokens) {
  SourceRateLimiter limiter(rates(1.0, 1.0, 8), 0);
  const Endpoint e{IpAddress::v4({203, 0, 113, 9}), 7};
  EXPECT_TRUE(limiter.allow(kTimeZero + seconds(100), e));
  EXPECT_FALSE(limiter.allow(kTimeZero + seconds(50), e));
  EXPECT_FALSE(limiter.allow(kTimeZero + seconds(100), e));
  EXPECT_TRUE(limiter.allow(kTimeZero + seconds(101), e));
}

// Once an address's budget is spent (by an abuser's new ports), a port it
// had seen before still gets its reserve; a new port gets nothing.
TEST(SourceRateLimiterTest, KnownPortsKeepTheirReserveWhenTheAddressBudgetIsSpent) {
  RateLimitConfig config = rates(100.0, 100.0, 1024);
  config.address_requests_per_second = 10;
  config.address_burst = 10;
  config.reserved_per_second = 1;
  config.reserved_burst = 3;
  SourceRateLimiter limiter(config, 1);
  const IpAddress carrier = IpAddress::v4({100, 64, 0, 1});
  const Endpoint honest{carrier, 40000};
  EXPECT_EQ(limiter.decide(kTimeZero, honest), RateDecision::Allowed);
  EXPECT_EQ(limiter.decide(kTimeZero, honest), RateDecision::Allowed);  // now known
  for (std::uint16_t p = 1000; p < 1008; ++p) limiter.allow(kTimeZero, Endpoint{carrier, p});
  EXPECT_EQ(limiter.decide(kTimeZero, Endpoint{carrier, 2000}), RateDecision::AddressLimited);
  EXPECT_EQ(limiter.decide(kTimeZero, honest), RateDecision::AllowedFromReserve);
  EXPECT_EQ(limiter.decide(kTimeZero, honest), RateDecision::AllowedFromReserve);
  EXPECT_EQ(limiter.decide(kTimeZero, honest), RateDecision::AllowedFromReserve);
  EXPECT_EQ(limiter.decide(kTimeZero, honest), RateDecision::AddressLimited) << "the reserve is small";
  EXPECT_EQ(limiter.decide(kTimeZero + seconds(1), honest), RateDecision::Allowed) << "the budget refills";
}

// The number of ports an address may make known is limited too, so an
// abuser cannot turn its many ports into many reserves.
TEST(SourceRateLimiterTest, KnownPortsPerAddressAreLimited) {
  RateLimitConfig config = rates(100.0, 100.0, 4096);
  config.address_requests_per_second = 0.001;  // next to no refill
  config.address_burst = 200;                   // exactly the 100 ports x 2 requests below
  config.known_ports_per_second = 0;
  config.known_ports_burst = 5;
  SourceRateLimiter limiter(config, 1);
  const IpAddress carrier = IpAddress::v4({100, 64, 0, 1});
  for (std::uint16_t p = 1000; p < 1100; ++p)
    for (int k = 0; k < 2; ++k) EXPECT_TRUE(limiter.allow(kTimeZero, Endpoint{carrier, p}));
  // The address budget is spent: only ports with a reserve get through.
  int with_reserve = 0;
  for (std::uint16_t p = 1000; p < 1100; ++p)
    if (limiter.decide(kTimeZero, Endpoint{carrier, p}) == RateDecision::AllowedFromReserve) ++with_reserve;
  EXPECT_EQ(with_reserve, 5);
}

}  // namespace
}  // namespace natpunch::stun

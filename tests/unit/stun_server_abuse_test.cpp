// Attacks on the STUN server (issue 23, findings 8 and 10), sans-IO in
// virtual time: how much larger than a request a response may be, and
// whether one abuser sharing an honest client's address (a carrier-grade
// NAT) can take the client's answers away.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "stun/message.hpp"
#include "stun/server.hpp"
#include "stun_server_test_support.hpp"

namespace natpunch::stun {
namespace {

using namespace server_test;

// --- finding 8: replies as small as the RFCs allow ---------------------------

struct SizeCase {
  const char* name;
  bool v6;
  bool alternate;
  bool classic;    // RFC 3489 request (no magic cookie)
  std::size_t expected;  // the smallest response RFC 8489 / 5780 / 3489 allow
};
void PrintTo(const SizeCase& c, std::ostream* os) { *os << c.name; }

ServerConfig sized_config(const SizeCase& c) {
  ServerConfig config;
  if (c.v6) {
    config.primary = *Endpoint::parse("[2001:db8::10]:3478");
    if (c.alternate) config.alternate = *Endpoint::parse("[2001:db8::11]:3479");
  } else {
    config.primary = kPrimary;
    if (c.alternate) config.alternate = kAlternate;
  }
  config.rate_limit.reset();
  return config;
}

class StunReplySize : public ::testing::TestWithParam<SizeCase> {};

// A bare 20-byte Binding request: the response carries the mapped address
// once (XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS for a classic client), plus
// RFC 5780's two addresses with --alt; nothing else.
TEST_P(StunReplySize, BareRequestGetsTheSmallestResponse) {
  const auto& c = GetParam();
  Server server(sized_config(c));
  RequestSpec spec;
  spec.cookie = c.classic ? kClassicCookie : kMagicCookie;
  const auto request = make_request(spec);
  ASSERT_EQ(request.size(), 20u);
  const Endpoint from = c.v6 ? *Endpoint::parse("[2001:db8:5::7]:40000") : kClient;
  std::vector<std::uint8_t> out(2048);
  const auto reply = server.handle(kTimeZero, request, from, S::PrimaryIpPrimaryPort, out);
  ASSERT_TRUE(reply);
  std::printf("[stun-size] %s: %zu-byte request -> %zu-byte response (%.1fx)\n", c.name, request.size(),
              reply->length, static_cast<double>(reply->length) / static_cast<double>(request.size()));
  EXPECT_EQ(reply->length, c.expected);
  auto view = MessageView::decode(std::span<const std::uint8_t>(out.data(), reply->length));
  ASSERT_TRUE(view);
  if (c.classic) {
    EXPECT_EQ(view->mapped_address(), from);
  } else {
    EXPECT_EQ(view->xor_mapped_address(), from);
    EXPECT_EQ(view->find(attr::kMappedAddress), nullptr) << "a modern client reads XOR-MAPPED-ADDRESS only";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Families, StunReplySize,
    ::testing::Values(SizeCase{"v4_modern", false, false, false, 32}, SizeCase{"v4_classic", false, false, true, 32},
                      SizeCase{"v4_modern_alt", false, true, false, 56},
                      SizeCase{"v4_classic_alt", false, true, true, 56}, SizeCase{"v6_modern", true, false, false, 44},
                      SizeCase{"v6_modern_alt", true, true, false, 92}),
    [](const ::testing::TestParamInfo<SizeCase>& info) { return std::string(info.param.name); });

// SOFTWARE is optional (RFC 8489 section 14.14): it is sent only when the
// response still is no larger than the request, so a long --software string
// never multiplies what a spoofed request reflects.
TEST(StunSoftware, SentOnlyWhenItAddsNoAmplification) {
  auto config = config_without_alternate();
  config.software = std::string(120, 's');
  Server server(config);
  std::vector<std::uint8_t> out(2048);
  const auto bare = make_request({});
  const auto small = server.handle(kTimeZero, bare, kClient, S::PrimaryIpPrimaryPort, out);
  ASSERT_TRUE(small);
  EXPECT_EQ(small->length, 32u) << "SOFTWARE left out of the answer to a 20-byte request";

  RequestSpec padded;
  padded.padding = 200;
  const auto big_request = make_request(padded);
  const auto big = server.handle(kTimeZero, big_request, kClient, S::PrimaryIpPrimaryPort, out);
  ASSERT_TRUE(big);
  EXPECT_LE(big->length, big_request.size());
  auto view = MessageView::decode(std::span<const std::uint8_t>(out.data(), big->length));
  ASSERT_TRUE(view);
  EXPECT_NE(view->find(attr::kSoftware), nullptr) << "a request large enough gets SOFTWARE";
}

// --- finding 10: fairness among the ports of one address ---------------------

struct SharedAddressAttack {
  const char* name;
  double attack_per_second;
  // How the abuser picks its source ports: one port, a new port for every
  // request, or round-robin over `ports` ports it opened earlier.
  enum class Ports { One, New, Many } ports;
  int many = 0;
};

void PrintTo(const SharedAddressAttack& a, std::ostream* os) { *os << a.name; }

// An honest client (one socket, a request per second, talking to the server
// for a minute already) and an abuser on the same public address, in
// virtual time: the honest client must get >= 99 % of its answers.
double honest_share_under(const SharedAddressAttack& attack, ServerConfig config, std::uint64_t* attack_answered) {
  Server server(config);
  const IpAddress carrier = IpAddress::v4({100, 64, 7, 9});
  const Endpoint honest{carrier, 40000};
  const auto request = make_request({});
  std::vector<std::uint8_t> out(2048);
  TimePoint now = kTimeZero + seconds(1000);
  for (int i = 0; i < 60; ++i, now += seconds(1)) server.handle(now, request, honest, S::PrimaryIpPrimaryPort, out);
  // The abuser's long-lived ports talk once, earlier, like honest ones.
  for (int p = 0; p < attack.many; ++p)
    for (int k = 0; k < 2; ++k)
      server.handle(now - seconds(30), request, Endpoint{carrier, static_cast<std::uint16_t>(20000 + p)},
                    S::PrimaryIpPrimaryPort, out);

  constexpr int kSeconds = 10;
  constexpr int kStepsPerSecond = 100;
  const auto per_step = attack.attack_per_second / kStepsPerSecond;
  double owed = 0;
  std::uint16_t next_port = 1024;
  int honest_sent = 0, honest_answered = 0;
  *attack_answered = 0;
  for (int step = 0; step < kSeconds * kStepsPerSecond; ++step) {
    now += milliseconds(1000 / kStepsPerSecond);
    for (owed += per_step; owed >= 1; owed -= 1) {
      Endpoint from{carrier, 55555};
      if (attack.ports == SharedAddressAttack::Ports::New) {
        from.port = next_port;
        next_port = next_port == 65535 ? 1024 : static_cast<std::uint16_t>(next_port + 1);
        if (next_port == honest.port) ++next_port;
      } else if (attack.ports == SharedAddressAttack::Ports::Many) {
        from.port = static_cast<std::uint16_t>(20000 + (next_port++ % attack.many));
      }
      if (server.handle(now, request, from, S::PrimaryIpPrimaryPort, out)) ++*attack_answered;
    }
    if (step % kStepsPerSecond == 0) {
      ++honest_sent;
      if (server.handle(now, request, honest, S::PrimaryIpPrimaryPort, out)) ++honest_answered;
    }
  }
  return static_cast<double>(honest_answered) / honest_sent;
}

class StunSharedAddress : public ::testing::TestWithParam<SharedAddressAttack> {};

TEST_P(StunSharedAddress, HonestClientKeepsItsAnswers) {
  const auto& attack = GetParam();
  auto config = config_without_alternate();
  config.rate_limit = RateLimitConfig{};  // the defaults `stun-server` runs with
  std::uint64_t attack_answered = 0;
  const double share = honest_share_under(attack, config, &attack_answered);
  std::printf("[stun-shared-address] %s: honest %.0f %% answered; the abuser got %llu answers in 10 s\n",
              attack.name, 100 * share, static_cast<unsigned long long>(attack_answered));
  EXPECT_GE(share, 0.99);
}

using P = SharedAddressAttack::Ports;
INSTANTIATE_TEST_SUITE_P(
    Attacks, StunSharedAddress,
    ::testing::Values(SharedAddressAttack{"one_port_50", 50, P::One}, SharedAddressAttack{"one_port_200", 200, P::One},
                      SharedAddressAttack{"one_port_4000", 4000, P::One},
                      SharedAddressAttack{"new_ports_200", 200, P::New},
                      SharedAddressAttack{"new_ports_4000", 4000, P::New},
                      SharedAddressAttack{"new_ports_40000", 40000, P::New},
                      SharedAddressAttack{"many_ports_20000", 20000, P::Many, 1000}),
    [](const ::testing::TestParamInfo<SharedAddressAttack>& info) { return std::string(info.param.name); });

// What no per-packet rule can do: a client's first request from a new port
// looks exactly like the abuser's next new port. While an abuser on the
// same address sends more new-port requests than the address budget, a new
// client's requests get a share of that budget (budget / flood rate), never
// less than half of it; clients that talked before keep theirs (above).
TEST(StunSharedAddress, ANewPortSharesTheAddressBudgetWithTheFlood) {
  auto config = config_without_alternate();
  config.rate_limit = RateLimitConfig{};
  Server server(config);
  const IpAddress carrier = IpAddress::v4({100, 64, 7, 9});
  const auto request = make_request({});
  std::vector<std::uint8_t> out(2048);
  constexpr double kFlood = 40'000;
  TimePoint now = kTimeZero + seconds(1000);
  std::uint16_t port = 1024;
  int asked = 0, answered = 0;
  for (int step = 0; step < 10'000; ++step) {  // 10 s, 1 ms steps
    now += milliseconds(1);
    for (int k = 0; k < static_cast<int>(kFlood / 1000); ++k) {
      server.handle(now, request, Endpoint{carrier, port}, S::PrimaryIpPrimaryPort, out);
      port = port == 65535 ? 1024 : static_cast<std::uint16_t>(port + 1);
    }
    if (step % 100 == 50) {  // a new honest client every 100 ms, one request from a fresh port
      ++asked;
      if (server.handle(now, request, Endpoint{carrier, static_cast<std::uint16_t>(port ^ 0x8000)},
                        S::PrimaryIpPrimaryPort, out))
        ++answered;
    }
  }
  const double share = static_cast<double>(answered) / asked;
  const double fair = config.rate_limit->address_requests_per_second / kFlood;
  std::printf("[stun-shared-address] new honest ports during a 40,000/s new-port flood: %.1f %% answered "
              "(the address budget's share: %.1f %%)\n",
              100 * share, 100 * fair);
  EXPECT_GE(share, fair / 2);
}

}  // namespace
}  // namespace natpunch::stun

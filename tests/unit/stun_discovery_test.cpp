// NAT behaviour discovery driven by hand, the test playing the server:
// classic (RFC 3489) answers, corrupted FINGERPRINTs, error answers, no
// servers, datagrams on a socket discovery does not own. The scenarios
// through simulated NATs (every behaviour, firewalls, blocked UDP,
// retransmission schedules, forgeries) are in tests/sim/sim_nat_discovery_test.cpp.
#include "stun/discovery.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "stun/message.hpp"

namespace natpunch::stun {
namespace {

static_assert(ProtocolMachine<NatDiscovery>);

using C = nat::ClassicType;

const Endpoint kPrimary{IpAddress::v4({198, 51, 100, 10}), 3478};
const Endpoint kAlternate{IpAddress::v4({198, 51, 100, 11}), 3479};
const Endpoint kInsideHost{IpAddress::v4({100, 64, 7, 2}), 5000};
const Endpoint kFirstMapping{IpAddress::v4({203, 0, 113, 5}), 40000};

// Drives discovery by hand, playing the server ourselves.
struct Manual {
  Manual() : discovery(make_config(), rng, kTimeZero) {}
  static DiscoveryConfig make_config() {
    DiscoveryConfig c;
    c.servers = {kPrimary};
    c.local = kInsideHost;
    c.test_hairpinning = false;
    return c;
  }
  std::vector<Transmit> sent(TimePoint now) {
    std::vector<Transmit> out;
    while (auto t = discovery.poll_transmit(now)) out.push_back(std::move(*t));
    return out;
  }

  Rng rng{3};
  NatDiscovery discovery;
};

TEST(DiscoveryTest, AcceptsClassicServerWithChangedAddressAndMappedAddressOnly) {
  Manual m;
  auto first = m.sent(kTimeZero);
  ASSERT_EQ(first.size(), 1u);
  auto request = MessageView::decode(first[0].bytes);
  ASSERT_TRUE(request);
  EXPECT_FALSE(request->change_request());
  std::vector<std::uint8_t> buf(128);
  MessageBuilder b(buf, Method::Binding, MessageClass::SuccessResponse, request->transaction_id(), request->cookie());
  b.add_address(attr::kMappedAddress, kFirstMapping);
  b.add_address(attr::kSourceAddress, kPrimary);
  b.add_address(attr::kChangedAddress, kAlternate);
  m.discovery.on_datagram(kTimeZero + milliseconds(20), 0, kPrimary, b.bytes());

  EXPECT_EQ(m.discovery.result().mapped, kFirstMapping);
  EXPECT_EQ(m.discovery.result().server_alternate, kAlternate);
  auto change = m.sent(kTimeZero + milliseconds(20));
  ASSERT_EQ(change.size(), 2u);
  for (const auto& t : change) {
    EXPECT_EQ(t.to, kPrimary);
    auto v = MessageView::decode(t.bytes);
    ASSERT_TRUE(v);
    ASSERT_TRUE(v->change_request());
    EXPECT_TRUE(v->change_request()->change_port);
    EXPECT_TRUE(v->has_fingerprint());
  }
}

TEST(DiscoveryTest, CorruptedFingerprintIsIgnored) {
  Manual m;
  auto first = m.sent(kTimeZero);
  auto request = MessageView::decode(first.at(0).bytes);
  ASSERT_TRUE(request);
  std::vector<std::uint8_t> buf(128);
  MessageBuilder b(buf, Method::Binding, MessageClass::SuccessResponse, request->transaction_id(), request->cookie());
  b.add_xor_address(attr::kXorMappedAddress, kFirstMapping);
  b.add_fingerprint();
  std::vector<std::uint8_t> corrupted(b.bytes().begin(), b.bytes().end());
  corrupted[27] ^= 0x01;  // inside XOR-MAPPED-ADDRESS
  m.discovery.on_datagram(kTimeZero + milliseconds(20), 0, kPrimary, corrupted);
  EXPECT_FALSE(m.discovery.result().mapped);
  m.discovery.on_datagram(kTimeZero + milliseconds(21), 0, kPrimary, b.bytes());
  EXPECT_EQ(m.discovery.result().mapped, kFirstMapping);
  // No alternate in that response: done without change tests.
  EXPECT_TRUE(m.discovery.done());
  EXPECT_EQ(m.discovery.result().classic, C::Unknown);
}

TEST(DiscoveryTest, ErrorResponseFailsOverWithoutClaimingUdpBlocked) {
  Manual m;
  auto request = MessageView::decode(m.sent(kTimeZero).at(0).bytes);
  ASSERT_TRUE(request);
  std::vector<std::uint8_t> buf(128);
  MessageBuilder b(buf, Method::Binding, MessageClass::ErrorResponse, request->transaction_id(), request->cookie());
  b.add_error_code(500, "Server Error");
  m.discovery.on_datagram(kTimeZero + milliseconds(20), 0, kPrimary, b.bytes());
  ASSERT_TRUE(m.discovery.done());
  EXPECT_EQ(m.discovery.result().classic, C::Unknown);
  EXPECT_NE(m.discovery.result().note.find("without a usable mapped address"), std::string::npos);
}

TEST(DiscoveryTest, DatagramOnAnotherSocketIsIgnored) {
  Manual m;
  auto request = MessageView::decode(m.sent(kTimeZero).at(0).bytes);
  ASSERT_TRUE(request);
  std::vector<std::uint8_t> buf(128);
  MessageBuilder b(buf, Method::Binding, MessageClass::SuccessResponse, request->transaction_id(), request->cookie());
  b.add_xor_address(attr::kXorMappedAddress, kFirstMapping);
  m.discovery.on_datagram(kTimeZero + milliseconds(20), 1, kPrimary, b.bytes());
  EXPECT_FALSE(m.discovery.result().mapped);
  m.discovery.on_datagram(kTimeZero + milliseconds(20), 0, kPrimary, b.bytes());
  EXPECT_EQ(m.discovery.result().mapped, kFirstMapping);
}

TEST(DiscoveryTest, NoServersIsDoneAndUnknown) {
  Rng rng{1};
  DiscoveryConfig c;
  c.local = kInsideHost;
  NatDiscovery discovery(c, rng, kTimeZero);
  EXPECT_TRUE(discovery.done());
  EXPECT_EQ(discovery.result().classic, C::Unknown);
  EXPECT_FALSE(discovery.poll_transmit(kTimeZero));
  EXPECT_FALSE(discovery.next_deadline());
}

}  // namespace
}  // namespace natpunch::stun

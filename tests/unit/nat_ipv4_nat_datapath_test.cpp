#include "nat/ipv4_nat_datapath.hpp"

#include <gtest/gtest.h>

#include "ipv4_test_packets.hpp"
#include "nat/allocator_block.hpp"
#include "nat_table_test_support.hpp"

namespace natpunch::nat {
namespace {

using namespace test_packets;
using test::kPublic;
using test::kRemoteA;

const IpAddress kGateway = IpAddress::v4({100, 64, 0, 1});
const Endpoint kInside{IpAddress::v4({100, 64, 0, 2}), 5000};

DatapathConfig base_config() {
  DatapathConfig c;
  c.inside = Ipv4Prefix{IpAddress::v4({100, 64, 0, 0}).v4_host_order(), 0xffffff00U};
  c.public_address = kPublic.v4_host_order();
  c.inside_gateway = kGateway.v4_host_order();
  return c;
}

struct Fixture {
  explicit Fixture(DatapathConfig config = base_config(), NatConfig nat = test::config_of(
                                                              MappingBehavior::EndpointIndependent,
                                                              FilteringBehavior::EndpointIndependent))
      : table(test::make_nat(nat)), datapath(table, test::make_nat(icmp_query_config(kPublic)), config) {}

  std::vector<Bytes> handle(TimePoint now, Bytes packet) {
    std::vector<Bytes> out;
    datapath.handle(now, packet, [&](std::span<const std::uint8_t> p) { out.emplace_back(p.begin(), p.end()); });
    return out;
  }
  std::vector<Bytes> poll(TimePoint now) {
    std::vector<Bytes> out;
    datapath.poll(now, [&](std::span<const std::uint8_t> p) { out.emplace_back(p.begin(), p.end()); });
    return out;
  }

  NatTable table;
  Ipv4NatDatapath datapath;
};

TEST(Ipv4NatDatapath, TranslatesUdpAndIcmpBothWays) {
  Fixture f;
  auto out = f.handle(kTimeZero, udp_packet(kInside, kRemoteA));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(get_address(out[0], 12), kPublic);
  const Endpoint external{kPublic, get16(out[0], 20)};
  auto in = f.handle(kTimeZero, udp_packet(kRemoteA, external));
  ASSERT_EQ(in.size(), 1U);
  EXPECT_EQ(get_address(in[0], 16), kInside.address);
  auto ping = f.handle(kTimeZero, icmp_echo(kInside.address, kRemoteA.address, 8, 77));
  ASSERT_EQ(ping.size(), 1U);
  auto pong = f.handle(kTimeZero, icmp_echo(kRemoteA.address, kPublic, 0, get16(ping[0], 24)));
  ASSERT_EQ(pong.size(), 1U);
  EXPECT_EQ(get_address(pong[0], 16), kInside.address);
  EXPECT_EQ(f.datapath.counters().outbound, 2U);
  EXPECT_EQ(f.datapath.counters().inbound, 2U);
  EXPECT_EQ(f.datapath.counters().icmp_translated, 2U);
  EXPECT_TRUE(f.handle(kTimeZero, udp_packet(Endpoint{IpAddress::v4({203, 0, 113, 9}), 1}, kRemoteA)).empty());
  EXPECT_EQ(f.datapath.counters().not_ours, 1U);
}

TEST(Ipv4NatDatapath, PathMtuAnswersDontFragmentPacketsWithFragmentationNeeded) {
  auto config = base_config();
  config.path_mtu = 1400;
  Fixture f(config);
  // Outbound: the inside host hears it from the inside gateway.
  const auto big = udp_packet(kInside, kRemoteA, 1472, true);
  auto out = f.handle(kTimeZero, big);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(get_address(out[0], 12), kGateway);
  EXPECT_EQ(get_address(out[0], 16), kInside.address);
  EXPECT_EQ(out[0][20], 3);
  EXPECT_EQ(out[0][21], 4);
  EXPECT_EQ(get16(out[0], 26), 1400);
  EXPECT_EQ(icmp_verify(out[0]), 0);
  EXPECT_EQ(f.table.mapping_count(), 0U) << "a dropped packet opens no mapping";
  // 1400 bytes exactly passes.
  EXPECT_EQ(f.handle(kTimeZero, udp_packet(kInside, kRemoteA, 1372, true)).at(0).size(), 1400U);
  // Inbound: the remote hears it from the public address.
  const Endpoint external{kPublic, 1024};
  auto in = f.handle(kTimeZero, udp_packet(kRemoteA, external, 1472, true));
  ASSERT_EQ(in.size(), 1U);
  EXPECT_EQ(get_address(in[0], 12), kPublic);
  EXPECT_EQ(get_address(in[0], 16), kRemoteA.address);
  EXPECT_EQ(f.datapath.counters().too_big, 2U);
}

TEST(Ipv4NatDatapath, PathMtuFragmentsPacketsWithoutDontFragment) {
  auto config = base_config();
  config.path_mtu = 1400;
  Fixture f(config);
  auto out = f.handle(kTimeZero, udp_packet(kInside, kRemoteA, 3000, false));
  ASSERT_EQ(out.size(), 3U);
  for (const auto& p : out) {
    EXPECT_LE(p.size(), 1400U);
    EXPECT_EQ(get_address(p, 12), kPublic);
    EXPECT_EQ(internet_checksum(std::span(p).first(20)), 0);
  }
}

TEST(Ipv4NatDatapath, FragmentedJumboDatagramIsReassembledTranslatedAndRefragmented) {
  Fixture f;  // no path MTU: re-fragmented to the 1500-byte link
  const auto jumbo = udp_packet(kInside, kRemoteA, 65507);
  std::vector<std::uint8_t> scratch;
  std::vector<Bytes> fragments;
  fragment_ipv4(jumbo, 1500, scratch, [&](std::span<const std::uint8_t> p) { fragments.emplace_back(p.begin(), p.end()); });
  std::vector<Bytes> out;
  for (const auto& fragment : fragments) {
    auto emitted = f.handle(kTimeZero, fragment);
    out.insert(out.end(), emitted.begin(), emitted.end());
  }
  ASSERT_EQ(out.size(), fragments.size());
  EXPECT_EQ(f.datapath.counters().reassembled, 1U);
  // Reassemble what natd sent and check it is the translated datagram.
  Ipv4Reassembler check;
  Bytes whole;
  for (const auto& p : out) {
    EXPECT_LE(p.size(), 1500U);
    auto r = check.add(kTimeZero, p, *parse_ipv4_header(p, true));
    ASSERT_TRUE(r);
    if (!r->empty()) whole.assign(r->begin(), r->end());
  }
  ASSERT_EQ(whole.size(), 65535U);
  EXPECT_EQ(get_address(whole, 12), kPublic);
  EXPECT_EQ(udp_verify(whole), 0);
  EXPECT_TRUE(std::equal(whole.begin() + 28, whole.end(), jumbo.begin() + 28));
}

TEST(Ipv4NatDatapath, ImpairmentDelaysUntilPolled) {
  auto config = base_config();
  config.impair_outbound = *parse_impairment("delay=50ms");
  Fixture f(config);
  EXPECT_TRUE(f.handle(kTimeZero, udp_packet(kInside, kRemoteA)).empty());
  ASSERT_EQ(f.datapath.next_deadline().value(), kTimeZero + milliseconds(50));
  EXPECT_TRUE(f.poll(kTimeZero + milliseconds(49)).empty());
  EXPECT_EQ(f.poll(kTimeZero + milliseconds(50)).size(), 1U);
  // The other direction is not impaired.
  EXPECT_EQ(f.handle(kTimeZero + milliseconds(60), udp_packet(kRemoteA, Endpoint{kPublic, 1024})).size(), 1U);
}

TEST(Ipv4NatDatapath, BackgroundLoadConsumesBlocksAtItsRate) {
  auto config = base_config();
  config.background = BackgroundLoadConfig{.subscribers = 50, .rate = 100};
  auto nat = test::config_of(MappingBehavior::EndpointIndependent, FilteringBehavior::EndpointIndependent);
  nat.allocator = BlockSpec{};
  nat.pending_timeout = seconds(30);
  Fixture f(config, nat);
  TimePoint now = kTimeZero;
  f.poll(now);
  for (int i = 0; i < 100; ++i) {
    now = f.datapath.next_deadline().value_or(now + milliseconds(100));
    f.poll(now);
  }
  f.poll(kTimeZero + seconds(10));
  const auto& counters = f.datapath.background()->counters();
  EXPECT_NEAR(static_cast<double>(counters.opened), 1001, 2);
  EXPECT_EQ(f.table.mapping_count(), counters.opened);
  // Our own host still gets a block of its own, starting at a multiple of 256.
  auto out = f.handle(kTimeZero + seconds(10), udp_packet(kInside, kRemoteA));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(get16(out[0], 20) % 256, 0);
  EXPECT_EQ(f.table.mapping_count(kInside.address), 1U);
}

// Two phones behind one hairpinning NAT reach each other through their
// public mappings, filtered like any other traffic: the packet leaves the
// datapath addressed to the inside target, from the sender's mapping, with
// valid checksums; without hairpinning the model drops it.
TEST(Ipv4NatDatapath, HairpinningDeliversOneInsideHostToAnotherThroughTheirMappings) {
  const Endpoint phone_a = kInside;
  const Endpoint phone_b{IpAddress::v4({100, 64, 0, 3}), 6000};
  auto nat = test::config_of(MappingBehavior::EndpointIndependent, FilteringBehavior::AddressAndPortDependent);
  nat.hairpinning = true;
  Fixture f(base_config(), nat);
  auto mapped = [&](const Endpoint& phone) {
    auto out = f.handle(kTimeZero, udp_packet(phone, kRemoteA));
    return out.size() == 1 ? Endpoint{get_address(out[0], 12), get16(out[0], 20)} : Endpoint{};
  };
  const Endpoint public_a = mapped(phone_a);
  const Endpoint public_b = mapped(phone_b);
  ASSERT_EQ(public_a.address, kPublic);
  ASSERT_EQ(public_b.address, kPublic);
  ASSERT_NE(public_a.port, public_b.port);

  // b has not sent to a's mapping yet: b's filter refuses a's packet.
  EXPECT_TRUE(f.handle(kTimeZero, udp_packet(phone_a, public_b)).empty());
  EXPECT_EQ(f.datapath.counters().dropped[static_cast<std::size_t>(Drop::Filtered)], 1U);
  // b punches towards a's mapping (a's filter lets it through: a just sent
  // to b's mapping), then a's next packet reaches b.
  auto to_a = f.handle(kTimeZero, udp_packet(phone_b, public_a));
  ASSERT_EQ(to_a.size(), 1U);
  EXPECT_EQ(get_address(to_a[0], 16), phone_a.address);
  EXPECT_EQ(get16(to_a[0], 22), phone_a.port);
  EXPECT_EQ(get_address(to_a[0], 12), kPublic);
  EXPECT_EQ(get16(to_a[0], 20), public_b.port) << "b's packet comes from b's own mapping";
  auto to_b = f.handle(kTimeZero + milliseconds(1), udp_packet(phone_a, public_b));
  ASSERT_EQ(to_b.size(), 1U);
  EXPECT_EQ(get_address(to_b[0], 16), phone_b.address);
  EXPECT_EQ(get16(to_b[0], 22), phone_b.port);
  EXPECT_EQ(get_address(to_b[0], 12), kPublic);
  EXPECT_EQ(get16(to_b[0], 20), public_a.port);
  EXPECT_EQ(internet_checksum(std::span(to_b[0]).first(20)), 0);
  EXPECT_EQ(udp_verify(to_b[0]), 0);
  EXPECT_EQ(f.datapath.counters().hairpinned, 2U);
  EXPECT_EQ(f.datapath.counters().outbound, 2U) << "hairpinned packets are not counted as outbound";
  EXPECT_EQ(f.datapath.counters().inbound, 0U);
  EXPECT_EQ(f.table.mapping_count(), 2U) << "endpoint-independent: the hairpin reuses each phone's mapping";
}

TEST(Ipv4NatDatapath, WithoutHairpinningAPacketToTheOwnPublicAddressIsDropped) {
  Fixture f;  // NatConfig::hairpinning is off by default
  auto out = f.handle(kTimeZero, udp_packet(Endpoint{IpAddress::v4({100, 64, 0, 3}), 6000}, kRemoteA));
  ASSERT_EQ(out.size(), 1U);
  const Endpoint public_b{get_address(out[0], 12), get16(out[0], 20)};
  EXPECT_TRUE(f.handle(kTimeZero, udp_packet(kInside, public_b)).empty());
  EXPECT_EQ(f.datapath.counters().dropped[static_cast<std::size_t>(Drop::HairpinningDisabled)], 1U);
  EXPECT_EQ(f.datapath.counters().hairpinned, 0U);
}

}  // namespace
}  // namespace natpunch::nat

#include "nat/icmp_translator.hpp"

#include <gtest/gtest.h>

#include "ipv4_test_packets.hpp"
#include "nat_table_test_support.hpp"

namespace natpunch::nat {
namespace {

using namespace test_packets;
using test::kHost;
using test::kPublic;
using test::kRemoteA;
using test::kRemoteB;

const IpAddress kRouter = IpAddress::v4({203, 0, 113, 254});

Bytes with_checksum(Bytes b) {
  fix_ip_checksum(b);
  return b;
}

struct Fixture {
  NatTable udp = test::make_nat(test::config_of(MappingBehavior::EndpointIndependent,
                                                FilteringBehavior::AddressAndPortDependent));
  NatTable queries = test::make_nat(icmp_query_config(kPublic));
  Ipv4UdpTranslator udp_translator{udp};
  IcmpTranslator icmp{udp, queries};
};

TEST(IcmpTranslator, EchoRequestAndReplyRoundTripWithValidChecksums) {
  Fixture f;
  auto request = icmp_echo(kHost.address, kRemoteA.address, kIcmpEchoRequest, 0x0777);
  auto out = f.icmp.translate(kTimeZero, Side::Inside, request);
  ASSERT_TRUE(out) << to_string(out.error());
  EXPECT_EQ(get_address(request, 12), kPublic);
  EXPECT_EQ(get16(request, 24), out->source.port);
  EXPECT_EQ(out->source.port, 0x0777) << "a free identifier is kept";
  EXPECT_EQ(internet_checksum(std::span(request).first(20)), 0);
  EXPECT_EQ(icmp_verify(request), 0);

  auto reply = icmp_echo(kRemoteA.address, kPublic, kIcmpEchoReply, out->source.port);
  auto back = f.icmp.translate(kTimeZero + seconds(1), Side::Outside, reply);
  ASSERT_TRUE(back) << to_string(back.error());
  EXPECT_EQ(get_address(reply, 16), kHost.address);
  EXPECT_EQ(get16(reply, 24), 0x0777);
  EXPECT_EQ(internet_checksum(std::span(reply).first(20)), 0);
  EXPECT_EQ(icmp_verify(reply), 0);
}

TEST(IcmpTranslator, TwoHostsWithTheSameIdentifierGetDistinctExternalIdentifiers) {
  Fixture f;
  auto a = icmp_echo(kHost.address, kRemoteA.address, kIcmpEchoRequest, 42);
  auto b = icmp_echo(test::kHost2.address, kRemoteA.address, kIcmpEchoRequest, 42);
  auto out_a = f.icmp.translate(kTimeZero, Side::Inside, a);
  auto out_b = f.icmp.translate(kTimeZero, Side::Inside, b);
  ASSERT_TRUE(out_a && out_b);
  EXPECT_NE(out_a->source.port, out_b->source.port);
  auto reply = icmp_echo(kRemoteA.address, kPublic, kIcmpEchoReply, out_b->source.port);
  ASSERT_TRUE(f.icmp.translate(kTimeZero, Side::Outside, reply));
  EXPECT_EQ(get_address(reply, 16), test::kHost2.address);
  EXPECT_EQ(get16(reply, 24), 42);
}

TEST(IcmpTranslator, EchoReplyFromAnotherHostOrUnknownIdentifierIsDropped) {
  Fixture f;
  auto request = icmp_echo(kHost.address, kRemoteA.address, kIcmpEchoRequest, 9);
  ASSERT_TRUE(f.icmp.translate(kTimeZero, Side::Inside, request));
  auto spoofed = icmp_echo(kRemoteB.address, kPublic, kIcmpEchoReply, 9);
  const auto before = spoofed;
  auto result = f.icmp.translate(kTimeZero, Side::Outside, spoofed);
  ASSERT_FALSE(result);
  EXPECT_EQ(std::get<Drop>(result.error()), Drop::Filtered);
  EXPECT_EQ(spoofed, before);
  auto unknown = icmp_echo(kRemoteA.address, kPublic, kIcmpEchoReply, 10);
  result = f.icmp.translate(kTimeZero, Side::Outside, unknown);
  ASSERT_FALSE(result);
  EXPECT_EQ(std::get<Drop>(result.error()), Drop::NoMapping);
}

// The router between NAT and remote quotes the translated datagram; natd
// must hand the inside host back exactly what it sent (addresses, ports,
// and therefore the checksums it computed), whatever the quote length.
TEST(IcmpTranslator, ErrorsQuotingTranslatedUdpGoBackToTheInsideEndpoint) {
  struct Case {
    const char* name;
    std::uint8_t type;
    std::uint8_t code;
    std::size_t udp_bytes_quoted;  // of 8 header + 40 payload
  };
  for (const Case c : {Case{"frag needed, header + 8", kIcmpDestinationUnreachable, kIcmpCodeFragmentationNeeded, 8},
                       Case{"port unreachable, whole datagram", kIcmpDestinationUnreachable, 3, 48},
                       Case{"time exceeded, truncated payload", kIcmpTimeExceeded, 0, 21},
                       Case{"ports only (no checksum field)", kIcmpDestinationUnreachable, 1, 4},
                       Case{"parameter problem, odd length", kIcmpParameterProblem, 0, 7}}) {
    SCOPED_TRACE(c.name);
    Fixture f;
    const auto original = udp_packet(kHost, kRemoteA, 40, true);
    auto sent = original;
    auto out = f.udp_translator.translate(kTimeZero, Side::Inside, sent);
    ASSERT_TRUE(out);
    auto error = icmp_error(kRouter, kPublic, c.type, c.code, sent, 20 + c.udp_bytes_quoted, 1400);
    auto result = f.icmp.translate(kTimeZero + seconds(1), Side::Outside, error);
    ASSERT_TRUE(result) << to_string(result.error());
    EXPECT_EQ(result->destination, kHost);
    EXPECT_EQ(get_address(error, 12), kRouter);
    EXPECT_EQ(get_address(error, 16), kHost.address);
    EXPECT_EQ(internet_checksum(std::span(error).first(20)), 0);
    EXPECT_EQ(icmp_verify(error), 0);
    EXPECT_EQ(get16(error, 26), 1400) << "the next-hop MTU is kept";
    // The quote now matches what the host sent, byte for byte, except half
    // a checksum cut by the quote: a lone byte of it cannot be patched.
    for (std::size_t i = 0; i < 20 + c.udp_bytes_quoted; ++i) {
      if (c.udp_bytes_quoted == 7 && i == 26) continue;
      EXPECT_EQ(error[28 + i], original[i]) << "byte " << i;
    }
  }
}

TEST(IcmpTranslator, ErrorQuotingAnUdpDatagramWithoutChecksumKeepsItZero) {
  Fixture f;
  auto sent = udp_packet(kHost, kRemoteA, 10);
  put16(sent, 26, 0);
  const auto original = sent;
  ASSERT_TRUE(f.udp_translator.translate(kTimeZero, Side::Inside, sent));
  auto error = icmp_error(kRouter, kPublic, kIcmpDestinationUnreachable, 3, sent, 28);
  ASSERT_TRUE(f.icmp.translate(kTimeZero, Side::Outside, error));
  EXPECT_EQ(get16(error, 28 + 26), 0);
  EXPECT_EQ(icmp_verify(error), 0);
  for (std::size_t i = 0; i < 28; ++i) EXPECT_EQ(error[28 + i], original[i]) << "byte " << i;
}

TEST(IcmpTranslator, TimeExceededForAnEchoRequestGoesBackToThePinger) {
  Fixture f;
  const auto original = icmp_echo(kHost.address, kRemoteA.address, kIcmpEchoRequest, 0x0101);
  auto sent = original;
  ASSERT_TRUE(f.icmp.translate(kTimeZero, Side::Inside, sent));
  auto error = icmp_error(kRouter, kPublic, kIcmpTimeExceeded, 0, sent, 28);
  auto result = f.icmp.translate(kTimeZero, Side::Outside, error);
  ASSERT_TRUE(result) << to_string(result.error());
  EXPECT_EQ(get_address(error, 16), kHost.address);
  EXPECT_EQ(icmp_verify(error), 0);
  for (std::size_t i = 0; i < 28; ++i) EXPECT_EQ(error[28 + i], original[i]) << "byte " << i;
}

TEST(IcmpTranslator, ErrorsThatMatchNoMappingOrAreMalformedAreDroppedUnchanged) {
  Fixture f;
  auto sent = udp_packet(kHost, kRemoteA, 40);
  ASSERT_TRUE(f.udp_translator.translate(kTimeZero, Side::Inside, sent));
  auto unknown_port = sent;
  put16(unknown_port, 20, static_cast<std::uint16_t>(get16(sent, 20) + 1));
  auto other_source = sent;
  put_address(other_source, 12, kRemoteB.address);
  auto v6 = sent;
  v6[0] = 0x65;
  auto long_ihl = sent;
  long_ihl[0] = 0x4f;
  auto later_fragment = sent;
  put16(later_fragment, 6, 0x0010);
  auto tcp = sent;
  tcp[9] = 6;

  struct Case {
    const char* name;
    Bytes packet;
    TranslateError expected;
  };
  const std::vector<Case> cases = {
      {"no mapping", icmp_error(kRouter, kPublic, 3, 3, unknown_port, 28), Drop::NoMapping},
      {"quote too short for a header", icmp_error(kRouter, kPublic, 3, 3, sent, 19), PacketError::QuotedTooShort},
      {"quote too short for ports", icmp_error(kRouter, kPublic, 3, 3, sent, 23), PacketError::QuotedTooShort},
      {"quote not from us", icmp_error(kRouter, kPublic, 3, 3, other_source, 28), PacketError::QuotedNotOurs},
      {"quote not ipv4", icmp_error(kRouter, kPublic, 3, 3, v6, 28), PacketError::QuotedNotIpv4},
      {"quote header beyond quote", icmp_error(kRouter, kPublic, 3, 3, long_ihl, 28),
       PacketError::QuotedBadHeaderLength},
      {"quote is a later fragment", icmp_error(kRouter, kPublic, 3, 3, later_fragment, 28),
       PacketError::QuotedFragment},
      {"quote is tcp", icmp_error(kRouter, kPublic, 3, 3, tcp, 28), PacketError::QuotedProtocol},
      {"redirect", icmp_error(kRouter, kPublic, 5, 0, sent, 28), PacketError::IcmpUnsupported},
      {"echo request from outside", icmp_echo(kRemoteA.address, kPublic, kIcmpEchoRequest, 1),
       PacketError::IcmpUnsupported},
      {"icmp too short", with_checksum(ip_header(kRouter, kPublic, 1, 7)), PacketError::IcmpTooShort},
      {"udp given to the icmp translator", sent, PacketError::NotIcmp},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto packet = c.packet;
    auto result = f.icmp.translate(kTimeZero + seconds(1), Side::Outside, packet);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), c.expected) << to_string(result.error());
    EXPECT_EQ(packet, c.packet);
  }
}

TEST(IcmpTranslator, ErrorsDoNotRefreshTheMapping) {
  Fixture f;
  auto config = test::config_of(MappingBehavior::EndpointIndependent, FilteringBehavior::EndpointIndependent);
  config.pending_timeout = seconds(10);
  NatTable udp = test::make_nat(config);
  Ipv4UdpTranslator translator(udp);
  IcmpTranslator icmp(udp, f.queries);
  auto sent = udp_packet(kHost, kRemoteA);
  ASSERT_TRUE(translator.translate(kTimeZero, Side::Inside, sent));
  auto error = icmp_error(kRouter, kPublic, 3, 3, sent, 28);
  auto first = error;
  ASSERT_TRUE(icmp.translate(kTimeZero + seconds(8), Side::Outside, first));
  auto late = error;
  auto result = icmp.translate(kTimeZero + seconds(11), Side::Outside, late);
  ASSERT_FALSE(result) << "an error at 8 s must not have kept the 10 s mapping alive";
  EXPECT_EQ(std::get<Drop>(result.error()), Drop::NoMapping);
}

}  // namespace
}  // namespace natpunch::nat

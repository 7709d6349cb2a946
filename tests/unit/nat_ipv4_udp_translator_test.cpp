#include "nat/ipv4_udp_translator.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "nat_table_test_support.hpp"

namespace natpunch::nat {
namespace {

using test::kHost;
using test::kPublic;
using test::kRemoteA;
using test::kRemoteB;

void put16(std::vector<std::uint8_t>& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}
std::uint16_t get16(const std::vector<std::uint8_t>& b, std::size_t at) {
  return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}
void put_address(std::vector<std::uint8_t>& b, std::size_t at, const IpAddress& a) {
  for (std::size_t i = 0; i < 4; ++i) b[at + i] = a.data()[i];
}

// The UDP checksum over pseudo-header + datagram, from scratch: 0 when the
// stored checksum is right.
std::uint16_t udp_verify(const std::vector<std::uint8_t>& b) {
  const std::size_t ihl = std::size_t{b[0] & 0x0fU} * 4;
  const std::size_t udp_length = get16(b, ihl + 4);
  std::uint32_t pseudo = 0;
  pseudo += get16(b, 12) + get16(b, 14) + get16(b, 16) + get16(b, 18);
  pseudo += 17 + static_cast<std::uint32_t>(udp_length);
  return internet_checksum(std::span(b).subspan(ihl, udp_length), pseudo);
}

std::vector<std::uint8_t> udp_packet(const Endpoint& from, const Endpoint& to, std::size_t payload = 12,
                                     bool udp_checksum = true) {
  std::vector<std::uint8_t> b(20 + 8 + payload, 0);
  b[0] = 0x45;
  put16(b, 2, static_cast<std::uint16_t>(b.size()));
  put16(b, 4, 0x1234);
  b[8] = 64;
  b[9] = 17;
  put_address(b, 12, from.address);
  put_address(b, 16, to.address);
  put16(b, 20, from.port);
  put16(b, 22, to.port);
  put16(b, 24, static_cast<std::uint16_t>(8 + payload));
  for (std::size_t i = 0; i < payload; ++i) b[28 + i] = static_cast<std::uint8_t>(i * 37 + 1);
  put16(b, 10, internet_checksum(std::span(b).first(20)));
  if (udp_checksum) {
    std::uint16_t c = udp_verify(b);
    put16(b, 26, c == 0 ? 0xffff : c);
  }
  return b;
}

void refresh_header_checksum(std::vector<std::uint8_t>& b) {
  put16(b, 10, 0);
  const std::size_t ihl = std::min<std::size_t>(std::size_t{b[0] & 0x0fU} * 4, b.size());
  put16(b, 10, internet_checksum(std::span(b).first(ihl)));
}

Endpoint source_of(const std::vector<std::uint8_t>& b) {
  return {IpAddress::v4({b[12], b[13], b[14], b[15]}), get16(b, 20)};
}
Endpoint destination_of(const std::vector<std::uint8_t>& b) {
  return {IpAddress::v4({b[16], b[17], b[18], b[19]}), get16(b, 22)};
}

TEST(Ipv4UdpTranslator, OutboundThenInboundRewritesAndKeepsChecksumsValid) {
  for (std::size_t payload : {0U, 1U, 12U, 1001U}) {
    auto table = test::make_nat(test::config_of(MappingBehavior::EndpointIndependent,
                                                FilteringBehavior::AddressAndPortDependent));
    Ipv4UdpTranslator translator(table);
    auto out = udp_packet(kHost, kRemoteA, payload);
    const auto payload_before = std::vector<std::uint8_t>(out.begin() + 28, out.end());
    auto result = translator.translate(kTimeZero, Side::Inside, out);
    ASSERT_TRUE(result) << to_string(result.error());
    EXPECT_EQ(result->source.address, kPublic);
    EXPECT_EQ(result->destination, kRemoteA);
    EXPECT_EQ(result->length, out.size());
    EXPECT_EQ(source_of(out), result->source);
    EXPECT_EQ(destination_of(out), kRemoteA);
    EXPECT_EQ(internet_checksum(std::span(out).first(20)), 0) << "payload " << payload;
    EXPECT_EQ(udp_verify(out), 0) << "payload " << payload;
    EXPECT_EQ(std::vector<std::uint8_t>(out.begin() + 28, out.end()), payload_before);

    auto reply = udp_packet(kRemoteA, result->source, payload);
    auto back = translator.translate(kTimeZero + seconds(1), Side::Outside, reply);
    ASSERT_TRUE(back) << to_string(back.error());
    EXPECT_EQ(back->destination, kHost);
    EXPECT_EQ(destination_of(reply), kHost);
    EXPECT_EQ(source_of(reply), kRemoteA);
    EXPECT_EQ(internet_checksum(std::span(reply).first(20)), 0);
    EXPECT_EQ(udp_verify(reply), 0);
  }
}

TEST(Ipv4UdpTranslator, HairpinnedPacketIsRewrittenToTheInternalTarget) {
  auto config = test::config_of(MappingBehavior::EndpointIndependent, FilteringBehavior::EndpointIndependent);
  config.hairpinning = true;
  auto table = test::make_nat(config);
  Ipv4UdpTranslator translator(table);
  auto first = udp_packet(test::kHost2, kRemoteA);
  auto mapped = translator.translate(kTimeZero, Side::Inside, first);
  ASSERT_TRUE(mapped);
  auto hairpin = udp_packet(kHost, mapped->source);
  auto result = translator.translate(kTimeZero, Side::Inside, hairpin);
  ASSERT_TRUE(result) << to_string(result.error());
  EXPECT_EQ(result->route, Translated::Route::Hairpin);
  EXPECT_EQ(destination_of(hairpin), test::kHost2);
  EXPECT_EQ(source_of(hairpin).address, kPublic);
  EXPECT_EQ(internet_checksum(std::span(hairpin).first(20)), 0);
  EXPECT_EQ(udp_verify(hairpin), 0);
}

TEST(Ipv4UdpTranslator, ZeroUdpChecksumStaysZero) {
  auto table = test::make_nat(test::config_of(MappingBehavior::EndpointIndependent, FilteringBehavior::EndpointIndependent));
  Ipv4UdpTranslator translator(table);
  auto out = udp_packet(kHost, kRemoteA, 12, false);
  ASSERT_TRUE(translator.translate(kTimeZero, Side::Inside, out));
  EXPECT_EQ(get16(out, 26), 0);
  EXPECT_EQ(internet_checksum(std::span(out).first(20)), 0);
}

TEST(Ipv4UdpTranslator, IpOptionsAndTrailingPaddingAreHandled) {
  auto table = test::make_nat(test::config_of(MappingBehavior::EndpointIndependent, FilteringBehavior::EndpointIndependent));
  Ipv4UdpTranslator translator(table);
  auto plain = udp_packet(kHost, kRemoteA, 20);
  // Same datagram with 4 bytes of options (NOPs) and 6 bytes of link padding.
  std::vector<std::uint8_t> b(plain.begin(), plain.begin() + 20);
  b.insert(b.end(), {1, 1, 1, 0});
  b.insert(b.end(), plain.begin() + 20, plain.end());
  b[0] = 0x46;
  put16(b, 2, static_cast<std::uint16_t>(b.size()));
  refresh_header_checksum(b);
  b.insert(b.end(), 6, 0xee);
  auto result = translator.translate(kTimeZero, Side::Inside, b);
  ASSERT_TRUE(result) << to_string(result.error());
  EXPECT_EQ(result->length, b.size() - 6);
  EXPECT_EQ(internet_checksum(std::span(b).first(24)), 0);
  EXPECT_EQ(udp_verify(b), 0);
  EXPECT_EQ(IpAddress::v4({b[12], b[13], b[14], b[15]}), kPublic);
  EXPECT_EQ(get16(b, 24), result->source.port);  // the UDP header sits after the options
  EXPECT_EQ(b.back(), 0xee);
}

struct MalformedCase {
  const char* name;
  void (*mutate)(std::vector<std::uint8_t>&);
  PacketError expected;
};

const MalformedCase kMalformed[] = {
    {"empty", [](auto& b) { b.clear(); }, PacketError::TooShort},
    {"19 bytes", [](auto& b) { b.resize(19); }, PacketError::TooShort},
    {"ipv6 version", [](auto& b) { b[0] = 0x65; }, PacketError::NotIpv4},
    {"ihl 4", [](auto& b) { b[0] = 0x44; refresh_header_checksum(b); }, PacketError::BadHeaderLength},
    {"ihl beyond total", [](auto& b) { b[0] = 0x4f; put16(b, 2, 40); }, PacketError::BadHeaderLength},
    {"total beyond buffer", [](auto& b) { put16(b, 2, static_cast<std::uint16_t>(b.size() + 1)); refresh_header_checksum(b); },
     PacketError::BadTotalLength},
    {"total below header", [](auto& b) { put16(b, 2, 19); refresh_header_checksum(b); }, PacketError::BadTotalLength},
    {"header checksum", [](auto& b) { b[10] ^= 0x01; }, PacketError::BadHeaderChecksum},
    {"more fragments", [](auto& b) { put16(b, 6, 0x2000); refresh_header_checksum(b); }, PacketError::Fragment},
    {"fragment offset", [](auto& b) { put16(b, 6, 0x0010); refresh_header_checksum(b); }, PacketError::Fragment},
    {"icmp", [](auto& b) { b[9] = 1; refresh_header_checksum(b); }, PacketError::NotUdp},
    {"udp header cut", [](auto& b) { b.resize(27); put16(b, 2, 27); refresh_header_checksum(b); }, PacketError::UdpTooShort},
    {"udp length 7", [](auto& b) { put16(b, 24, 7); }, PacketError::BadUdpLength},
    {"udp length beyond ip", [](auto& b) { put16(b, 24, static_cast<std::uint16_t>(b.size() - 19)); }, PacketError::BadUdpLength},
};

TEST(Ipv4UdpTranslator, EveryMalformedPacketHasItsOwnErrorAndStaysUnchanged) {
  for (const auto& c : kMalformed) {
    for (Side side : {Side::Inside, Side::Outside}) {
      auto table = test::make_nat(test::config_of(MappingBehavior::EndpointIndependent, FilteringBehavior::EndpointIndependent));
      Ipv4UdpTranslator translator(table);
      auto b = udp_packet(kHost, kRemoteA, 12);
      c.mutate(b);
      const auto before = b;
      auto result = translator.translate(kTimeZero, side, b);
      ASSERT_FALSE(result) << c.name;
      ASSERT_TRUE(std::holds_alternative<PacketError>(result.error())) << c.name;
      EXPECT_EQ(std::get<PacketError>(result.error()), c.expected) << c.name << ": " << to_string(result.error());
      EXPECT_EQ(b, before) << c.name;
      EXPECT_EQ(table.mapping_count(), 0U) << c.name;
    }
  }
}

TEST(Ipv4UdpTranslator, HeaderChecksumVerificationCanBeOff) {
  auto table = test::make_nat(test::config_of(MappingBehavior::EndpointIndependent, FilteringBehavior::EndpointIndependent));
  Ipv4UdpTranslator translator(table, TranslatorOptions{.verify_header_checksum = false});
  auto b = udp_packet(kHost, kRemoteA);
  b[10] ^= 0x01;
  EXPECT_TRUE(translator.translate(kTimeZero, Side::Inside, b));
}

struct DropCase {
  const char* name;
  FilteringBehavior filtering;
  Endpoint inbound_from;
  bool map_first;
  bool to_other_address;
  Drop expected;
};

TEST(Ipv4UdpTranslator, NatDropsAreReportedWithTheModelsReason) {
  const DropCase cases[] = {
      {"never mapped", FilteringBehavior::EndpointIndependent, kRemoteA, false, false, Drop::NoMapping},
      {"not our address", FilteringBehavior::EndpointIndependent, kRemoteA, true, true, Drop::NotOurAddress},
      {"address filtered", FilteringBehavior::AddressDependent, kRemoteB, true, false, Drop::Filtered},
      {"port filtered", FilteringBehavior::AddressAndPortDependent, test::kRemoteASamePortOtherPort, true, false,
       Drop::Filtered},
  };
  for (const auto& c : cases) {
    auto table = test::make_nat(test::config_of(MappingBehavior::EndpointIndependent, c.filtering));
    Ipv4UdpTranslator translator(table);
    Endpoint external{kPublic, 40000};
    if (c.map_first) {
      auto out = udp_packet(kHost, kRemoteA);
      auto sent = translator.translate(kTimeZero, Side::Inside, out);
      ASSERT_TRUE(sent) << c.name;
      external = sent->source;
    }
    if (c.to_other_address) external.address = IpAddress::v4({198, 51, 100, 99});
    auto in = udp_packet(c.inbound_from, external);
    const auto before = in;
    auto result = translator.translate(kTimeZero + seconds(1), Side::Outside, in);
    ASSERT_FALSE(result) << c.name;
    ASSERT_TRUE(std::holds_alternative<Drop>(result.error())) << c.name;
    EXPECT_EQ(std::get<Drop>(result.error()), c.expected) << c.name << ": " << to_string(result.error());
    EXPECT_EQ(in, before) << c.name;
  }
}

TEST(Ipv4UdpTranslator, OversizedPayloadIsDroppedOutbound) {
  auto config = test::config_of(MappingBehavior::EndpointIndependent, FilteringBehavior::EndpointIndependent);
  config.max_payload = 100;
  auto table = test::make_nat(config);
  Ipv4UdpTranslator translator(table);
  auto fits = udp_packet(kHost, kRemoteA, 100);
  EXPECT_TRUE(translator.translate(kTimeZero, Side::Inside, fits));
  auto too_big = udp_packet(kHost, kRemoteA, 101);
  auto result = translator.translate(kTimeZero, Side::Inside, too_big);
  ASSERT_FALSE(result);
  EXPECT_EQ(std::get<Drop>(result.error()), Drop::TooLarge);
}

}  // namespace
}  // namespace natpunch::nat

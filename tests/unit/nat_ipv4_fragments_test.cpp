#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "core/rng.hpp"
#include "ipv4_test_packets.hpp"
#include "nat/icmp_messages.hpp"
#include "nat/icmp_translator.hpp"
#include "nat/ipv4_fragmenter.hpp"
#include "nat/ipv4_reassembler.hpp"
#include "nat_table_test_support.hpp"

namespace natpunch::nat {
namespace {

using namespace test_packets;
using test::kHost;
using test::kRemoteA;

std::vector<Bytes> fragments_of(const Bytes& packet, std::size_t mtu) {
  std::vector<Bytes> out;
  std::vector<std::uint8_t> scratch;
  const std::size_t n = fragment_ipv4(packet, mtu, scratch, [&](std::span<const std::uint8_t> f) {
    out.emplace_back(f.begin(), f.end());
  });
  EXPECT_EQ(n, out.size());
  return out;
}

Ipv4Header header_of(const Bytes& b) {
  auto h = parse_ipv4_header(b, true);
  EXPECT_TRUE(h) << (h ? "" : to_string(h.error()));
  return h ? *h : Ipv4Header{};
}

TEST(Ipv4Fragmenter, SplitsIntoValidFragmentsOfAtMostTheMtu) {
  for (std::size_t mtu : {68U, 576U, 1280U, 1500U}) {
    SCOPED_TRACE(mtu);
    const auto packet = udp_packet(kHost, kRemoteA, 4000);
    const auto fragments = fragments_of(packet, mtu);
    ASSERT_GT(fragments.size(), 1U);
    std::size_t expected_offset = 0;
    for (std::size_t i = 0; i < fragments.size(); ++i) {
      const auto h = header_of(fragments[i]);  // also checks the header checksum
      EXPECT_LE(fragments[i].size(), mtu);
      EXPECT_EQ(h.fragment_offset(), expected_offset);
      EXPECT_EQ(h.more_fragments(), i + 1 < fragments.size());
      EXPECT_EQ(h.identification, 0x1234);
      if (i + 1 < fragments.size()) {
        EXPECT_EQ((h.total_length - h.header_length) % 8, 0U);
      }
      EXPECT_TRUE(std::equal(fragments[i].begin() + 20, fragments[i].end(), packet.begin() + 20 + expected_offset));
      expected_offset += h.total_length - h.header_length;
    }
    EXPECT_EQ(expected_offset, packet.size() - 20);
  }
}

TEST(Ipv4Fragmenter, APacketThatFitsIsEmittedUnchanged) {
  const auto packet = udp_packet(kHost, kRemoteA, 100);
  const auto fragments = fragments_of(packet, 1500);
  ASSERT_EQ(fragments.size(), 1U);
  EXPECT_EQ(fragments[0], packet);
}

TEST(Ipv4Reassembler, ReassemblesInAnyOrderWithDuplicates) {
  const auto packet = udp_packet(kHost, kRemoteA, 65507);  // the thesis's largest UDP payload
  ASSERT_EQ(packet.size(), 65535U);
  auto fragments = fragments_of(packet, 1500);
  Rng rng(7);
  std::shuffle(fragments.begin(), fragments.end(), rng.engine());
  fragments.push_back(fragments[3]);  // a duplicate
  std::swap(fragments.back(), fragments[fragments.size() / 2]);
  Ipv4Reassembler reassembler;
  std::size_t completed = 0;
  for (const auto& f : fragments) {
    auto whole = reassembler.add(kTimeZero, f, header_of(f));
    ASSERT_TRUE(whole) << to_string(whole.error());
    if (whole->empty()) continue;
    ++completed;
    const Bytes result(whole->begin(), whole->end());
    auto expected = packet;
    EXPECT_EQ(result.size(), expected.size());
    EXPECT_EQ(internet_checksum(std::span(result).first(20)), 0);
    EXPECT_EQ(result, expected);
    EXPECT_EQ(udp_verify(result), 0);
  }
  // The duplicate may arrive after completion and start a new (never finished) reassembly.
  EXPECT_EQ(completed, 1U);
  EXPECT_LE(reassembler.in_progress(), 1U);
}

TEST(Ipv4Reassembler, InterleavedDatagramsAreKeptApart) {
  const auto a = udp_packet(kHost, kRemoteA, 3000, false, 1);
  const auto b = udp_packet(kHost, kRemoteA, 3000, false, 2);
  const auto fa = fragments_of(a, 1000);
  const auto fb = fragments_of(b, 1000);
  Ipv4Reassembler reassembler;
  std::vector<Bytes> done;
  for (std::size_t i = 0; i < fa.size(); ++i)
    for (const auto* f : {&fa[i], &fb[i]}) {
      auto whole = reassembler.add(kTimeZero, *f, header_of(*f));
      ASSERT_TRUE(whole);
      if (!whole->empty()) done.emplace_back(whole->begin(), whole->end());
    }
  ASSERT_EQ(done.size(), 2U);
  EXPECT_EQ(done[0], a);
  EXPECT_EQ(done[1], b);
  EXPECT_EQ(reassembler.bytes_held(), 0U);
}

TEST(Ipv4Reassembler, GivesUpAfterTheTimeout) {
  const auto fragments = fragments_of(udp_packet(kHost, kRemoteA, 3000), 1000);
  Ipv4Reassembler reassembler(ReassemblyLimits{.timeout = seconds(30)});
  ASSERT_TRUE(reassembler.add(kTimeZero, fragments[0], header_of(fragments[0])));
  ASSERT_EQ(reassembler.next_deadline().value() - kTimeZero, seconds(30) + Duration{1});
  EXPECT_EQ(reassembler.expire(kTimeZero + seconds(30)), 0U);
  EXPECT_EQ(reassembler.expire(kTimeZero + seconds(31)), 1U);
  EXPECT_EQ(reassembler.bytes_held(), 0U);
  // The rest arrives too late: never completes.
  for (std::size_t i = 1; i < fragments.size(); ++i) {
    auto whole = reassembler.add(kTimeZero + seconds(32), fragments[i], header_of(fragments[i]));
    ASSERT_TRUE(whole);
    EXPECT_TRUE(whole->empty());
  }
}

TEST(Ipv4Reassembler, EnforcesItsLimits) {
  Ipv4Reassembler by_count(ReassemblyLimits{.max_datagrams = 2});
  for (std::uint16_t id = 1; id <= 3; ++id) {
    const auto f = fragments_of(udp_packet(kHost, kRemoteA, 2000, false, id), 1000)[0];
    auto result = by_count.add(kTimeZero, f, header_of(f));
    if (id <= 2) {
      EXPECT_TRUE(result);
    } else {
      ASSERT_FALSE(result);
      EXPECT_EQ(result.error(), ReassemblyError::LimitReached);
    }
  }
  Ipv4Reassembler by_bytes(ReassemblyLimits{.max_bytes = 5000});
  const auto big = fragments_of(udp_packet(kHost, kRemoteA, 20000), 1500);
  auto result = by_bytes.add(kTimeZero, big.back(), header_of(big.back()));  // the last one sizes the buffer
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), ReassemblyError::LimitReached);
  EXPECT_EQ(by_bytes.bytes_held(), 0U);
}

TEST(Ipv4Reassembler, RejectsMalformedFragments) {
  const auto fragments = fragments_of(udp_packet(kHost, kRemoteA, 3000), 1000);
  auto odd = fragments[0];  // MF set, 7 data bytes
  odd.resize(27);
  put16(odd, 2, 27);
  fix_ip_checksum(odd);
  auto past_end = fragments[1];  // MF set, but beyond the end the last fragment announced
  put16(past_end, 6, static_cast<std::uint16_t>(0x2000 | (8000 / 8)));
  fix_ip_checksum(past_end);
  auto huge = fragments.back();
  put16(huge, 6, 0x1fff);  // offset 65528: past 65,535 bytes
  fix_ip_checksum(huge);

  Ipv4Reassembler reassembler;
  auto r = reassembler.add(kTimeZero, odd, header_of(odd));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ReassemblyError::BadFragmentSize);
  r = reassembler.add(kTimeZero, huge, header_of(huge));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ReassemblyError::TooLarge);
  ASSERT_TRUE(reassembler.add(kTimeZero, fragments.back(), header_of(fragments.back())));
  r = reassembler.add(kTimeZero, past_end, header_of(past_end));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ReassemblyError::ConflictingEnd);
  const auto whole = udp_packet(kHost, kRemoteA, 10);
  r = reassembler.add(kTimeZero, whole, header_of(whole));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ReassemblyError::NotAFragment);
}

TEST(IcmpMessages, FragmentationNeededQuotesTheOffenderAndCarriesTheMtu) {
  const auto offending = udp_packet(kHost, kRemoteA, 1472, true);
  std::array<std::uint8_t, kMaxIcmpErrorSize> out{};
  const IpAddress gateway = IpAddress::v4({100, 64, 0, 1});
  const std::size_t n = make_fragmentation_needed(offending, gateway.v4_host_order(), 1400, out);
  const Bytes message(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
  EXPECT_EQ(n, kMaxIcmpErrorSize);
  const auto h = header_of(message);
  EXPECT_EQ(h.protocol, 1);
  EXPECT_EQ(get_address(message, 12), gateway);
  EXPECT_EQ(get_address(message, 16), kHost.address);
  EXPECT_EQ(message[20], kIcmpDestinationUnreachable);
  EXPECT_EQ(message[21], kIcmpCodeFragmentationNeeded);
  EXPECT_EQ(get16(message, 26), 1400);
  EXPECT_EQ(icmp_verify(message), 0);
  EXPECT_TRUE(std::equal(message.begin() + 28, message.end(), offending.begin()));

  const auto small = udp_packet(kHost, kRemoteA, 4);
  const std::size_t m = make_fragmentation_needed(small, gateway.v4_host_order(), 576, out);
  EXPECT_EQ(m, 28 + small.size());
}

}  // namespace
}  // namespace natpunch::nat

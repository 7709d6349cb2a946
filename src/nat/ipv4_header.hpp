#pragma once
// The IPv4 header as natd's datapath needs it, read without trusting the
// bytes: every length is checked against the buffer, and each way a packet
// can be malformed has its own PacketError (shared by the UDP and ICMP
// translators, the reassembler and natd's counters).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/result.hpp"

namespace natpunch::nat {

// Why a packet could not be read or translated as IPv4/UDP or IPv4/ICMP.
enum class PacketError : std::uint8_t {
  TooShort,           // fewer bytes than an IPv4 header
  NotIpv4,            // version field is not 4
  BadHeaderLength,    // IHL below 5 or beyond the total length
  BadTotalLength,     // total length below the header or beyond the buffer
  BadHeaderChecksum,  // only when verification is on
  Fragment,           // MF set or offset non-zero: ports are unknowable without reassembly
  NotUdp,             // the UDP translator got another protocol
  UdpTooShort,        // less than a UDP header after the IPv4 header
  BadUdpLength,       // UDP length below 8 or beyond the IPv4 payload
  NotIcmp,            // the ICMP translator got another protocol
  IcmpTooShort,       // less than an ICMP header after the IPv4 header
  IcmpUnsupported,    // an ICMP type/direction natd does not translate (e.g. echo request from outside)
  QuotedTooShort,     // an ICMP error quotes less than an IPv4 header + 4 bytes of UDP / 6 of ICMP
  QuotedNotIpv4,      // the quoted datagram's version is not 4
  QuotedBadHeaderLength,  // the quoted IHL is below 5 or beyond the quote
  QuotedFragment,     // the quoted datagram is a non-first fragment: no ports in it
  QuotedProtocol,     // the quote is neither UDP nor an ICMP echo request
  QuotedNotOurs,      // the quoted datagram was not sent from the address the error came to
  UnsupportedProtocol,  // neither UDP nor ICMP
};
inline constexpr std::size_t kPacketErrorCount = static_cast<std::size_t>(PacketError::UnsupportedProtocol) + 1;

// "too short", "not ipv4", ... (the comment of each value, shortened).
std::string_view to_string(PacketError error);

struct Ipv4Header {
  std::size_t header_length = 0;  // IHL * 4
  std::size_t total_length = 0;   // from the header, <= the buffer
  std::uint16_t identification = 0;
  std::uint16_t flags_fragment = 0;  // DF, MF and the offset in 8-byte units
  std::uint8_t protocol = 0;
  std::uint32_t source = 0;       // host order
  std::uint32_t destination = 0;  // host order

  bool dont_fragment() const { return (flags_fragment & 0x4000U) != 0; }
  bool more_fragments() const { return (flags_fragment & 0x2000U) != 0; }
  std::size_t fragment_offset() const { return std::size_t{flags_fragment & 0x1fffU} * 8; }
  bool is_fragment() const { return more_fragments() || fragment_offset() != 0; }
};

// Reads the header of the IPv4 packet at the start of `packet`. Bytes beyond
// the total length (link padding) are allowed and ignored.
Result<Ipv4Header, PacketError> parse_ipv4_header(std::span<const std::uint8_t> packet, bool verify_checksum);

// The Internet checksum (RFC 1071) of `bytes`, folded and complemented.
std::uint16_t internet_checksum(std::span<const std::uint8_t> bytes, std::uint32_t initial_sum = 0);

}  // namespace natpunch::nat

#pragma once
// ICMP through the NAT, sans-IO (RFC 5508):
// - Echo (query) messages: the echo identifier is translated like a port,
//   through its own endpoint-independent table keyed by (inside address,
//   identifier), so `ping` works from behind natd. Requests go out, replies
//   come back; echo requests from outside are not answered.
// - Errors from outside (destination unreachable incl. "fragmentation
//   needed", time exceeded, parameter problem) that quote a UDP datagram or
//   echo request we translated: the outer destination and the quoted source
//   are rewritten back to the inside endpoint. The quoted datagram is mostly
//   truncated, so its checksums are patched incrementally, never recomputed,
//   and fields the quote cuts off are left alone. The outer ICMP checksum is
//   patched for every quoted word that changed. Errors never refresh a
//   mapping; an error that matches no live mapping is dropped.
#include <cstdint>
#include <span>

#include "core/time.hpp"
#include "nat/ipv4_udp_translator.hpp"
#include "nat/nat_table.hpp"

namespace natpunch::nat {

// The table for echo identifiers: endpoint-independent mapping,
// address-dependent filtering (replies from the pinged host only), the
// identifier kept when free, 60 s timeouts (RFC 5508 REQ-1).
NatConfig icmp_query_config(const IpAddress& public_address);

class IcmpTranslator {
 public:
  // `udp` is the table the UDP translator uses (for quoted UDP datagrams);
  // `queries` holds echo identifiers (see icmp_query_config()).
  IcmpTranslator(NatTable& udp, NatTable& queries, TranslatorOptions options = {})
      : udp_(udp), queries_(queries), options_(options) {}

  // Same contract as Ipv4UdpTranslator::translate: in place, the packet is
  // unchanged on error, never reads outside `packet`. Endpoint ports in the
  // result are echo identifiers for echo messages, UDP ports for errors
  // quoting UDP.
  Result<TranslatedPacket, TranslateError> translate(TimePoint now, Side from, std::span<std::uint8_t> packet);

 private:
  Result<TranslatedPacket, TranslateError> echo_request(TimePoint now, std::uint8_t* p, std::size_t header_length,
                                                        std::size_t total_length);
  Result<TranslatedPacket, TranslateError> echo_reply(TimePoint now, std::uint8_t* p, std::size_t header_length,
                                                      std::size_t total_length);
  Result<TranslatedPacket, TranslateError> inbound_error(TimePoint now, std::uint8_t* p, std::size_t header_length,
                                                         std::size_t total_length);

  NatTable& udp_;
  NatTable& queries_;
  TranslatorOptions options_;
};

inline constexpr std::uint8_t kIcmpEchoReply = 0;
inline constexpr std::uint8_t kIcmpDestinationUnreachable = 3;
inline constexpr std::uint8_t kIcmpEchoRequest = 8;
inline constexpr std::uint8_t kIcmpTimeExceeded = 11;
inline constexpr std::uint8_t kIcmpParameterProblem = 12;
inline constexpr std::uint8_t kIcmpCodeFragmentationNeeded = 4;

}  // namespace natpunch::nat

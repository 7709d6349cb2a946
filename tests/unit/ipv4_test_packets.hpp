#pragma once
// Hand-made IPv4 packets for the natd datapath tests: UDP datagrams, ICMP
// echo messages and ICMP errors quoting a datagram, with correct checksums,
// plus from-scratch checksum verifiers.
#include <cstdint>
#include <span>
#include <vector>

#include "core/endpoint.hpp"
#include "nat/ipv4_header.hpp"

namespace natpunch::nat::test_packets {

using Bytes = std::vector<std::uint8_t>;

inline void put16(Bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}
inline std::uint16_t get16(const Bytes& b, std::size_t at) {
  return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}
inline void put_address(Bytes& b, std::size_t at, const IpAddress& a) {
  for (std::size_t i = 0; i < 4; ++i) b[at + i] = a.data()[i];
}
inline IpAddress get_address(const Bytes& b, std::size_t at) {
  return IpAddress::v4({b[at], b[at + 1], b[at + 2], b[at + 3]});
}

inline void fix_ip_checksum(Bytes& b, std::size_t at = 0) {
  put16(b, at + 10, 0);
  put16(b, at + 10, internet_checksum(std::span(b).subspan(at, std::size_t{b[at] & 0x0fU} * 4)));
}

inline Bytes ip_header(const IpAddress& from, const IpAddress& to, std::uint8_t protocol, std::size_t payload,
                       std::uint16_t id = 0x1234, bool dont_fragment = false) {
  Bytes b(20 + payload, 0);
  b[0] = 0x45;
  put16(b, 2, static_cast<std::uint16_t>(b.size()));
  put16(b, 4, id);
  if (dont_fragment) put16(b, 6, 0x4000);
  b[8] = 64;
  b[9] = protocol;
  put_address(b, 12, from);
  put_address(b, 16, to);
  return b;
}

// UDP checksum over pseudo-header + datagram from scratch: 0 when right.
inline std::uint16_t udp_verify(const Bytes& b) {
  const std::size_t ihl = std::size_t{b[0] & 0x0fU} * 4;
  const std::size_t udp_length = get16(b, ihl + 4);
  std::uint32_t pseudo = get16(b, 12) + get16(b, 14) + get16(b, 16) + get16(b, 18);
  pseudo += 17 + static_cast<std::uint32_t>(udp_length);
  return internet_checksum(std::span(b).subspan(ihl, udp_length), pseudo);
}

inline std::uint16_t icmp_verify(const Bytes& b) {
  const std::size_t ihl = std::size_t{b[0] & 0x0fU} * 4;
  return internet_checksum(std::span(b).subspan(ihl, get16(b, 2) - ihl));
}

inline Bytes udp_packet(const Endpoint& from, const Endpoint& to, std::size_t payload = 12, bool dont_fragment = false,
                        std::uint16_t id = 0x1234) {
  Bytes b = ip_header(from.address, to.address, 17, 8 + payload, id, dont_fragment);
  put16(b, 20, from.port);
  put16(b, 22, to.port);
  put16(b, 24, static_cast<std::uint16_t>(8 + payload));
  for (std::size_t i = 0; i < payload; ++i) b[28 + i] = static_cast<std::uint8_t>(i * 37 + 1);
  fix_ip_checksum(b);
  const std::uint16_t c = udp_verify(b);
  put16(b, 26, c == 0 ? 0xffff : c);
  return b;
}

inline Bytes icmp_echo(const IpAddress& from, const IpAddress& to, std::uint8_t type, std::uint16_t id,
                       std::uint16_t sequence = 1, std::size_t payload = 16) {
  Bytes b = ip_header(from, to, 1, 8 + payload);
  b[20] = type;
  put16(b, 24, id);
  put16(b, 26, sequence);
  for (std::size_t i = 0; i < payload; ++i) b[28 + i] = static_cast<std::uint8_t>(i + 1);
  fix_ip_checksum(b);
  put16(b, 22, internet_checksum(std::span(b).subspan(20)));
  return b;
}

// An ICMP error from `router` to `to` quoting the first `quote` bytes of `offending`.
inline Bytes icmp_error(const IpAddress& router, const IpAddress& to, std::uint8_t type, std::uint8_t code,
                        const Bytes& offending, std::size_t quote, std::uint16_t mtu = 0) {
  Bytes b = ip_header(router, to, 1, 8 + quote);
  b[20] = type;
  b[21] = code;
  put16(b, 26, mtu);
  for (std::size_t i = 0; i < quote; ++i) b[28 + i] = offending[i];
  fix_ip_checksum(b);
  put16(b, 22, internet_checksum(std::span(b).subspan(20)));
  return b;
}

}  // namespace natpunch::nat::test_packets

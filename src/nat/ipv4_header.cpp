#include "nat/ipv4_header.hpp"

#include "nat/ipv4_wire.hpp"

namespace natpunch::nat {

std::string_view to_string(PacketError error) {
  switch (error) {
    case PacketError::TooShort: return "too short";
    case PacketError::NotIpv4: return "not ipv4";
    case PacketError::BadHeaderLength: return "bad header length";
    case PacketError::BadTotalLength: return "bad total length";
    case PacketError::BadHeaderChecksum: return "bad header checksum";
    case PacketError::Fragment: return "fragment";
    case PacketError::NotUdp: return "not udp";
    case PacketError::UdpTooShort: return "udp too short";
    case PacketError::BadUdpLength: return "bad udp length";
    case PacketError::NotIcmp: return "not icmp";
    case PacketError::IcmpTooShort: return "icmp too short";
    case PacketError::IcmpUnsupported: return "icmp unsupported";
    case PacketError::QuotedTooShort: return "quoted too short";
    case PacketError::QuotedNotIpv4: return "quoted not ipv4";
    case PacketError::QuotedBadHeaderLength: return "quoted bad header length";
    case PacketError::QuotedFragment: return "quoted fragment";
    case PacketError::QuotedProtocol: return "quoted protocol";
    case PacketError::QuotedNotOurs: return "quoted not ours";
    case PacketError::UnsupportedProtocol: return "unsupported protocol";
  }
  return "unknown";
}

Result<Ipv4Header, PacketError> parse_ipv4_header(std::span<const std::uint8_t> packet, bool verify_checksum) {
  using namespace wire;
  if (packet.size() < kIpv4MinHeader) return Unexpected{PacketError::TooShort};
  const std::uint8_t* p = packet.data();
  if ((p[0] >> 4) != 4) return Unexpected{PacketError::NotIpv4};
  Ipv4Header h;
  h.header_length = std::size_t{p[0] & 0x0fU} * 4;
  h.total_length = load_be16(p + 2);
  if (h.total_length > packet.size() || h.total_length < kIpv4MinHeader) return Unexpected{PacketError::BadTotalLength};
  if (h.header_length < kIpv4MinHeader || h.header_length > h.total_length)
    return Unexpected{PacketError::BadHeaderLength};
  if (verify_checksum && internet_checksum(packet.first(h.header_length)) != 0)
    return Unexpected{PacketError::BadHeaderChecksum};
  h.identification = load_be16(p + 4);
  h.flags_fragment = load_be16(p + 6);
  h.protocol = p[9];
  h.source = load_be32(p + 12);
  h.destination = load_be32(p + 16);
  return h;
}

std::uint16_t internet_checksum(std::span<const std::uint8_t> bytes, std::uint32_t initial_sum) {
  std::uint64_t sum = initial_sum;
  std::size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) sum += load_be16(bytes.data() + i);
  if (i < bytes.size()) sum += std::uint32_t{bytes[i]} << 8;
  while (sum >> 16) sum = (sum & 0xffffU) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

}  // namespace natpunch::nat

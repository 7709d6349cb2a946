#include "nat/ipv4_udp_translator.hpp"

#include "nat/ipv4_wire.hpp"

namespace natpunch::nat {

namespace {

using wire::ChecksumPatch;
using wire::kProtocolUdp;
using wire::kUdpHeader;
struct ParsedPacket {
  std::size_t header_length = 0;
  std::size_t total_length = 0;
  std::size_t udp_payload = 0;
};

Result<ParsedPacket, PacketError> parse(std::span<const std::uint8_t> packet, bool verify_checksum) {
  auto header = parse_ipv4_header(packet, verify_checksum);
  if (!header) return Unexpected{header.error()};
  if (header->is_fragment()) return Unexpected{PacketError::Fragment};
  if (header->protocol != kProtocolUdp) return Unexpected{PacketError::NotUdp};
  ParsedPacket parsed;
  parsed.header_length = header->header_length;
  parsed.total_length = header->total_length;
  const std::size_t ip_payload = parsed.total_length - parsed.header_length;
  if (ip_payload < kUdpHeader) return Unexpected{PacketError::UdpTooShort};
  const std::size_t udp_length = load_be16(packet.data() + parsed.header_length + 4);
  // Shorter than the IP payload is legal (link padding); longer is a lie.
  if (udp_length < kUdpHeader || udp_length > ip_payload) return Unexpected{PacketError::BadUdpLength};
  parsed.udp_payload = udp_length - kUdpHeader;
  return parsed;
}

void rewrite(std::uint8_t* p, std::size_t header_length, const Endpoint& source, const Endpoint& destination) {
  std::uint8_t* udp = p + header_length;
  const std::uint32_t old_src = load_be32(p + 12);
  const std::uint32_t old_dst = load_be32(p + 16);
  const std::uint16_t old_sport = load_be16(udp);
  const std::uint16_t old_dport = load_be16(udp + 2);
  const std::uint32_t new_src = source.address.v4_host_order();
  const std::uint32_t new_dst = destination.address.v4_host_order();

  ChecksumPatch ip(load_be16(p + 10));
  ip.replace32(old_src, new_src);
  ip.replace32(old_dst, new_dst);
  store_be16(p + 10, ip.result());

  // Zero means the sender computed no UDP checksum (RFC 768): keep it so.
  const std::uint16_t udp_checksum = load_be16(udp + 6);
  if (udp_checksum != 0) {
    ChecksumPatch patch(udp_checksum);  // the pseudo-header covers the addresses
    patch.replace32(old_src, new_src);
    patch.replace32(old_dst, new_dst);
    patch.replace16(old_sport, source.port);
    patch.replace16(old_dport, destination.port);
    const std::uint16_t result = patch.result();
    store_be16(udp + 6, result == 0 ? 0xffffU : result);  // a computed 0 is sent as all ones
  }
  store_be32(p + 12, new_src);
  store_be32(p + 16, new_dst);
  store_be16(udp, source.port);
  store_be16(udp + 2, destination.port);
}

}  // namespace

std::string_view to_string(const TranslateError& error) {
  return std::visit([](auto e) { return to_string(e); }, error);
}

Result<TranslatedPacket, TranslateError> Ipv4UdpTranslator::translate(TimePoint now, Side from,
                                                                       std::span<std::uint8_t> packet) {
  auto parsed = parse(packet, options_.verify_header_checksum);
  if (!parsed) return Unexpected{TranslateError{parsed.error()}};
  std::uint8_t* p = packet.data();
  const std::uint8_t* udp = p + parsed->header_length;
  const Endpoint source{IpAddress::v4(load_be32(p + 12)), load_be16(udp)};
  const Endpoint destination{IpAddress::v4(load_be32(p + 16)), load_be16(udp + 2)};

  TranslatedPacket out;
  out.length = parsed->total_length;
  if (from == Side::Inside) {
    auto translated = table_.outbound(now, source, destination, parsed->udp_payload);
    if (!translated) return Unexpected{TranslateError{translated.error()}};
    out.source = translated->source;
    out.destination = translated->destination;
    out.route = translated->route;
  } else {
    auto internal = table_.inbound(now, source, destination, parsed->udp_payload);
    if (!internal) return Unexpected{TranslateError{internal.error()}};
    out.source = source;
    out.destination = *internal;
  }
  rewrite(p, parsed->header_length, out.source, out.destination);
  return out;
}

}  // namespace natpunch::nat

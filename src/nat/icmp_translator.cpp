#include "nat/icmp_translator.hpp"

#include "nat/ipv4_wire.hpp"

namespace natpunch::nat {

using namespace wire;

NatConfig icmp_query_config(const IpAddress& public_address) {
  NatConfig config;
  config.mapping = MappingBehavior::EndpointIndependent;
  config.filtering = FilteringBehavior::AddressDependent;
  config.allocator = PreservingSpec{.min = 1, .max = 65535};
  config.pending_timeout = seconds(60);
  config.established_timeout = seconds(60);
  config.hairpinning = false;
  config.public_addresses = {public_address};
  return config;
}

Result<TranslatedPacket, TranslateError> IcmpTranslator::translate(TimePoint now, Side from,
                                                                   std::span<std::uint8_t> packet) {
  auto header = parse_ipv4_header(packet, options_.verify_header_checksum);
  if (!header) return Unexpected{TranslateError{header.error()}};
  if (header->is_fragment()) return Unexpected{TranslateError{PacketError::Fragment}};
  if (header->protocol != kProtocolIcmp) return Unexpected{TranslateError{PacketError::NotIcmp}};
  if (header->total_length - header->header_length < kIcmpHeader)
    return Unexpected{TranslateError{PacketError::IcmpTooShort}};
  std::uint8_t* p = packet.data();
  const std::uint8_t type = p[header->header_length];
  if (from == Side::Inside) {
    if (type == kIcmpEchoRequest) return echo_request(now, p, header->header_length, header->total_length);
  } else {
    if (type == kIcmpEchoReply) return echo_reply(now, p, header->header_length, header->total_length);
    if (type == kIcmpDestinationUnreachable || type == kIcmpTimeExceeded || type == kIcmpParameterProblem)
      return inbound_error(now, p, header->header_length, header->total_length);
  }
  return Unexpected{TranslateError{PacketError::IcmpUnsupported}};
}

// Outer source address and echo identifier become the mapping's.
Result<TranslatedPacket, TranslateError> IcmpTranslator::echo_request(TimePoint now, std::uint8_t* p,
                                                                      std::size_t header_length,
                                                                      std::size_t total_length) {
  std::uint8_t* icmp = p + header_length;
  const Endpoint internal{IpAddress::v4(load_be32(p + 12)), load_be16(icmp + 4)};
  const Endpoint remote{IpAddress::v4(load_be32(p + 16)), 0};
  auto translated = queries_.outbound(now, internal, remote, total_length - header_length - kIcmpHeader);
  if (!translated) return Unexpected{TranslateError{translated.error()}};
  const std::uint32_t new_source = translated->source.address.v4_host_order();
  patch_checksum(p + 10, [&](ChecksumPatch& c) { c.replace32(load_be32(p + 12), new_source); });
  patch_checksum(icmp + 2, [&](ChecksumPatch& c) { c.replace16(internal.port, translated->source.port); });
  store_be32(p + 12, new_source);
  store_be16(icmp + 4, translated->source.port);
  return TranslatedPacket{translated->source, remote, Translated::Route::Outside, total_length};
}

// Outer destination address and echo identifier go back to the inside host's.
Result<TranslatedPacket, TranslateError> IcmpTranslator::echo_reply(TimePoint now, std::uint8_t* p,
                                                                    std::size_t header_length,
                                                                    std::size_t total_length) {
  std::uint8_t* icmp = p + header_length;
  const Endpoint remote{IpAddress::v4(load_be32(p + 12)), 0};
  const Endpoint external{IpAddress::v4(load_be32(p + 16)), load_be16(icmp + 4)};
  auto internal = queries_.inbound(now, remote, external, total_length - header_length - kIcmpHeader);
  if (!internal) return Unexpected{TranslateError{internal.error()}};
  const std::uint32_t new_destination = internal->address.v4_host_order();
  patch_checksum(p + 10, [&](ChecksumPatch& c) { c.replace32(load_be32(p + 16), new_destination); });
  patch_checksum(icmp + 2, [&](ChecksumPatch& c) { c.replace16(external.port, internal->port); });
  store_be32(p + 16, new_destination);
  store_be16(icmp + 4, internal->port);
  return TranslatedPacket{remote, *internal, Translated::Route::Outside, total_length};
}

Result<TranslatedPacket, TranslateError> IcmpTranslator::inbound_error(TimePoint now, std::uint8_t* p,
                                                                       std::size_t header_length,
                                                                       std::size_t total_length) {
  std::uint8_t* icmp = p + header_length;
  std::uint8_t* quote = icmp + kIcmpHeader;
  const std::size_t quote_length = total_length - header_length - kIcmpHeader;
  if (quote_length < kIpv4MinHeader) return Unexpected{TranslateError{PacketError::QuotedTooShort}};
  if ((quote[0] >> 4) != 4) return Unexpected{TranslateError{PacketError::QuotedNotIpv4}};
  const std::size_t quoted_header = std::size_t{quote[0] & 0x0fU} * 4;
  if (quoted_header < kIpv4MinHeader || quoted_header > quote_length)
    return Unexpected{TranslateError{PacketError::QuotedBadHeaderLength}};
  if ((load_be16(quote + 6) & kFragmentOffsetMask) != 0) return Unexpected{TranslateError{PacketError::QuotedFragment}};
  const std::uint32_t quoted_source = load_be32(quote + 12);
  if (quoted_source != load_be32(p + 16)) return Unexpected{TranslateError{PacketError::QuotedNotOurs}};
  std::uint8_t* l4 = quote + quoted_header;
  const std::size_t l4_length = quote_length - quoted_header;

  // Where the quoted datagram's identifying port (or echo id) and the
  // checksum covering it sit, and which table owns it.
  NatTable* table = nullptr;
  std::size_t port_at = 0;
  std::size_t checksum_at = 0;
  bool pseudo_header = false;  // the UDP checksum covers the source address too
  if (quote[9] == kProtocolUdp) {
    if (l4_length < 4) return Unexpected{TranslateError{PacketError::QuotedTooShort}};
    table = &udp_;
    port_at = 0;
    checksum_at = 6;
    pseudo_header = true;
  } else if (quote[9] == kProtocolIcmp && l4_length >= 1 && l4[0] == kIcmpEchoRequest) {
    if (l4_length < 6) return Unexpected{TranslateError{PacketError::QuotedTooShort}};
    table = &queries_;
    port_at = 4;
    checksum_at = 2;
  } else {
    return Unexpected{TranslateError{PacketError::QuotedProtocol}};
  }
  const Endpoint external{IpAddress::v4(quoted_source), load_be16(l4 + port_at)};
  const auto internal = table->internal_endpoint(now, external);
  if (!internal) return Unexpected{TranslateError{Drop::NoMapping}};
  const std::uint32_t new_address = internal->address.v4_host_order();

  // Every word that changes inside the ICMP message feeds its checksum.
  ChecksumPatch icmp_checksum(load_be16(icmp + 2));
  const auto set16 = [&](std::uint8_t* at, std::uint16_t value) {
    icmp_checksum.replace16(load_be16(at), value);
    store_be16(at, value);
  };
  // A quoted UDP checksum of 0 means "none" and stays so; a quote too short
  // to hold the checksum simply has nothing to patch.
  if (l4_length >= checksum_at + 2 && !(pseudo_header && load_be16(l4 + checksum_at) == 0)) {
    ChecksumPatch inner(load_be16(l4 + checksum_at));
    if (pseudo_header) inner.replace32(quoted_source, new_address);
    inner.replace16(external.port, internal->port);
    std::uint16_t result = inner.result();
    if (pseudo_header && result == 0) result = 0xffff;
    set16(l4 + checksum_at, result);
  }
  set16(l4 + port_at, internal->port);
  ChecksumPatch quoted_ip(load_be16(quote + 10));
  quoted_ip.replace32(quoted_source, new_address);
  set16(quote + 10, quoted_ip.result());
  set16(quote + 12, static_cast<std::uint16_t>(new_address >> 16));
  set16(quote + 14, static_cast<std::uint16_t>(new_address));
  store_be16(icmp + 2, icmp_checksum.result());

  const Endpoint sender{IpAddress::v4(load_be32(p + 12)), 0};
  patch_checksum(p + 10, [&](ChecksumPatch& c) { c.replace32(load_be32(p + 16), new_address); });
  store_be32(p + 16, new_address);
  return TranslatedPacket{sender, *internal, Translated::Route::Outside, total_length};
}

}  // namespace natpunch::nat

#include "nat/ipv4_udp_translator.hpp"

namespace natpunch::nat {

namespace {

constexpr std::size_t kMinHeader = 20;
constexpr std::size_t kUdpHeader = 8;
constexpr std::uint8_t kProtocolUdp = 17;

std::uint16_t load16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
void store16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
std::uint32_t load32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
void store32(std::uint8_t* p, std::uint32_t v) {
  store16(p, static_cast<std::uint16_t>(v >> 16));
  store16(p + 2, static_cast<std::uint16_t>(v));
}

// RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), applied word by word, so the
// cost does not depend on the payload size.
class ChecksumPatch {
 public:
  explicit ChecksumPatch(std::uint16_t checksum) : sum_(static_cast<std::uint16_t>(~checksum)) {}
  void replace16(std::uint16_t old_word, std::uint16_t new_word) {
    sum_ += static_cast<std::uint16_t>(~old_word);
    sum_ += new_word;
  }
  void replace32(std::uint32_t old_value, std::uint32_t new_value) {
    replace16(static_cast<std::uint16_t>(old_value >> 16), static_cast<std::uint16_t>(new_value >> 16));
    replace16(static_cast<std::uint16_t>(old_value), static_cast<std::uint16_t>(new_value));
  }
  std::uint16_t result() const {
    std::uint32_t s = sum_;
    while (s >> 16) s = (s & 0xffffU) + (s >> 16);
    return static_cast<std::uint16_t>(~s);
  }

 private:
  std::uint32_t sum_;
};

struct ParsedPacket {
  std::size_t header_length = 0;
  std::size_t total_length = 0;
  std::size_t udp_payload = 0;
};

Result<ParsedPacket, PacketError> parse(std::span<const std::uint8_t> packet, bool verify_checksum) {
  if (packet.size() < kMinHeader) return Unexpected{PacketError::TooShort};
  const std::uint8_t* p = packet.data();
  if ((p[0] >> 4) != 4) return Unexpected{PacketError::NotIpv4};
  ParsedPacket parsed;
  parsed.header_length = std::size_t{p[0] & 0x0fU} * 4;
  parsed.total_length = load16(p + 2);
  if (parsed.total_length > packet.size() || parsed.total_length < kMinHeader)
    return Unexpected{PacketError::BadTotalLength};
  if (parsed.header_length < kMinHeader || parsed.header_length > parsed.total_length)
    return Unexpected{PacketError::BadHeaderLength};
  if (verify_checksum && internet_checksum(packet.first(parsed.header_length)) != 0)
    return Unexpected{PacketError::BadHeaderChecksum};
  const std::uint16_t flags_fragment = load16(p + 6);
  const bool more_fragments = (flags_fragment & 0x2000U) != 0;
  const bool nonzero_offset = (flags_fragment & 0x1fffU) != 0;
  if (more_fragments || nonzero_offset) return Unexpected{PacketError::Fragment};
  if (p[9] != kProtocolUdp) return Unexpected{PacketError::NotUdp};
  const std::size_t ip_payload = parsed.total_length - parsed.header_length;
  if (ip_payload < kUdpHeader) return Unexpected{PacketError::UdpTooShort};
  const std::size_t udp_length = load16(p + parsed.header_length + 4);
  // Shorter than the IP payload is legal (link padding); longer is a lie.
  if (udp_length < kUdpHeader || udp_length > ip_payload) return Unexpected{PacketError::BadUdpLength};
  parsed.udp_payload = udp_length - kUdpHeader;
  return parsed;
}

void rewrite(std::uint8_t* p, std::size_t header_length, const Endpoint& source, const Endpoint& destination) {
  std::uint8_t* udp = p + header_length;
  const std::uint32_t old_src = load32(p + 12);
  const std::uint32_t old_dst = load32(p + 16);
  const std::uint16_t old_sport = load16(udp);
  const std::uint16_t old_dport = load16(udp + 2);
  const std::uint32_t new_src = source.address.v4_host_order();
  const std::uint32_t new_dst = destination.address.v4_host_order();

  ChecksumPatch ip(load16(p + 10));
  ip.replace32(old_src, new_src);
  ip.replace32(old_dst, new_dst);
  store16(p + 10, ip.result());

  // Zero means the sender computed no UDP checksum (RFC 768): keep it so.
  const std::uint16_t udp_checksum = load16(udp + 6);
  if (udp_checksum != 0) {
    ChecksumPatch patch(udp_checksum);  // the pseudo-header covers the addresses
    patch.replace32(old_src, new_src);
    patch.replace32(old_dst, new_dst);
    patch.replace16(old_sport, source.port);
    patch.replace16(old_dport, destination.port);
    const std::uint16_t result = patch.result();
    store16(udp + 6, result == 0 ? 0xffffU : result);  // a computed 0 is sent as all ones
  }
  store32(p + 12, new_src);
  store32(p + 16, new_dst);
  store16(udp, source.port);
  store16(udp + 2, destination.port);
}

}  // namespace

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
  }
  return "unknown";
}

std::string_view to_string(const TranslateError& error) {
  return std::visit([](auto e) { return to_string(e); }, error);
}

std::uint16_t internet_checksum(std::span<const std::uint8_t> bytes, std::uint32_t initial_sum) {
  std::uint64_t sum = initial_sum;
  std::size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) sum += load16(bytes.data() + i);
  if (i < bytes.size()) sum += std::uint32_t{bytes[i]} << 8;
  while (sum >> 16) sum = (sum & 0xffffU) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

Result<TranslatedPacket, TranslateError> Ipv4UdpTranslator::translate(TimePoint now, Side from,
                                                                       std::span<std::uint8_t> packet) {
  auto parsed = parse(packet, options_.verify_header_checksum);
  if (!parsed) return Unexpected{TranslateError{parsed.error()}};
  std::uint8_t* p = packet.data();
  const std::uint8_t* udp = p + parsed->header_length;
  const Endpoint source{IpAddress::v4(load32(p + 12)), load16(udp)};
  const Endpoint destination{IpAddress::v4(load32(p + 16)), load16(udp + 2)};

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

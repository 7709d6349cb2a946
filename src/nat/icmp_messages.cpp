#include "nat/icmp_messages.hpp"

#include <algorithm>
#include <cstring>

#include "nat/icmp_translator.hpp"
#include "nat/ipv4_header.hpp"
#include "nat/ipv4_wire.hpp"

namespace natpunch::nat {

using namespace wire;

std::size_t make_fragmentation_needed(std::span<const std::uint8_t> offending, std::uint32_t router,
                                      std::uint16_t next_hop_mtu, std::span<std::uint8_t> out) {
  const std::size_t offending_length = std::min<std::size_t>(load_be16(offending.data() + 2), offending.size());
  const std::size_t quote = std::min(offending_length, kMaxIcmpErrorSize - kIpv4MinHeader - kIcmpHeader);
  const std::size_t total = kIpv4MinHeader + kIcmpHeader + quote;
  std::uint8_t* p = out.data();
  std::memset(p, 0, kIpv4MinHeader + kIcmpHeader);
  p[0] = 0x45;
  p[1] = 0xc0;  // precedence "internetwork control", as routers send ICMP errors
  store_be16(p + 2, static_cast<std::uint16_t>(total));
  p[8] = 64;
  p[9] = kProtocolIcmp;
  store_be32(p + 12, router);
  std::memcpy(p + 16, offending.data() + 12, 4);  // back to the sender
  store_be16(p + 10, internet_checksum(std::span<const std::uint8_t>(p, kIpv4MinHeader)));
  std::uint8_t* icmp = p + kIpv4MinHeader;
  icmp[0] = kIcmpDestinationUnreachable;
  icmp[1] = kIcmpCodeFragmentationNeeded;
  store_be16(icmp + 6, next_hop_mtu);
  std::memcpy(icmp + kIcmpHeader, offending.data(), quote);
  store_be16(icmp + 2, internet_checksum(std::span<const std::uint8_t>(icmp, kIcmpHeader + quote)));
  return total;
}

}  // namespace natpunch::nat

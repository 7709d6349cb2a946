#include "nat/ipv4_fragmenter.hpp"

#include <algorithm>
#include <cstring>

#include "nat/ipv4_header.hpp"
#include "nat/ipv4_wire.hpp"

namespace natpunch::nat {

using namespace wire;

std::size_t fragment_ipv4(std::span<const std::uint8_t> packet, std::size_t mtu, std::vector<std::uint8_t>& scratch,
                          const PacketEmitter& emit) {
  const std::uint8_t* p = packet.data();
  const std::size_t first_header = std::size_t{p[0] & 0x0fU} * 4;
  const std::size_t total = load_be16(p + 2);
  if (total <= mtu) {
    emit(packet.first(total));
    return 1;
  }
  const std::uint16_t flags_fragment = load_be16(p + 6);
  // The datagram may itself be a fragment: its pieces keep its offset and MF.
  const std::size_t base_offset = static_cast<std::size_t>(flags_fragment & kFragmentOffsetMask) * 8;
  const bool more_after = (flags_fragment & kFlagMoreFragments) != 0;
  const auto kept_flags = static_cast<std::uint16_t>(flags_fragment & kFlagDontFragment);
  const std::size_t data_length = total - first_header;
  scratch.resize(std::max(scratch.size(), mtu));

  std::size_t emitted = 0;
  std::size_t done = 0;
  while (done < data_length) {
    const std::size_t header = done == 0 ? first_header : kIpv4MinHeader;
    const std::size_t room = (mtu - header) & ~std::size_t{7};
    const std::size_t chunk = std::min(room, data_length - done);
    const bool last = done + chunk == data_length;
    std::uint8_t* out = scratch.data();
    std::memcpy(out, p, kIpv4MinHeader);
    if (header > kIpv4MinHeader) std::memcpy(out + kIpv4MinHeader, p + kIpv4MinHeader, header - kIpv4MinHeader);
    out[0] = static_cast<std::uint8_t>(0x40 | (header / 4));
    store_be16(out + 2, static_cast<std::uint16_t>(header + chunk));
    const std::size_t offset = base_offset + done;
    std::uint16_t fragment_field = static_cast<std::uint16_t>(kept_flags | ((offset / 8) & kFragmentOffsetMask));
    if (!last || more_after) fragment_field |= kFlagMoreFragments;
    store_be16(out + 6, fragment_field);
    store_be16(out + 10, 0);
    store_be16(out + 10, internet_checksum(std::span<const std::uint8_t>(out, header)));
    std::memcpy(out + header, p + first_header + done, chunk);
    emit(std::span<const std::uint8_t>(out, header + chunk));
    ++emitted;
    done += chunk;
  }
  return emitted;
}

}  // namespace natpunch::nat

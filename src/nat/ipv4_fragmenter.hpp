#pragma once
// Splits an IPv4 datagram into fragments that fit an MTU (RFC 791 section
// 3.2): every fragment but the last carries a multiple of 8 data bytes; the
// first keeps the header options, later ones carry the 20-byte basic header
// only (natd never sees options that must be copied). Sans-IO: fragments are
// built one at a time in a caller-owned scratch buffer and handed to `emit`.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace natpunch::nat {

using PacketEmitter = std::function<void(std::span<const std::uint8_t>)>;

// The smallest MTU IPv4 allows every link to have (RFC 791): 68 bytes.
inline constexpr std::size_t kMinimumIpv4Mtu = 68;

// `packet` must hold a valid IPv4 header (as parse_ipv4_header() checks)
// and `mtu` >= kMinimumIpv4Mtu. A packet that already fits is emitted
// unchanged. Returns the number of packets emitted.
std::size_t fragment_ipv4(std::span<const std::uint8_t> packet, std::size_t mtu, std::vector<std::uint8_t>& scratch,
                          const PacketEmitter& emit);

}  // namespace natpunch::nat

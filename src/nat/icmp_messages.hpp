#pragma once
// ICMP errors natd itself originates, built sans-IO into a caller's buffer.
#include <cstddef>
#include <cstdint>
#include <span>

namespace natpunch::nat {

// Bytes make_fragmentation_needed() may write: RFC 1812 section 4.3.2.3
// caps an ICMP error at 576 bytes.
inline constexpr std::size_t kMaxIcmpErrorSize = 576;

// Destination unreachable / fragmentation needed (type 3 code 4, RFC 1191)
// from `router` (host order) to the sender of `offending` (a packet with a
// valid IPv4 header), announcing `next_hop_mtu` and quoting as much of the
// offending packet as fits in 576 bytes. `out` must hold kMaxIcmpErrorSize
// bytes. Returns the length written.
std::size_t make_fragmentation_needed(std::span<const std::uint8_t> offending, std::uint32_t router,
                                      std::uint16_t next_hop_mtu, std::span<std::uint8_t> out);

}  // namespace natpunch::nat

#pragma once
// Byte-level helpers shared by the IPv4 translators, the fragmenter and the
// reassembler: wire constants and the RFC 1624 incremental checksum patch
// (big-endian loads and stores are core/bytes.hpp's). Header-only because
// they sit on the per-packet path.
#include <cstddef>
#include <cstdint>

#include "core/bytes.hpp"

namespace natpunch::nat::wire {

inline constexpr std::size_t kIpv4MinHeader = 20;
inline constexpr std::size_t kUdpHeader = 8;
inline constexpr std::size_t kIcmpHeader = 8;
inline constexpr std::uint8_t kProtocolIcmp = 1;
inline constexpr std::uint8_t kProtocolUdp = 17;
inline constexpr std::uint16_t kFlagDontFragment = 0x4000;
inline constexpr std::uint16_t kFlagMoreFragments = 0x2000;
inline constexpr std::uint16_t kFragmentOffsetMask = 0x1fff;

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

// Patches the 16-bit checksum stored at `at` for the word changes recorded
// by `fill` (a callable taking a ChecksumPatch&).
template <class Fill>
void patch_checksum(std::uint8_t* at, Fill&& fill) {
  ChecksumPatch patch(load_be16(at));
  fill(patch);
  store_be16(at, patch.result());
}

}  // namespace natpunch::nat::wire

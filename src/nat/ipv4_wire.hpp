#pragma once
// Byte-level helpers shared by the IPv4 translators, the fragmenter and the
// reassembler: big-endian loads and stores, and the RFC 1624 incremental
// checksum patch. Header-only because they sit on the per-packet path.
#include <cstddef>
#include <cstdint>

namespace natpunch::nat::wire {

inline constexpr std::size_t kIpv4MinHeader = 20;
inline constexpr std::size_t kUdpHeader = 8;
inline constexpr std::size_t kIcmpHeader = 8;
inline constexpr std::uint8_t kProtocolIcmp = 1;
inline constexpr std::uint8_t kProtocolUdp = 17;
inline constexpr std::uint16_t kFlagDontFragment = 0x4000;
inline constexpr std::uint16_t kFlagMoreFragments = 0x2000;
inline constexpr std::uint16_t kFragmentOffsetMask = 0x1fff;

inline std::uint16_t load16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
inline void store16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline std::uint32_t load32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
inline void store32(std::uint8_t* p, std::uint32_t v) {
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

// Patches the 16-bit checksum stored at `at` for the word changes recorded
// by `fill` (a callable taking a ChecksumPatch&).
template <class Fill>
void patch_checksum(std::uint8_t* at, Fill&& fill) {
  ChecksumPatch patch(load16(at));
  fill(patch);
  store16(at, patch.result());
}

}  // namespace natpunch::nat::wire

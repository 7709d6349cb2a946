#pragma once
// Size limits RFC 8489 puts on STUN's text attributes, shared by the decoder
// (rejects longer values) and the builder (refuses to write them).
#include <cstddef>
#include <cstdint>

#include "stun/message.hpp"

namespace natpunch::stun::detail {

// 513 bytes for USERNAME; 763 bytes (128 characters of up to 6 UTF-8 bytes,
// rounded as the RFC does) for SOFTWARE, REALM, NONCE and error reasons.
inline constexpr std::size_t kMaxUsernameBytes = 513;
inline constexpr std::size_t kMaxTextBytes = 763;

// The limit for `type`, or SIZE_MAX for attributes without one.
constexpr std::size_t max_text_bytes(std::uint16_t type) {
  switch (type) {
    case attr::kUsername: return kMaxUsernameBytes;
    case attr::kSoftware:
    case attr::kRealm:
    case attr::kNonce: return kMaxTextBytes;
    default: return SIZE_MAX;
  }
}

}  // namespace natpunch::stun::detail

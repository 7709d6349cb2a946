#pragma once
// The hashes behind MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT, kept apart
// from the codec so message.cpp reads as framing logic. All of them come from
// libcrypto/zlib; nothing here is hand-rolled cryptography.
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

namespace natpunch::stun::detail {

enum class HmacAlgorithm { kSha1, kSha256 };
inline constexpr std::size_t kSha1Size = 20;
inline constexpr std::size_t kSha256Size = 32;

constexpr std::size_t hmac_size(HmacAlgorithm algorithm) {
  return algorithm == HmacAlgorithm::kSha1 ? kSha1Size : kSha256Size;
}

// HMAC over `prefix` (a STUN header plus the attributes before an integrity
// attribute), hashing the header as if its length field held `length_field`:
// RFC 8489 §14.5 makes the length cover the integrity attribute although the
// hashed bytes stop before it, and a received message may carry more
// attributes after it. `out` must be hmac_size(algorithm) bytes. False only if
// libcrypto fails (allocation, missing provider).
bool compute_message_hmac(HmacAlgorithm algorithm, std::span<const std::uint8_t> key,
                          std::span<const std::uint8_t> prefix, std::uint16_t length_field,
                          std::span<std::uint8_t> out);

// Constant-time check that `expected` equals the leading bytes of the HMAC
// (MESSAGE-INTEGRITY-SHA256 may be truncated to as few as 16 bytes).
bool message_hmac_matches(HmacAlgorithm algorithm, std::span<const std::uint8_t> key,
                          std::span<const std::uint8_t> prefix, std::uint16_t length_field,
                          std::span<const std::uint8_t> expected);

// Hash of `parts` joined by ':' ("user:realm:password" for long-term keys,
// "user:realm" for USERHASH); out must be 16 bytes for MD5, 32 for SHA-256.
// False only if libcrypto fails.
enum class DigestAlgorithm { kMd5, kSha256 };
bool digest_colon_joined(DigestAlgorithm algorithm, std::initializer_list<std::string_view> parts,
                         std::span<std::uint8_t> out);

// FINGERPRINT value for a message whose attributes before FINGERPRINT are
// `prefix` (header length must already include the FINGERPRINT attribute).
std::uint32_t compute_fingerprint(std::span<const std::uint8_t> prefix);

}  // namespace natpunch::stun::detail

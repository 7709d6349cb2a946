#pragma once
// RFC 8489 §9.2's additions to the long-term credential mechanism: the
// password algorithm a server offers (PASSWORD-ALGORITHMS) and the client
// picks (PASSWORD-ALGORITHM), the keys they derive, USERHASH, and the
// "nonce cookie" through which a server announces these features so that
// removing them on the path (a bid-down attack) shows.
//
// Usernames, realms and passwords are used as the UTF-8 bytes given: the
// OpaqueString (RFC 8265) preparation is the caller's (identity for ASCII,
// e.g. every TURN REST API credential).
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "stun/message.hpp"

namespace natpunch::stun {

enum class PasswordAlgorithm : std::uint16_t { kMd5 = 0x0001, kSha256 = 0x0002 };
std::string_view to_string(PasswordAlgorithm algorithm);
// The algorithms this codec can derive keys for.
bool is_supported_password_algorithm(std::uint16_t number);

// Algorithm numbers listed in PASSWORD-ALGORITHMS, in the server's order of
// preference (the first out.size() of them); 0 when absent.
std::size_t password_algorithms(const MessageView& message, std::span<std::uint16_t> out);
std::optional<std::uint16_t> password_algorithm(const MessageView& message);
bool add_password_algorithms(MessageBuilder& builder, std::span<const PasswordAlgorithm> algorithms);
bool add_password_algorithm(MessageBuilder& builder, PasswordAlgorithm algorithm);

// The HMAC key of the long-term mechanism: MD5 (16 bytes, RFC 8489 §9.2.2)
// or SHA-256 (32 bytes, §18.5.1.2) of "username:realm:password".
struct LongTermKey {
  std::array<std::uint8_t, 32> bytes{};
  std::size_t size = 0;
  std::span<const std::uint8_t> span() const { return {bytes.data(), size}; }
};
LongTermKey long_term_key(PasswordAlgorithm algorithm, std::string_view username, std::string_view realm,
                          std::string_view password);

// USERHASH value: SHA-256("username:realm") (RFC 8489 §14.4).
std::array<std::uint8_t, 32> userhash(std::string_view username, std::string_view realm);

// The STUN Security Features a nonce cookie ("obMatJos2" + 4 base64
// characters of 24 bits) announces. Bit numbering follows verified erratum
// 6290: "Password algorithms" is the least significant bit of the 24,
// "Username anonymity" the next (RFC 8489 Appendix B.1's nonce "...AAAC..."
// announces username anonymity and uses USERHASH).
struct SecurityFeatures {
  bool password_algorithms = false;
  bool username_anonymity = false;
};
// nullopt when the nonce does not start with a well-formed cookie: an
// RFC 5389 server, which knows neither feature.
std::optional<SecurityFeatures> nonce_cookie(std::string_view nonce);

namespace detail {
// The value format of PASSWORD-ALGORITHM(S) and USERHASH; nullopt when
// well formed or another attribute.
std::optional<DecodeError> check_password_value(std::uint16_t type, std::span<const std::uint8_t> value);
}  // namespace detail

}  // namespace natpunch::stun

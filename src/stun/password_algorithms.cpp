#include "stun/password_algorithms.hpp"

#include <openssl/evp.h>

#include "core/bytes.hpp"
#include "stun/integrity.hpp"

namespace natpunch::stun {
namespace {

constexpr std::size_t kEntryHeaderSize = 4;  // algorithm, parameters length
constexpr std::size_t kUserhashSize = 32;
constexpr std::string_view kCookiePrefix = "obMatJos2";
constexpr std::size_t kCookieFeatureChars = 4;  // base64 of 3 bytes
constexpr std::uint32_t kFeaturePasswordAlgorithms = 0x000001;
constexpr std::uint32_t kFeatureUsernameAnonymity = 0x000002;

constexpr std::size_t padded(std::size_t length) { return (length + 3) & ~std::size_t{3}; }

// Calls visit(algorithm) for each entry; false when the entries do not
// fill `value` exactly (a parameters length running past the end).
template <class Visit>
bool for_each_entry(std::span<const std::uint8_t> value, Visit&& visit) {
  std::size_t offset = 0;
  while (offset < value.size()) {
    if (value.size() - offset < kEntryHeaderSize) return false;
    const std::uint16_t algorithm = load_be16(value.data() + offset);
    const std::size_t parameters = padded(load_be16(value.data() + offset + 2));
    if (parameters > value.size() - offset - kEntryHeaderSize) return false;
    visit(algorithm);
    offset += kEntryHeaderSize + parameters;
  }
  return true;
}

bool add_entries(MessageBuilder& builder, std::uint16_t type, std::span<const PasswordAlgorithm> algorithms) {
  // Neither MD5 nor SHA-256 has parameters: 4 bytes per entry.
  std::array<std::uint8_t, 4 * 8> value{};
  if (algorithms.size() > value.size() / 4) return false;
  for (std::size_t i = 0; i < algorithms.size(); ++i) {
    store_be16(value.data() + 4 * i, static_cast<std::uint16_t>(algorithms[i]));
    store_be16(value.data() + 4 * i + 2, 0);
  }
  return builder.add_raw(type, std::span(value).first(4 * algorithms.size()));
}

}  // namespace

std::string_view to_string(PasswordAlgorithm algorithm) {
  switch (algorithm) {
    case PasswordAlgorithm::kMd5: return "MD5";
    case PasswordAlgorithm::kSha256: return "SHA-256";
  }
  return "unknown";
}

bool is_supported_password_algorithm(std::uint16_t number) {
  return number == static_cast<std::uint16_t>(PasswordAlgorithm::kMd5) ||
         number == static_cast<std::uint16_t>(PasswordAlgorithm::kSha256);
}

std::size_t password_algorithms(const MessageView& message, std::span<std::uint16_t> out) {
  const RawAttribute* attribute = message.find(attr::kPasswordAlgorithms);
  if (attribute == nullptr) return 0;
  std::size_t count = 0;
  for_each_entry(attribute->value, [&](std::uint16_t algorithm) {
    if (count < out.size()) out[count++] = algorithm;
  });
  return count;
}

std::optional<std::uint16_t> password_algorithm(const MessageView& message) {
  const RawAttribute* attribute = message.find(attr::kPasswordAlgorithm);
  if (attribute == nullptr) return std::nullopt;
  return load_be16(attribute->value.data());
}

bool add_password_algorithms(MessageBuilder& builder, std::span<const PasswordAlgorithm> algorithms) {
  return add_entries(builder, attr::kPasswordAlgorithms, algorithms);
}

bool add_password_algorithm(MessageBuilder& builder, PasswordAlgorithm algorithm) {
  return add_entries(builder, attr::kPasswordAlgorithm, std::span(&algorithm, 1));
}

LongTermKey long_term_key(PasswordAlgorithm algorithm, std::string_view username, std::string_view realm,
                          std::string_view password) {
  // As with stun::long_term_key: libcrypto fails only when out of memory,
  // and an all-zero key then fails every integrity check.
  LongTermKey key;
  key.size = algorithm == PasswordAlgorithm::kMd5 ? 16 : 32;
  const auto digest =
      algorithm == PasswordAlgorithm::kMd5 ? detail::DigestAlgorithm::kMd5 : detail::DigestAlgorithm::kSha256;
  if (!detail::digest_colon_joined(digest, {username, realm, password}, std::span(key.bytes).first(key.size)))
    key.bytes = {};
  return key;
}

std::array<std::uint8_t, 32> userhash(std::string_view username, std::string_view realm) {
  std::array<std::uint8_t, 32> hash{};
  if (!detail::digest_colon_joined(detail::DigestAlgorithm::kSha256, {username, realm}, hash)) return {};
  return hash;
}

std::optional<SecurityFeatures> nonce_cookie(std::string_view nonce) {
  if (nonce.size() < kCookiePrefix.size() + kCookieFeatureChars || !nonce.starts_with(kCookiePrefix))
    return std::nullopt;
  const auto encoded = nonce.substr(kCookiePrefix.size(), kCookieFeatureChars);
  std::array<unsigned char, 4> bits{};  // EVP_DecodeBlock writes 3 bytes per 4 characters
  if (EVP_DecodeBlock(bits.data(), reinterpret_cast<const unsigned char*>(encoded.data()),
                      static_cast<int>(encoded.size())) != 3)
    return std::nullopt;
  const std::uint32_t features = (std::uint32_t{bits[0]} << 16) | (std::uint32_t{bits[1]} << 8) | bits[2];
  return SecurityFeatures{(features & kFeaturePasswordAlgorithms) != 0, (features & kFeatureUsernameAnonymity) != 0};
}

namespace detail {

std::optional<DecodeError> check_password_value(std::uint16_t type, std::span<const std::uint8_t> value) {
  switch (type) {
    case attr::kPasswordAlgorithms: {
      std::size_t entries = 0;
      if (!for_each_entry(value, [&](std::uint16_t) { ++entries; }) || entries == 0)
        return DecodeError::kBadPasswordAlgorithms;
      return std::nullopt;
    }
    case attr::kPasswordAlgorithm: {
      std::size_t entries = 0;
      if (!for_each_entry(value, [&](std::uint16_t) { ++entries; }) || entries != 1)
        return DecodeError::kBadPasswordAlgorithm;
      return std::nullopt;
    }
    case attr::kUserhash:
      if (value.size() != kUserhashSize) return DecodeError::kBadUserhash;
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

}  // namespace detail
}  // namespace natpunch::stun

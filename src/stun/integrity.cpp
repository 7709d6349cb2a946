#include "stun/integrity.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <zlib.h>

#include <array>
#include <cstring>
#include <memory>

#include "core/bytes.hpp"
#include "stun/message.hpp"

namespace natpunch::stun {
namespace detail {
namespace {

struct MacDeleter {
  void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// EVP_MAC_init treats a null key as "keep the previous key" and then fails
// for lack of one; an empty password is legal in STUN, so give it an address.
const std::uint8_t* key_pointer(std::span<const std::uint8_t> key) {
  static constexpr std::uint8_t kEmptyKey = 0;
  return key.empty() ? &kEmptyKey : key.data();
}

}  // namespace

bool compute_message_hmac(HmacAlgorithm algorithm, std::span<const std::uint8_t> key,
                          std::span<const std::uint8_t> prefix, std::uint16_t length_field,
                          std::span<std::uint8_t> out) {
  if (prefix.size() < kHeaderSize || out.size() != hmac_size(algorithm)) return false;

  std::array<std::uint8_t, kHeaderSize> header{};
  std::memcpy(header.data(), prefix.data(), kHeaderSize);
  store_be16(header.data() + 2, length_field);

  std::unique_ptr<EVP_MAC, MacDeleter> mac(EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr));
  if (!mac) return false;
  std::unique_ptr<EVP_MAC_CTX, MacDeleter> ctx(EVP_MAC_CTX_new(mac.get()));
  if (!ctx) return false;

  // OSSL_PARAM wants a mutable char*, although it only reads the name.
  char digest_name[8];
  std::strcpy(digest_name, algorithm == HmacAlgorithm::kSha1 ? "SHA1" : "SHA256");
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                               OSSL_PARAM_construct_end()};

  const auto body = prefix.subspan(kHeaderSize);
  std::size_t written = 0;
  return EVP_MAC_init(ctx.get(), key_pointer(key), key.size(), params) == 1 &&
         EVP_MAC_update(ctx.get(), header.data(), header.size()) == 1 &&
         (body.empty() || EVP_MAC_update(ctx.get(), body.data(), body.size()) == 1) &&
         EVP_MAC_final(ctx.get(), out.data(), &written, out.size()) == 1 && written == out.size();
}

bool message_hmac_matches(HmacAlgorithm algorithm, std::span<const std::uint8_t> key,
                          std::span<const std::uint8_t> prefix, std::uint16_t length_field,
                          std::span<const std::uint8_t> expected) {
  std::array<std::uint8_t, kSha256Size> mac{};
  const auto computed = std::span(mac).first(hmac_size(algorithm));
  if (expected.empty() || expected.size() > computed.size()) return false;
  if (!compute_message_hmac(algorithm, key, prefix, length_field, computed)) return false;
  return CRYPTO_memcmp(computed.data(), expected.data(), expected.size()) == 0;
}

std::uint32_t compute_fingerprint(std::span<const std::uint8_t> prefix) {
  // A STUN message is at most 20 + 65535 bytes, well inside zlib's uInt.
  const auto crc = crc32(crc32(0L, Z_NULL, 0), prefix.data(), static_cast<uInt>(prefix.size()));
  return static_cast<std::uint32_t>(crc) ^ kFingerprintXor;
}

bool digest_colon_joined(DigestAlgorithm algorithm, std::initializer_list<std::string_view> parts,
                         std::span<std::uint8_t> out) {
  const EVP_MD* md = algorithm == DigestAlgorithm::kMd5 ? EVP_md5() : EVP_sha256();
  if (out.size() != static_cast<std::size_t>(EVP_MD_get_size(md))) return false;
  std::unique_ptr<EVP_MD_CTX, MacDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) return false;
  bool first = true;
  for (const std::string_view part : parts) {
    if (!first && EVP_DigestUpdate(ctx.get(), ":", 1) != 1) return false;
    if (!part.empty() && EVP_DigestUpdate(ctx.get(), part.data(), part.size()) != 1) return false;
    first = false;
  }
  unsigned int written = 0;
  return EVP_DigestFinal_ex(ctx.get(), out.data(), &written) == 1 && written == out.size();
}

}  // namespace detail

std::array<std::uint8_t, 16> long_term_key(std::string_view username, std::string_view realm,
                                           std::string_view password) {
  // The signature has no error channel; libcrypto only fails here when out of
  // memory, and an all-zero key then simply fails every integrity check.
  std::array<std::uint8_t, 16> key{};
  if (!detail::digest_colon_joined(detail::DigestAlgorithm::kMd5, {username, realm, password}, key)) return {};
  return key;
}

}  // namespace natpunch::stun

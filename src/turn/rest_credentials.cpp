#include "turn/rest_credentials.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <limits>

namespace natpunch::turn {

std::string rest_password(std::string_view secret, std::string_view username) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_size = 0;
  // One-shot HMAC from libcrypto; it only fails when out of memory, and an
  // empty password then simply fails authentication.
  if (HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(username.data()), username.size(), mac.data(), &mac_size) == nullptr)
    return {};
  std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> text{};
  const int length = EVP_EncodeBlock(text.data(), mac.data(), static_cast<int>(mac_size));
  return {reinterpret_cast<const char*>(text.data()), static_cast<std::size_t>(length)};
}

std::optional<RestCredentials> mint_rest_credentials(std::string_view secret, std::string_view id,
                                                     std::int64_t now_unix, std::chrono::seconds lifetime) {
  for (const char c : id)
    if (c == ':' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
  if (lifetime.count() < 0 || now_unix > std::numeric_limits<std::int64_t>::max() - lifetime.count())
    return std::nullopt;
  RestCredentials out;
  out.expires_unix = now_unix + lifetime.count();
  out.credentials.username = std::to_string(out.expires_unix);
  if (!id.empty()) out.credentials.username += ":" + std::string(id);
  out.credentials.password = rest_password(secret, out.credentials.username);
  return out;
}

}  // namespace natpunch::turn

#pragma once
// TURN credentials without accounts: the "TURN REST API" scheme
// (draft-uberti-behave-turn-rest) that coturn accepts with
// `use-auth-secret` + `static-auth-secret`. Whoever knows the server's
// secret (the rendezvous) mints a short-lived username "EXPIRY:ID" (EXPIRY in
// Unix seconds) with password base64(HMAC-SHA1(secret, username)); the TURN
// server recomputes the password and refuses it once EXPIRY has passed.
// No clock is read: the caller passes the time.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/time.hpp"
#include "turn/long_term_auth.hpp"

namespace natpunch::turn {

struct RestCredentials {
  Credentials credentials;
  std::int64_t expires_unix = 0;  // the EXPIRY in the username
};

// `id` names the holder (any text without ':', may be empty); `now_unix` is
// the wall-clock time in Unix seconds. nullopt when `id` contains ':' or a
// control character, or the expiry would not fit.
std::optional<RestCredentials> mint_rest_credentials(std::string_view secret, std::string_view id,
                                                     std::int64_t now_unix, std::chrono::seconds lifetime);

// The password for `username` under `secret`: base64(HMAC-SHA1(secret, username)).
std::string rest_password(std::string_view secret, std::string_view username);

}  // namespace natpunch::turn

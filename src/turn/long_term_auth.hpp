#pragma once
// The client side of STUN's long-term credential mechanism (RFC 8489 §9.2)
// as TURN uses it: the first request goes unsigned, the server's 401 brings
// a realm and a nonce, every later request carries USERNAME (or USERHASH),
// REALM, NONCE and an HMAC; a 438 brings a fresh nonce.
//
// Servers of RFC 5389's generation (coturn among them) get MESSAGE-INTEGRITY
// with the MD5 key. A server that announces RFC 8489's features in its
// nonce cookie and offers PASSWORD-ALGORITHMS gets that list echoed, the
// first algorithm we support chosen, and MESSAGE-INTEGRITY-SHA256.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "stun/message.hpp"
#include "stun/password_algorithms.hpp"

namespace natpunch::turn {

struct Credentials {
  std::string username;
  std::string password;
};

class LongTermAuth {
 public:
  explicit LongTermAuth(Credentials credentials) : credentials_(std::move(credentials)) {}

  enum class Verdict : std::uint8_t {
    kRetry,                 // retry the request signed with what the challenge brought
    kWrongCredentials,      // a 401 to a request we signed, realm unchanged: retrying cannot help
    kMissingChallenge,      // a 401/438 without REALM or NONCE
    kDowngrade,             // the nonce cookie announces password algorithms, the answer has none
    kUnsupportedAlgorithm,  // PASSWORD-ALGORITHMS lists nothing we can derive a key for
  };
  // A 401 or 438 answer: adopts its realm, nonce and algorithms.
  // `request_was_signed`: the request it answers carried our credentials.
  Verdict on_challenge(const stun::MessageView& response, bool request_was_signed);

  // True once a challenge was adopted: requests can be signed.
  bool ready() const { return !nonce_.empty(); }
  // Adds USERNAME/USERHASH, REALM, NONCE, PASSWORD-ALGORITHMS and
  // PASSWORD-ALGORITHM, then the integrity attribute. Call after every
  // other attribute (FINGERPRINT may follow). False when out of room.
  bool sign(stun::MessageBuilder& builder) const;
  // The response's integrity attribute checks out with our key.
  bool verify(const stun::MessageView& response) const;

  const std::string& realm() const { return realm_; }
  const std::string& username() const { return credentials_.username; }
  // nullopt: the server offered no algorithms (MD5 key, MESSAGE-INTEGRITY).
  std::optional<stun::PasswordAlgorithm> algorithm() const { return algorithm_; }
  bool uses_userhash() const { return userhash_; }

 private:
  Credentials credentials_;
  std::string realm_;
  std::string nonce_;
  std::vector<std::uint8_t> offered_algorithms_;  // PASSWORD-ALGORITHMS as the server sent it
  std::optional<stun::PasswordAlgorithm> algorithm_;
  bool userhash_ = false;
  stun::LongTermKey key_;
};

}  // namespace natpunch::turn

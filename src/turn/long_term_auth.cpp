#include "turn/long_term_auth.hpp"

#include <array>

namespace natpunch::turn {

LongTermAuth::Verdict LongTermAuth::on_challenge(const stun::MessageView& response, bool request_was_signed) {
  const auto realm = response.realm();
  const auto nonce = response.nonce();
  if (!realm || !nonce || nonce->empty()) return Verdict::kMissingChallenge;

  // RFC 8489 §9.2.5: a cookie announcing password algorithms without the
  // list means someone removed it on the way; do not retry.
  const auto features = stun::nonce_cookie(*nonce);
  const stun::RawAttribute* offered = response.find(stun::attr::kPasswordAlgorithms);
  if (features && features->password_algorithms && offered == nullptr) return Verdict::kDowngrade;

  std::optional<stun::PasswordAlgorithm> chosen;
  if (offered != nullptr) {
    std::array<std::uint16_t, 16> numbers{};
    const std::size_t count = stun::password_algorithms(response, numbers);
    for (std::size_t i = 0; i < count && !chosen; ++i)
      if (stun::is_supported_password_algorithm(numbers[i])) chosen = static_cast<stun::PasswordAlgorithm>(numbers[i]);
    if (!chosen) return Verdict::kUnsupportedAlgorithm;
  }

  const bool is_stale_nonce = response.error_code() && response.error_code()->code == 438;
  // A 401 to signed credentials under the same realm: the same retry would
  // only be refused again (§9.2.5 forbids it).
  if (!is_stale_nonce && request_was_signed && *realm == realm_) return Verdict::kWrongCredentials;

  realm_.assign(*realm);
  nonce_.assign(*nonce);
  offered_algorithms_.clear();
  if (offered != nullptr) offered_algorithms_.assign(offered->value.begin(), offered->value.end());
  algorithm_ = chosen;
  userhash_ = features && features->username_anonymity;
  key_ = stun::long_term_key(algorithm_.value_or(stun::PasswordAlgorithm::kMd5), credentials_.username, realm_,
                             credentials_.password);
  return Verdict::kRetry;
}

bool LongTermAuth::sign(stun::MessageBuilder& builder) const {
  if (!ready()) return false;
  if (userhash_) {
    const auto hash = stun::userhash(credentials_.username, realm_);
    builder.add_raw(stun::attr::kUserhash, hash);
  } else {
    builder.add_string(stun::attr::kUsername, credentials_.username);
  }
  builder.add_string(stun::attr::kRealm, realm_);
  builder.add_string(stun::attr::kNonce, nonce_);
  if (algorithm_) {
    builder.add_raw(stun::attr::kPasswordAlgorithms, offered_algorithms_);
    stun::add_password_algorithm(builder, *algorithm_);
    // With PASSWORD-ALGORITHM in the request the server answers with
    // MESSAGE-INTEGRITY-SHA256 (§9.2.4), whichever algorithm keyed it.
    return builder.add_message_integrity_sha256(key_.span());
  }
  return builder.add_message_integrity(key_.span());
}

bool LongTermAuth::verify(const stun::MessageView& response) const {
  if (!ready()) return false;
  if (response.has_message_integrity_sha256()) return response.verify_message_integrity_sha256(key_.span());
  return response.verify_message_integrity(key_.span());
}

}  // namespace natpunch::turn

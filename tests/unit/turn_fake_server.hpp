#pragma once
// A scripted TURN server for the client's virtual-time tests: it checks
// the long-term credentials as RFC 8489 §9.2.4 says (401 without an HMAC,
// 401 for a wrong one, 438 for an old nonce), answers Allocate, Refresh,
// CreatePermission and ChannelBind, records what it saw, and lets a test
// replace any answer (an error code, garbage, silence). Independent of the
// client: it reads requests through the codec only.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "stun/message.hpp"
#include "stun/password_algorithms.hpp"
#include "stun/turn_attributes.hpp"
#include "turn/channel_data.hpp"

namespace natpunch::turn::fake {

inline const Endpoint kServer{IpAddress::v4({203, 0, 113, 10}), 3478};
inline const Endpoint kRelayed{IpAddress::v4({203, 0, 113, 10}), 50000};
inline const Endpoint kClientSeen{IpAddress::v4({198, 51, 100, 7}), 40000};
inline const Endpoint kPeer{IpAddress::v4({203, 0, 113, 102}), 6000};

struct SeenRequest {
  stun::Method method = stun::Method::Binding;
  stun::MessageClass cls = stun::MessageClass::Request;
  bool signed_request = false;
  bool sha256 = false;       // MESSAGE-INTEGRITY-SHA256 (else MESSAGE-INTEGRITY)
  bool userhash = false;
  std::optional<std::uint32_t> lifetime;
  std::optional<Endpoint> peer;
  std::optional<std::uint16_t> channel;
  std::optional<std::uint16_t> password_algorithm;
  std::vector<std::uint8_t> data;  // Send indication DATA
  std::string nonce;
};

class FakeTurnServer {
 public:
  std::string username = "alice";
  std::string password = "secret";
  std::string realm = "lab.test";
  std::string nonce = "nonce-1";
  std::uint32_t lifetime = 600;
  Endpoint relayed = kRelayed;  // what Allocate grants
  // RFC 8489 mode: the nonce carries a cookie and 401s offer these algorithms.
  std::vector<stun::PasswordAlgorithm> offered_algorithms;
  bool announce_username_anonymity = false;
  // Answers an authenticated request with this error instead (nullopt: normal).
  std::function<std::optional<int>(const SeenRequest&)> error_for;
  // Signs error answers to authenticated requests (coturn does).
  bool sign_errors = true;
  // Signs success answers with this password instead (tests of the integrity check).
  std::optional<std::string> signing_password;
  std::vector<SeenRequest> seen;
  std::vector<std::uint16_t> bound_channels;

  std::string cookie_nonce() const {
    // "obMatJos2" + base64 of the 24 feature bits (erratum 6290 numbering) + the rest.
    const int bits = (offered_algorithms.empty() ? 0 : 1) | (announce_username_anonymity ? 2 : 0);
    static constexpr const char* kBase64 = "ABCD";  // base64 of 0x000000 .. 0x000003 ends in A..D
    return std::string("obMatJos2AAA") + kBase64[bits] + nonce;
  }
  std::string current_nonce() const {
    return offered_algorithms.empty() && !announce_username_anonymity ? nonce : cookie_nonce();
  }

  // The answer to `request` (empty: none, e.g. indications).
  std::vector<std::uint8_t> answer(std::span<const std::uint8_t> bytes) {
    auto message = stun::MessageView::decode(bytes);
    if (!message) return {};
    SeenRequest r = describe(*message);
    seen.push_back(r);
    if (r.cls != stun::MessageClass::Request) return {};
    if (!r.signed_request) return challenge(*message, 401);
    if (!key_matches(*message, r)) return challenge(*message, 401);
    if (r.nonce != current_nonce()) return challenge(*message, 438);
    if (error_for) {
      if (const auto code = error_for(r)) return error(*message, *code, r);
    }
    return success(*message, r);
  }

  stun::LongTermKey key_for(const SeenRequest& r, const std::string& pw) const {
    const auto algorithm = r.password_algorithm ? static_cast<stun::PasswordAlgorithm>(*r.password_algorithm)
                                                : stun::PasswordAlgorithm::kMd5;
    return stun::long_term_key(algorithm, username, realm, pw);
  }

  std::vector<std::uint8_t> data_indication(const Endpoint& peer, std::span<const std::uint8_t> payload) const {
    std::vector<std::uint8_t> buffer(2048);
    stun::MessageBuilder b(buffer, stun::Method::Data, stun::MessageClass::Indication, stun::TransactionId{9, 9, 9});
    stun::add_xor_peer_address(b, peer);
    stun::add_data(b, payload);
    buffer.resize(b.size());
    return buffer;
  }

 private:
  SeenRequest describe(const stun::MessageView& m) const {
    SeenRequest r;
    r.method = m.method();
    r.cls = m.message_class();
    r.signed_request = m.has_message_integrity() || m.has_message_integrity_sha256();
    r.sha256 = m.has_message_integrity_sha256();
    r.userhash = m.find(stun::attr::kUserhash) != nullptr;
    r.lifetime = stun::lifetime_seconds(m);
    r.peer = stun::xor_peer_address(m);
    r.channel = stun::channel_number(m);
    r.password_algorithm = stun::password_algorithm(m);
    if (auto d = stun::data_value(m)) r.data.assign(d->begin(), d->end());
    if (auto n = m.nonce()) r.nonce.assign(*n);
    return r;
  }

  bool key_matches(const stun::MessageView& m, const SeenRequest& r) const {
    if (r.userhash) {
      const auto* attribute = m.find(stun::attr::kUserhash);
      const auto expected = stun::userhash(username, realm);
      if (attribute == nullptr || !std::equal(expected.begin(), expected.end(), attribute->value.begin())) return false;
    } else if (m.username() != username) {
      return false;
    }
    if (m.realm() != realm) return false;
    const auto key = key_for(r, password);
    return r.sha256 ? m.verify_message_integrity_sha256(key.span()) : m.verify_message_integrity(key.span());
  }

  std::vector<std::uint8_t> challenge(const stun::MessageView& m, int code) const {
    std::vector<std::uint8_t> buffer(1024);
    stun::MessageBuilder b(buffer, m.method(), stun::MessageClass::ErrorResponse, m.transaction_id());
    b.add_error_code(code, code == 401 ? "Unauthorized" : "Stale Nonce");
    b.add_string(stun::attr::kRealm, realm);
    b.add_string(stun::attr::kNonce, current_nonce());
    if (!offered_algorithms.empty()) stun::add_password_algorithms(b, offered_algorithms);
    buffer.resize(b.size());
    return buffer;
  }

  void sign(stun::MessageBuilder& b, const SeenRequest& r, const std::string& pw) const {
    const auto key = key_for(r, pw);
    if (r.sha256)
      b.add_message_integrity_sha256(key.span());
    else
      b.add_message_integrity(key.span());
  }

  std::vector<std::uint8_t> error(const stun::MessageView& m, int code, const SeenRequest& r) const {
    std::vector<std::uint8_t> buffer(1024);
    stun::MessageBuilder b(buffer, m.method(), stun::MessageClass::ErrorResponse, m.transaction_id());
    b.add_error_code(code, "");
    if (sign_errors) sign(b, r, password);
    b.add_fingerprint();
    buffer.resize(b.size());
    return buffer;
  }

  std::vector<std::uint8_t> success(const stun::MessageView& m, const SeenRequest& r) {
    std::vector<std::uint8_t> buffer(1024);
    stun::MessageBuilder b(buffer, m.method(), stun::MessageClass::SuccessResponse, m.transaction_id());
    switch (r.method) {
      case stun::Method::Allocate:
        b.add_xor_address(stun::attr::kXorRelayedAddress, relayed);
        b.add_xor_address(stun::attr::kXorMappedAddress, kClientSeen);
        stun::add_lifetime(b, lifetime);
        break;
      case stun::Method::Refresh:
        stun::add_lifetime(b, r.lifetime.value_or(lifetime) == 0 ? 0 : lifetime);
        break;
      case stun::Method::ChannelBind:
        if (r.channel) bound_channels.push_back(*r.channel);
        break;
      default:
        break;
    }
    sign(b, r, signing_password.value_or(password));
    b.add_fingerprint();
    buffer.resize(b.size());
    return buffer;
  }
};

}  // namespace natpunch::turn::fake

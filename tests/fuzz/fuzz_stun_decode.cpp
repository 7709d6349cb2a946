// libFuzzer target for the STUN decoder. Beyond "does not crash", it checks
// that whatever decodes can be rebuilt by MessageBuilder and decodes again to
// the same values, so encoder and decoder agree on every attribute format.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "fuzz_check.hpp"
#include "stun/message.hpp"

namespace {

using namespace natpunch;
using namespace natpunch::stun;

constexpr std::array<std::uint8_t, 4> kKey = {'p', 'a', 's', 's'};

void exercise_accessors(const MessageView& m) {
  (void)m.method();
  (void)m.message_class();
  (void)m.has_magic_cookie();
  (void)m.reflexive_address();
  (void)m.alternate_address();
  (void)m.source_address();
  (void)m.response_origin();
  (void)m.change_request();
  (void)m.response_port();
  if (auto error = m.error_code()) FUZZ_CHECK(error->code >= 300 && error->code <= 699);
  (void)m.username();
  (void)m.software();
  (void)m.realm();
  (void)m.nonce();
  std::array<std::uint16_t, 16> types{};
  FUZZ_CHECK(m.unknown_attributes(types) <= types.size());
  const std::size_t unknown = m.unknown_comprehension_required(types);
  for (std::size_t i = 0; i < unknown; ++i) FUZZ_CHECK(!attr::is_known(types[i]));
  (void)m.has_fingerprint();
  for (std::span<const std::uint8_t> key : {std::span<const std::uint8_t>(kKey), std::span<const std::uint8_t>()}) {
    (void)m.verify_message_integrity(key);
    (void)m.verify_message_integrity_sha256(key);
  }
  FUZZ_CHECK(MessageView::looks_like_stun(m.bytes()));
}

// Attribute by attribute, with integrity and fingerprint recomputed.
void check_raw_reencoding(const MessageView& m, std::vector<std::uint8_t>& buffer) {
  MessageBuilder builder(buffer, m.method(), m.message_class(), m.transaction_id(), m.cookie());
  for (const RawAttribute& a : m.attributes()) {
    if (a.type == attr::kMessageIntegrity) {
      builder.add_message_integrity(kKey);
    } else if (a.type == attr::kMessageIntegritySha256) {
      builder.add_message_integrity_sha256(kKey);  // full length even if the input truncated it
    } else if (a.type == attr::kFingerprint) {
      builder.add_fingerprint();
    } else {
      builder.add_raw(a.type, a.value);
    }
  }
  if (!builder.ok()) return;  // a truncated SHA-256 HMAC grew past 64 KiB
  auto again = MessageView::decode(builder.bytes());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->attributes().size() == m.attributes().size());
  FUZZ_CHECK(again->message_type() == m.message_type());
  FUZZ_CHECK(again->xor_mapped_address() == m.xor_mapped_address());
  FUZZ_CHECK(again->username() == m.username());
  FUZZ_CHECK(again->has_fingerprint() == m.has_fingerprint());
  if (again->has_message_integrity()) FUZZ_CHECK(again->verify_message_integrity(kKey));
  if (again->has_message_integrity_sha256()) FUZZ_CHECK(again->verify_message_integrity_sha256(kKey));
}

// Only through the typed adders, from the typed accessors.
void check_typed_reencoding(const MessageView& m, std::vector<std::uint8_t>& buffer) {
  MessageBuilder builder(buffer, m.method(), m.message_class(), m.transaction_id(), m.cookie());
  auto add_address = [&](std::uint16_t type, const std::optional<Endpoint>& ep) {
    if (ep) builder.add_address(type, *ep);
  };
  if (auto ep = m.xor_mapped_address()) builder.add_xor_address(attr::kXorMappedAddress, *ep);
  add_address(attr::kMappedAddress, m.mapped_address());
  add_address(attr::kSourceAddress, m.source_address());
  add_address(attr::kChangedAddress, m.changed_address());
  add_address(attr::kResponseOrigin, m.response_origin());
  add_address(attr::kOtherAddress, m.other_address());
  if (auto change = m.change_request()) builder.add_change_request(change->change_ip, change->change_port);
  if (auto port = m.response_port()) builder.add_response_port(*port);
  if (auto error = m.error_code()) builder.add_error_code(error->code, error->reason);
  if (auto text = m.username()) builder.add_string(attr::kUsername, *text);
  if (auto text = m.software()) builder.add_string(attr::kSoftware, *text);
  if (auto text = m.realm()) builder.add_string(attr::kRealm, *text);
  if (auto text = m.nonce()) builder.add_string(attr::kNonce, *text);
  std::array<std::uint16_t, 64> types{};
  if (m.find(attr::kUnknownAttributes)) builder.add_unknown_attributes(std::span(types).first(m.unknown_attributes(types)));
  builder.add_fingerprint();
  FUZZ_CHECK(builder.ok());  // never larger than the input plus a fingerprint

  auto again = MessageView::decode(builder.bytes());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->has_fingerprint());
  FUZZ_CHECK(again->xor_mapped_address() == m.xor_mapped_address());
  FUZZ_CHECK(again->mapped_address() == m.mapped_address());
  FUZZ_CHECK(again->source_address() == m.source_address());
  FUZZ_CHECK(again->changed_address() == m.changed_address());
  FUZZ_CHECK(again->response_origin() == m.response_origin());
  FUZZ_CHECK(again->other_address() == m.other_address());
  const auto change = m.change_request();
  const auto change_again = again->change_request();
  FUZZ_CHECK(change.has_value() == change_again.has_value());
  if (change) FUZZ_CHECK(change->change_ip == change_again->change_ip && change->change_port == change_again->change_port);
  FUZZ_CHECK(again->response_port() == m.response_port());
  const auto error = m.error_code();
  const auto error_again = again->error_code();
  FUZZ_CHECK(error.has_value() == error_again.has_value());
  if (error) FUZZ_CHECK(error->code == error_again->code && error->reason == error_again->reason);
  FUZZ_CHECK(again->username() == m.username());
  FUZZ_CHECK(again->software() == m.software());
  FUZZ_CHECK(again->realm() == m.realm());
  FUZZ_CHECK(again->nonce() == m.nonce());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> input(data, size);
  const bool plausible = MessageView::looks_like_stun(input);
  auto message = MessageView::decode(input);
  if (!message.ok()) {
    FUZZ_CHECK(!to_string(message.error()).empty());
    return 0;
  }
  FUZZ_CHECK(plausible);  // decode() must never accept what the cheap check rejects
  exercise_accessors(*message);

  std::vector<std::uint8_t> buffer(kHeaderSize + 0xFFFF);
  check_raw_reencoding(*message, buffer);
  check_typed_reencoding(*message, buffer);
  return 0;
}

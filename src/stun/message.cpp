// Decoding side of the STUN codec (MessageView) plus the small shared pieces
// of message.hpp; the encoding side lives in message_builder.cpp.
#include "stun/message.hpp"

#include <algorithm>
#include <cstring>

#include "stun/address_attribute.hpp"
#include "core/bytes.hpp"
#include "stun/integrity.hpp"
#include "stun/password_algorithms.hpp"
#include "stun/text_limits.hpp"
#include "stun/turn_attributes.hpp"

namespace natpunch::stun {
namespace {

constexpr std::uint16_t kFirstTwoBitsMask = 0xC000;
constexpr std::size_t kAttributeHeaderSize = 4;
constexpr std::size_t kChangeRequestSize = 4;
constexpr std::size_t kResponsePortSize = 4;
constexpr std::size_t kFingerprintSize = 4;
constexpr std::size_t kErrorCodePrefixSize = 4;
constexpr std::size_t kMinSha256IntegritySize = 16;

constexpr std::size_t padded(std::size_t length) { return (length + 3) & ~std::size_t{3}; }

bool is_plain_address(std::uint16_t type) {
  switch (type) {
    case attr::kMappedAddress:
    case attr::kResponseAddress:
    case attr::kSourceAddress:
    case attr::kChangedAddress:
    case attr::kReflectedFrom:
    case attr::kAlternateServer:
    case attr::kResponseOrigin:
    case attr::kOtherAddress:
      return true;
    default:
      return false;
  }
}

std::optional<DecodeError> check_error_code(std::span<const std::uint8_t> value) {
  if (value.size() < kErrorCodePrefixSize) return DecodeError::kBadErrorCode;
  // Only the low 3 bits of byte 2 are the class; the rest is reserved and
  // must be ignored on receipt (RFC 8489 §14.8).
  const int error_class = value[2] & 0x07;
  const int number = value[3];
  if (error_class < 3 || error_class > 6 || number > 99) return DecodeError::kBadErrorCode;
  if (value.size() - kErrorCodePrefixSize > detail::kMaxTextBytes) return DecodeError::kValueTooLong;
  return std::nullopt;
}

// Value-format rules for every attribute this codec knows, except
// FINGERPRINT, whose checks depend on its position (see decode()).
std::optional<DecodeError> check_value(std::uint16_t type, std::span<const std::uint8_t> value, bool has_cookie) {
  if (is_plain_address(type)) return detail::check_address_value(value);
  switch (type) {
    case attr::kXorMappedAddress:
    case attr::kXorPeerAddress:
    case attr::kXorRelayedAddress:
      // Without the cookie there is nothing defined to XOR with.
      if (!has_cookie) return DecodeError::kXorWithoutCookie;
      return detail::check_address_value(value);
    case attr::kUsername:
    case attr::kSoftware:
    case attr::kRealm:
    case attr::kNonce:
      if (value.size() > detail::max_text_bytes(type)) return DecodeError::kValueTooLong;
      return std::nullopt;
    case attr::kErrorCode:
      return check_error_code(value);
    case attr::kUnknownAttributes:
      if (value.size() % 2 != 0) return DecodeError::kBadUnknownAttributes;
      return std::nullopt;
    case attr::kChangeRequest:
      if (value.size() != kChangeRequestSize) return DecodeError::kBadChangeRequest;
      return std::nullopt;
    case attr::kResponsePort:
      if (value.size() != kResponsePortSize) return DecodeError::kBadResponsePort;
      return std::nullopt;
    case attr::kMessageIntegrity:
      if (value.size() != detail::kSha1Size) return DecodeError::kBadIntegrityLength;
      return std::nullopt;
    case attr::kMessageIntegritySha256:
      if (value.size() < kMinSha256IntegritySize || value.size() > detail::kSha256Size || value.size() % 4 != 0)
        return DecodeError::kBadIntegrityLength;
      return std::nullopt;
    default:
      // TURN's and RFC 8489 §9.2's own attributes are checked next to
      // their readers; PADDING and unknown attributes are opaque.
      if (auto error = detail::check_turn_value(type, value)) return error;
      return detail::check_password_value(type, value);
  }
}

// RFC 8489 §14.5/§14.6: after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256
// and FINGERPRINT count; after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT.
// Anything else there was not covered by the HMAC, so it must be ignored.
class IntegrityHorizon {
 public:
  bool visible(std::uint16_t type) const {
    if (type == attr::kFingerprint) return true;
    if (after_sha256_) return false;
    return !after_sha1_ || type == attr::kMessageIntegritySha256;
  }
  void pass(std::uint16_t type) {
    after_sha1_ = after_sha1_ || type == attr::kMessageIntegrity;
    after_sha256_ = after_sha256_ || type == attr::kMessageIntegritySha256;
  }

 private:
  bool after_sha1_ = false;
  bool after_sha256_ = false;
};

std::optional<std::string_view> as_text(const RawAttribute* attribute) {
  if (attribute == nullptr) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(attribute->value.data()), attribute->value.size());
}

}  // namespace

namespace attr {
bool is_known(std::uint16_t type) {
  switch (type) {
    case kMappedAddress:
    case kResponseAddress:
    case kChangeRequest:
    case kSourceAddress:
    case kChangedAddress:
    case kUsername:
    case kMessageIntegrity:
    case kErrorCode:
    case kUnknownAttributes:
    case kReflectedFrom:
    case kRealm:
    case kNonce:
    case kMessageIntegritySha256:
    case kXorMappedAddress:
    case kPadding:
    case kResponsePort:
    case kSoftware:
    case kAlternateServer:
    case kFingerprint:
    case kResponseOrigin:
    case kOtherAddress:
    case kPasswordAlgorithm:
    case kPasswordAlgorithms:
    case kUserhash:
      return true;
    default:
      // PASSWORD and ALTERNATE-DOMAIN have names above but no support here;
      // a server must report the comprehension-required ones as unknown
      // (420) rather than ignore them.
      return detail::is_turn_attribute(type);
  }
}
}  // namespace attr

std::string_view to_string(DecodeError e) {
  switch (e) {
    case DecodeError::kTooShort: return "shorter than the 20-byte STUN header";
    case DecodeError::kNotStun: return "first two bits are not zero (not a STUN message)";
    case DecodeError::kLengthNotMultipleOf4: return "header length field is not a multiple of 4";
    case DecodeError::kLengthMismatch: return "header length field does not match the datagram size";
    case DecodeError::kAttributeTruncated: return "attribute header or value runs past the end of the message";
    case DecodeError::kTooManyAttributes: return "more attributes than the decoder accepts";
    case DecodeError::kBadAddressFamily: return "address attribute has a family other than IPv4 (1) or IPv6 (2)";
    case DecodeError::kBadAddressLength: return "address attribute length does not fit its address family";
    case DecodeError::kBadChangeRequest: return "CHANGE-REQUEST value is not 4 bytes";
    case DecodeError::kBadErrorCode: return "ERROR-CODE is shorter than 4 bytes or its class/number is out of range";
    case DecodeError::kBadUnknownAttributes: return "UNKNOWN-ATTRIBUTES length is odd";
    case DecodeError::kBadResponsePort: return "RESPONSE-PORT value is not 4 bytes";
    case DecodeError::kBadIntegrityLength:
      return "MESSAGE-INTEGRITY is not 20 bytes or MESSAGE-INTEGRITY-SHA256 is not 16..32 bytes in steps of 4";
    case DecodeError::kBadFingerprintLength: return "FINGERPRINT value is not 4 bytes";
    case DecodeError::kFingerprintMismatch: return "FINGERPRINT does not match the message's CRC-32";
    case DecodeError::kFingerprintNotLast: return "FINGERPRINT is followed by another attribute";
    case DecodeError::kValueTooLong: return "USERNAME, SOFTWARE, REALM, NONCE or error reason is longer than allowed";
    case DecodeError::kXorWithoutCookie: return "XOR-MAPPED/PEER/RELAYED-ADDRESS in a message without the magic cookie";
    case DecodeError::kBadChannelNumber: return "CHANNEL-NUMBER value is not 4 bytes";
    case DecodeError::kBadLifetime: return "LIFETIME value is not 4 bytes";
    case DecodeError::kBadRequestedTransport: return "REQUESTED-TRANSPORT value is not 4 bytes";
    case DecodeError::kBadAddressFamilyRequest:
      return "REQUESTED-/ADDITIONAL-ADDRESS-FAMILY is not 4 bytes or names a family other than IPv4 (1) or IPv6 (2)";
    case DecodeError::kBadEvenPort: return "EVEN-PORT value is not 1 byte";
    case DecodeError::kBadReservationToken: return "RESERVATION-TOKEN value is not 8 bytes";
    case DecodeError::kBadDontFragment: return "DONT-FRAGMENT has a value (it must be empty)";
    case DecodeError::kBadAddressErrorCode:
      return "ADDRESS-ERROR-CODE is shorter than 4 bytes or its family/class/number is out of range";
    case DecodeError::kBadIcmp: return "ICMP value is not 8 bytes";
    case DecodeError::kBadPasswordAlgorithms: return "PASSWORD-ALGORITHMS entries do not fill the value exactly";
    case DecodeError::kBadPasswordAlgorithm: return "PASSWORD-ALGORITHM is not exactly one algorithm entry";
    case DecodeError::kBadUserhash: return "USERHASH value is not 32 bytes";
  }
  return "unknown decode error";
}

std::uint16_t make_message_type(std::uint16_t method, MessageClass cls) {
  // The 12 method bits are split around the two class bits C0 (bit 4) and
  // C1 (bit 8): M0-M3 | C0 | M4-M6 | C1 | M7-M11 (RFC 8489 §5).
  const unsigned m = method & 0x0FFFu;
  const unsigned c = static_cast<unsigned>(cls) & 0x3u;
  return static_cast<std::uint16_t>((m & 0x000Fu) | ((m & 0x0070u) << 1) | ((m & 0x0F80u) << 2) |
                                    ((c & 0x1u) << 4) | ((c & 0x2u) << 7));
}

Result<MessageView, DecodeError> MessageView::decode(std::span<const std::uint8_t> datagram) {
  if (datagram.size() < kHeaderSize) return Unexpected{DecodeError::kTooShort};
  const std::uint16_t type = load_be16(datagram.data());
  if ((type & kFirstTwoBitsMask) != 0) return Unexpected{DecodeError::kNotStun};
  const std::size_t body_length = load_be16(datagram.data() + 2);
  if (body_length % 4 != 0) return Unexpected{DecodeError::kLengthNotMultipleOf4};
  if (body_length != datagram.size() - kHeaderSize) return Unexpected{DecodeError::kLengthMismatch};

  MessageView view;
  view.bytes_ = datagram;
  view.type_ = type;
  view.cookie_ = load_be32(datagram.data() + 4);
  std::memcpy(view.transaction_id_.data(), datagram.data() + 8, view.transaction_id_.size());
  const bool has_cookie = view.has_magic_cookie();

  // Both the body length and every attribute's padded size are multiples of
  // 4, so a value that fits always has room for its padding too.
  std::size_t offset = kHeaderSize;
  while (offset < datagram.size()) {
    const std::size_t remaining = datagram.size() - offset;
    if (remaining < kAttributeHeaderSize) return Unexpected{DecodeError::kAttributeTruncated};
    const std::uint16_t attr_type = load_be16(datagram.data() + offset);
    const std::size_t length = load_be16(datagram.data() + offset + 2);
    if (length > remaining - kAttributeHeaderSize) return Unexpected{DecodeError::kAttributeTruncated};
    if (view.count_ == kMaxAttributes) return Unexpected{DecodeError::kTooManyAttributes};
    const auto value = datagram.subspan(offset + kAttributeHeaderSize, length);

    if (attr_type == attr::kFingerprint) {
      if (length != kFingerprintSize) return Unexpected{DecodeError::kBadFingerprintLength};
      if (offset + kAttributeHeaderSize + kFingerprintSize != datagram.size())
        return Unexpected{DecodeError::kFingerprintNotLast};
      if (load_be32(value.data()) != detail::compute_fingerprint(datagram.first(offset)))
        return Unexpected{DecodeError::kFingerprintMismatch};
    } else if (const auto error = check_value(attr_type, value, has_cookie)) {
      return Unexpected{*error};
    }

    view.attrs_[view.count_++] = RawAttribute{attr_type, value, offset};
    offset += kAttributeHeaderSize + padded(length);
  }
  return view;
}

bool MessageView::looks_like_stun(std::span<const std::uint8_t> datagram) {
  if (datagram.size() < kHeaderSize) return false;
  if ((datagram[0] & 0xC0) != 0) return false;
  const std::size_t body_length = load_be16(datagram.data() + 2);
  return body_length % 4 == 0 && body_length == datagram.size() - kHeaderSize;
}

std::uint16_t MessageView::method_value() const {
  const unsigned t = type_;
  return static_cast<std::uint16_t>((t & 0x000Fu) | ((t & 0x00E0u) >> 1) | ((t & 0x3E00u) >> 2));
}

Method MessageView::method() const { return static_cast<Method>(method_value()); }

MessageClass MessageView::message_class() const {
  const unsigned t = type_;
  return static_cast<MessageClass>(((t >> 7) & 0x2u) | ((t >> 4) & 0x1u));
}

const RawAttribute* MessageView::find(std::uint16_t type) const {
  IntegrityHorizon horizon;
  for (const RawAttribute& attribute : attributes()) {
    if (attribute.type == type && horizon.visible(attribute.type)) return &attribute;
    horizon.pass(attribute.type);
  }
  return nullptr;
}

namespace {
std::optional<Endpoint> plain_address(const MessageView& message, std::uint16_t type) {
  const RawAttribute* attribute = message.find(type);
  if (attribute == nullptr) return std::nullopt;
  return detail::read_address_value(attribute->value, nullptr);
}
}  // namespace

std::optional<Endpoint> MessageView::xor_mapped_address() const {
  const RawAttribute* attribute = find(attr::kXorMappedAddress);
  if (attribute == nullptr) return std::nullopt;
  const auto mask = detail::make_xor_mask(cookie_, transaction_id_);
  return detail::read_address_value(attribute->value, &mask);
}

std::optional<Endpoint> MessageView::mapped_address() const { return plain_address(*this, attr::kMappedAddress); }
std::optional<Endpoint> MessageView::source_address() const { return plain_address(*this, attr::kSourceAddress); }
std::optional<Endpoint> MessageView::changed_address() const { return plain_address(*this, attr::kChangedAddress); }
std::optional<Endpoint> MessageView::response_origin() const { return plain_address(*this, attr::kResponseOrigin); }
std::optional<Endpoint> MessageView::other_address() const { return plain_address(*this, attr::kOtherAddress); }

std::optional<Endpoint> MessageView::reflexive_address() const {
  if (auto address = xor_mapped_address()) return address;
  return mapped_address();
}

std::optional<Endpoint> MessageView::alternate_address() const {
  if (auto address = other_address()) return address;
  return changed_address();
}

std::optional<ChangeRequestValue> MessageView::change_request() const {
  const RawAttribute* attribute = find(attr::kChangeRequest);
  if (attribute == nullptr) return std::nullopt;
  const std::uint32_t flags = load_be32(attribute->value.data());
  return ChangeRequestValue{(flags & 0x4u) != 0, (flags & 0x2u) != 0};
}

std::optional<std::uint16_t> MessageView::response_port() const {
  const RawAttribute* attribute = find(attr::kResponsePort);
  if (attribute == nullptr) return std::nullopt;
  return load_be16(attribute->value.data());
}

std::optional<ErrorCodeValue> MessageView::error_code() const {
  const RawAttribute* attribute = find(attr::kErrorCode);
  if (attribute == nullptr) return std::nullopt;
  const auto& value = attribute->value;
  const auto reason = value.subspan(kErrorCodePrefixSize);
  return ErrorCodeValue{(value[2] & 0x07) * 100 + value[3],
                        std::string_view(reinterpret_cast<const char*>(reason.data()), reason.size())};
}

std::optional<std::string_view> MessageView::username() const { return as_text(find(attr::kUsername)); }
std::optional<std::string_view> MessageView::software() const { return as_text(find(attr::kSoftware)); }
std::optional<std::string_view> MessageView::realm() const { return as_text(find(attr::kRealm)); }
std::optional<std::string_view> MessageView::nonce() const { return as_text(find(attr::kNonce)); }

std::size_t MessageView::unknown_attributes(std::span<std::uint16_t> out) const {
  const RawAttribute* attribute = find(attr::kUnknownAttributes);
  if (attribute == nullptr) return 0;
  const std::size_t count = std::min(out.size(), attribute->value.size() / 2);
  for (std::size_t i = 0; i < count; ++i) out[i] = load_be16(attribute->value.data() + 2 * i);
  return count;
}

std::size_t MessageView::unknown_comprehension_required(std::span<std::uint16_t> out) const {
  std::size_t count = 0;
  IntegrityHorizon horizon;
  for (const RawAttribute& attribute : attributes()) {
    const std::uint16_t type = attribute.type;
    const bool unknown = horizon.visible(type) && attr::is_comprehension_required(type) && !attr::is_known(type);
    horizon.pass(type);
    if (!unknown || count == out.size()) continue;
    // A 420 response lists each type once, however often it was repeated.
    if (std::find(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(count), type) ==
        out.begin() + static_cast<std::ptrdiff_t>(count))
      out[count++] = type;
  }
  return count;
}

bool MessageView::has_fingerprint() const { return find(attr::kFingerprint) != nullptr; }
bool MessageView::has_message_integrity() const { return find(attr::kMessageIntegrity) != nullptr; }
bool MessageView::has_message_integrity_sha256() const { return find(attr::kMessageIntegritySha256) != nullptr; }

namespace {
bool verify_integrity(const MessageView& message, std::uint16_t type, detail::HmacAlgorithm algorithm,
                      std::span<const std::uint8_t> key) {
  const RawAttribute* attribute = message.find(type);
  if (attribute == nullptr) return false;
  // The length the sender hashed ends with the integrity attribute itself;
  // both kinds of value are multiples of 4, so there is no padding to add.
  const std::size_t end = attribute->offset + kAttributeHeaderSize + attribute->value.size();
  return detail::message_hmac_matches(algorithm, key, message.bytes().first(attribute->offset),
                                      static_cast<std::uint16_t>(end - kHeaderSize), attribute->value);
}
}  // namespace

bool MessageView::verify_message_integrity(std::span<const std::uint8_t> key) const {
  return verify_integrity(*this, attr::kMessageIntegrity, detail::HmacAlgorithm::kSha1, key);
}

bool MessageView::verify_message_integrity_sha256(std::span<const std::uint8_t> key) const {
  return verify_integrity(*this, attr::kMessageIntegritySha256, detail::HmacAlgorithm::kSha256, key);
}

}  // namespace natpunch::stun

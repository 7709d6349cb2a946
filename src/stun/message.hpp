#pragma once
// STUN message codec (RFC 8489, RFC 5780, classic RFC 3489 attributes, and
// the TURN methods and attributes of RFC 8656: turn_attributes.hpp reads and
// writes their values, password_algorithms.hpp the RFC 8489 §9.2 ones).
//
// Decoding is zero-allocation: MessageView points into the caller's buffer
// and validates the whole message (header, every attribute's framing, and the
// value format of every attribute it knows) before handing it out. Malformed
// input yields a DecodeError naming the first problem; it never throws and
// never reads outside the buffer.
//
// Encoding writes into a caller-provided buffer (MessageBuilder); running out
// of room is reported, not undefined.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "core/endpoint.hpp"
#include "core/result.hpp"

namespace natpunch::stun {

inline constexpr std::uint32_t kMagicCookie = 0x2112A442;
inline constexpr std::size_t kHeaderSize = 20;
inline constexpr std::uint32_t kFingerprintXor = 0x5354554e;
inline constexpr std::size_t kMaxAttributes = 48;

// The 96-bit RFC 8489 transaction id. Classic RFC 3489 messages have a
// 128-bit id whose first 32 bits sit where the magic cookie is; MessageView
// exposes those as cookie() so both kinds round-trip.
using TransactionId = std::array<std::uint8_t, 12>;

enum class Method : std::uint16_t {
  Binding = 0x001,
  // TURN (RFC 8656 §17)
  Allocate = 0x003,
  Refresh = 0x004,
  Send = 0x006,  // indication only
  Data = 0x007,  // indication only
  CreatePermission = 0x008,
  ChannelBind = 0x009,
};
enum class MessageClass : std::uint8_t { Request = 0, Indication = 1, SuccessResponse = 2, ErrorResponse = 3 };

namespace attr {
inline constexpr std::uint16_t kMappedAddress = 0x0001;
inline constexpr std::uint16_t kResponseAddress = 0x0002;  // RFC 3489, deprecated
inline constexpr std::uint16_t kChangeRequest = 0x0003;
inline constexpr std::uint16_t kSourceAddress = 0x0004;   // RFC 3489
inline constexpr std::uint16_t kChangedAddress = 0x0005;  // RFC 3489
inline constexpr std::uint16_t kUsername = 0x0006;
inline constexpr std::uint16_t kPassword = 0x0007;  // RFC 3489
inline constexpr std::uint16_t kMessageIntegrity = 0x0008;
inline constexpr std::uint16_t kErrorCode = 0x0009;
inline constexpr std::uint16_t kUnknownAttributes = 0x000A;
inline constexpr std::uint16_t kReflectedFrom = 0x000B;  // RFC 3489
inline constexpr std::uint16_t kChannelNumber = 0x000C;  // TURN (RFC 8656 §18)
inline constexpr std::uint16_t kLifetime = 0x000D;       // TURN
inline constexpr std::uint16_t kXorPeerAddress = 0x0012;  // TURN
inline constexpr std::uint16_t kData = 0x0013;            // TURN
inline constexpr std::uint16_t kRealm = 0x0014;
inline constexpr std::uint16_t kNonce = 0x0015;
inline constexpr std::uint16_t kXorRelayedAddress = 0x0016;       // TURN
inline constexpr std::uint16_t kRequestedAddressFamily = 0x0017;  // TURN
inline constexpr std::uint16_t kEvenPort = 0x0018;                // TURN
inline constexpr std::uint16_t kRequestedTransport = 0x0019;      // TURN
inline constexpr std::uint16_t kDontFragment = 0x001A;            // TURN
inline constexpr std::uint16_t kMessageIntegritySha256 = 0x001C;
inline constexpr std::uint16_t kPasswordAlgorithm = 0x001D;
inline constexpr std::uint16_t kUserhash = 0x001E;
inline constexpr std::uint16_t kXorMappedAddress = 0x0020;
inline constexpr std::uint16_t kReservationToken = 0x0022;  // TURN
inline constexpr std::uint16_t kPadding = 0x0026;
inline constexpr std::uint16_t kResponsePort = 0x0027;
inline constexpr std::uint16_t kAdditionalAddressFamily = 0x8000;  // TURN
inline constexpr std::uint16_t kAddressErrorCode = 0x8001;         // TURN
inline constexpr std::uint16_t kPasswordAlgorithms = 0x8002;
inline constexpr std::uint16_t kAlternateDomain = 0x8003;
inline constexpr std::uint16_t kIcmp = 0x8004;  // TURN
inline constexpr std::uint16_t kSoftware = 0x8022;
inline constexpr std::uint16_t kAlternateServer = 0x8023;
inline constexpr std::uint16_t kFingerprint = 0x8028;
inline constexpr std::uint16_t kResponseOrigin = 0x802B;
inline constexpr std::uint16_t kOtherAddress = 0x802C;

// Comprehension-required range (RFC 8489 §14): 0x0000-0x7FFF.
constexpr bool is_comprehension_required(std::uint16_t type) { return type < 0x8000; }
// True for every attribute this codec understands.
bool is_known(std::uint16_t type);
}  // namespace attr

enum class DecodeError : std::uint8_t {
  kTooShort,                // fewer than 20 bytes
  kNotStun,                 // first two bits not zero
  kLengthNotMultipleOf4,    // header length field not a multiple of 4
  kLengthMismatch,          // header length != bytes after the header
  kAttributeTruncated,      // attribute header or value runs past the end
  kTooManyAttributes,       // more than kMaxAttributes
  kBadAddressFamily,        // address attribute family not 1 or 2
  kBadAddressLength,        // address attribute length wrong for its family
  kBadChangeRequest,        // CHANGE-REQUEST not 4 bytes
  kBadErrorCode,            // ERROR-CODE too short, class not 3..6, number > 99
  kBadUnknownAttributes,    // UNKNOWN-ATTRIBUTES length odd
  kBadResponsePort,         // RESPONSE-PORT not 4 bytes
  kBadIntegrityLength,      // MESSAGE-INTEGRITY not 20 / -SHA256 not 16..32 by 4
  kBadFingerprintLength,    // FINGERPRINT not 4 bytes
  kFingerprintMismatch,     // FINGERPRINT value wrong
  kFingerprintNotLast,      // FINGERPRINT followed by another attribute
  kValueTooLong,            // USERNAME > 513, SOFTWARE/REALM > 763, NONCE > 763 bytes
  kXorWithoutCookie,        // an XOR-...-ADDRESS in a message without the magic cookie
  kBadChannelNumber,        // CHANNEL-NUMBER not 4 bytes
  kBadLifetime,             // LIFETIME not 4 bytes
  kBadRequestedTransport,   // REQUESTED-TRANSPORT not 4 bytes
  kBadAddressFamilyRequest, // REQUESTED-/ADDITIONAL-ADDRESS-FAMILY not 4 bytes or family not 1/2
  kBadEvenPort,             // EVEN-PORT not 1 byte
  kBadReservationToken,     // RESERVATION-TOKEN not 8 bytes
  kBadDontFragment,         // DONT-FRAGMENT not empty
  kBadAddressErrorCode,     // ADDRESS-ERROR-CODE shorter than 4 bytes or class/number out of range
  kBadIcmp,                 // ICMP not 8 bytes
  kBadPasswordAlgorithms,   // PASSWORD-ALGORITHMS entries do not fill the value exactly
  kBadPasswordAlgorithm,    // PASSWORD-ALGORITHM not exactly one entry
  kBadUserhash,             // USERHASH not 32 bytes
};
std::string_view to_string(DecodeError e);

struct RawAttribute {
  std::uint16_t type = 0;
  std::span<const std::uint8_t> value;  // unpadded, points into the message buffer
  std::size_t offset = 0;               // offset of the attribute header in the message
};

struct ErrorCodeValue {
  int code = 0;  // 300..699
  std::string_view reason;
};

struct ChangeRequestValue {
  bool change_ip = false;
  bool change_port = false;
};

// A validated, non-owning view of one STUN message. Valid as long as the
// buffer passed to decode() is.
class MessageView {
 public:
  static Result<MessageView, DecodeError> decode(std::span<const std::uint8_t> datagram);
  // Cheap check used by demultiplexers: could this be STUN at all?
  static bool looks_like_stun(std::span<const std::uint8_t> datagram);

  std::uint16_t message_type() const { return type_; }
  Method method() const;                 // 12-bit method value
  std::uint16_t method_value() const;    // raw 12-bit method
  MessageClass message_class() const;
  std::uint32_t cookie() const { return cookie_; }
  bool has_magic_cookie() const { return cookie_ == kMagicCookie; }
  const TransactionId& transaction_id() const { return transaction_id_; }
  std::span<const std::uint8_t> bytes() const { return bytes_; }

  std::span<const RawAttribute> attributes() const { return {attrs_.data(), count_}; }
  // First attribute of this type, before any MESSAGE-INTEGRITY(-SHA256)
  // except FINGERPRINT (RFC 8489 §14.5: later attributes are ignored).
  const RawAttribute* find(std::uint16_t type) const;

  // Typed accessors (values already validated by decode()).
  std::optional<Endpoint> xor_mapped_address() const;
  std::optional<Endpoint> mapped_address() const;
  std::optional<Endpoint> source_address() const;
  std::optional<Endpoint> changed_address() const;
  std::optional<Endpoint> response_origin() const;
  std::optional<Endpoint> other_address() const;
  // XOR-MAPPED-ADDRESS if present, else MAPPED-ADDRESS.
  std::optional<Endpoint> reflexive_address() const;
  // OTHER-ADDRESS if present, else CHANGED-ADDRESS.
  std::optional<Endpoint> alternate_address() const;
  std::optional<ChangeRequestValue> change_request() const;
  std::optional<std::uint16_t> response_port() const;
  std::optional<ErrorCodeValue> error_code() const;
  std::optional<std::string_view> username() const;
  std::optional<std::string_view> software() const;
  std::optional<std::string_view> realm() const;
  std::optional<std::string_view> nonce() const;
  // Attribute types listed in UNKNOWN-ATTRIBUTES (up to out.size()).
  std::size_t unknown_attributes(std::span<std::uint16_t> out) const;
  // Comprehension-required attributes this codec does not know (up to out.size()).
  std::size_t unknown_comprehension_required(std::span<std::uint16_t> out) const;

  bool has_fingerprint() const;
  bool has_message_integrity() const;
  bool has_message_integrity_sha256() const;
  // HMAC checks per RFC 8489 §14.5/§14.6. `key` is the short-term password
  // or the long-term key (see long_term_key()). False if absent.
  bool verify_message_integrity(std::span<const std::uint8_t> key) const;
  bool verify_message_integrity_sha256(std::span<const std::uint8_t> key) const;

 private:
  std::span<const std::uint8_t> bytes_;
  std::uint16_t type_ = 0;
  std::uint32_t cookie_ = 0;
  TransactionId transaction_id_{};
  std::array<RawAttribute, kMaxAttributes> attrs_{};
  std::size_t count_ = 0;
};

// Long-term credential key: MD5(username ":" realm ":" password) (RFC 8489 §9.2.2).
std::array<std::uint8_t, 16> long_term_key(std::string_view username, std::string_view realm,
                                           std::string_view password);

// Builds one message into a caller-owned buffer. Each add_* returns false
// (and the builder stays failed) when the buffer is too small.
class MessageBuilder {
 public:
  MessageBuilder(std::span<std::uint8_t> buffer, Method method, MessageClass cls, const TransactionId& id,
                 std::uint32_t cookie = kMagicCookie);

  bool add_raw(std::uint16_t type, std::span<const std::uint8_t> value);
  bool add_string(std::uint16_t type, std::string_view value);
  // MAPPED-ADDRESS, SOURCE-ADDRESS, CHANGED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS ...
  bool add_address(std::uint16_t type, const Endpoint& endpoint);
  // XOR-MAPPED-ADDRESS, using this message's cookie and transaction id.
  bool add_xor_address(std::uint16_t type, const Endpoint& endpoint);
  // A 4-byte value (LIFETIME, ...); turn_attributes.hpp names the TURN ones.
  bool add_u32(std::uint16_t type, std::uint32_t value);
  bool add_change_request(bool change_ip, bool change_port);
  bool add_response_port(std::uint16_t port);
  bool add_error_code(int code, std::string_view reason);
  bool add_unknown_attributes(std::span<const std::uint16_t> types);
  bool add_padding(std::size_t length);
  // Must come after every attribute it protects; FINGERPRINT may follow.
  bool add_message_integrity(std::span<const std::uint8_t> key);
  bool add_message_integrity_sha256(std::span<const std::uint8_t> key);
  // Always the last attribute.
  bool add_fingerprint();

  bool ok() const { return ok_; }
  std::size_t size() const { return size_; }
  // The finished message (header length already up to date after every add).
  std::span<const std::uint8_t> bytes() const { return {buffer_.data(), size_}; }

 private:
  bool begin_attribute(std::uint16_t type, std::size_t length, std::uint8_t** value_out);
  void set_length(std::size_t body_length);

  std::span<std::uint8_t> buffer_;
  std::size_t size_ = 0;
  std::uint32_t cookie_;
  TransactionId id_;
  bool ok_ = true;
};

// Helpers for the 14-bit message type encoding.
std::uint16_t make_message_type(std::uint16_t method, MessageClass cls);

}  // namespace natpunch::stun

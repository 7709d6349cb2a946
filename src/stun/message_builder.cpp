// Encoding side of the STUN codec: MessageBuilder writes a message straight
// into a caller-owned buffer, never allocating.
#include <cstring>

#include "stun/address_attribute.hpp"
#include "core/bytes.hpp"
#include "stun/integrity.hpp"
#include "stun/message.hpp"
#include "stun/text_limits.hpp"

namespace natpunch::stun {
namespace {

constexpr std::size_t kAttributeHeaderSize = 4;
// The header length field is 16 bits and always a multiple of 4.
constexpr std::size_t kMaxBodyLength = 0xFFFC;
constexpr std::size_t kMaxAttributeLength = 0xFFFF;

constexpr std::size_t padded(std::size_t length) { return (length + 3) & ~std::size_t{3}; }

}  // namespace

MessageBuilder::MessageBuilder(std::span<std::uint8_t> buffer, Method method, MessageClass cls,
                               const TransactionId& id, std::uint32_t cookie)
    : buffer_(buffer), cookie_(cookie), id_(id) {
  if (buffer_.size() < kHeaderSize) {
    ok_ = false;
    return;
  }
  std::uint8_t* header = buffer_.data();
  store_be16(header, make_message_type(static_cast<std::uint16_t>(method), cls));
  store_be32(header + 4, cookie_);
  std::memcpy(header + 8, id_.data(), id_.size());
  size_ = kHeaderSize;
  set_length(0);
}

void MessageBuilder::set_length(std::size_t body_length) {
  store_be16(buffer_.data() + 2, static_cast<std::uint16_t>(body_length));
}

bool MessageBuilder::begin_attribute(std::uint16_t type, std::size_t length, std::uint8_t** value_out) {
  if (!ok_) return false;
  const std::size_t total = kAttributeHeaderSize + padded(length);
  if (length > kMaxAttributeLength || total > buffer_.size() - size_ ||
      total > kMaxBodyLength - (size_ - kHeaderSize)) {
    ok_ = false;
    return false;
  }
  std::uint8_t* attribute = buffer_.data() + size_;
  store_be16(attribute, type);
  store_be16(attribute + 2, static_cast<std::uint16_t>(length));
  // Zero padding keeps output deterministic (it is covered by HMAC/CRC).
  std::memset(attribute + kAttributeHeaderSize + length, 0, padded(length) - length);
  *value_out = attribute + kAttributeHeaderSize;
  size_ += total;
  set_length(size_ - kHeaderSize);
  return true;
}

bool MessageBuilder::add_raw(std::uint16_t type, std::span<const std::uint8_t> value) {
  std::uint8_t* out = nullptr;
  if (!begin_attribute(type, value.size(), &out)) return false;
  if (!value.empty()) std::memcpy(out, value.data(), value.size());
  return true;
}

bool MessageBuilder::add_string(std::uint16_t type, std::string_view value) {
  // Refuse what our own decoder (and any RFC 8489 peer) would reject.
  if (value.size() > detail::max_text_bytes(type)) {
    ok_ = false;
    return false;
  }
  return add_raw(type, std::span(reinterpret_cast<const std::uint8_t*>(value.data()), value.size()));
}

bool MessageBuilder::add_address(std::uint16_t type, const Endpoint& endpoint) {
  std::uint8_t* out = nullptr;
  if (!begin_attribute(type, detail::address_value_size(endpoint), &out)) return false;
  detail::write_address_value(out, endpoint, nullptr);
  return true;
}

bool MessageBuilder::add_xor_address(std::uint16_t type, const Endpoint& endpoint) {
  // Classic RFC 3489 messages have no cookie to XOR with; a peer could not
  // decode the result, so fail loudly instead of writing garbage.
  if (cookie_ != kMagicCookie) {
    ok_ = false;
    return false;
  }
  std::uint8_t* out = nullptr;
  if (!begin_attribute(type, detail::address_value_size(endpoint), &out)) return false;
  const auto mask = detail::make_xor_mask(cookie_, id_);
  detail::write_address_value(out, endpoint, &mask);
  return true;
}

bool MessageBuilder::add_u32(std::uint16_t type, std::uint32_t value) {
  std::uint8_t* out = nullptr;
  if (!begin_attribute(type, 4, &out)) return false;
  store_be32(out, value);
  return true;
}

bool MessageBuilder::add_change_request(bool change_ip, bool change_port) {
  std::uint8_t* out = nullptr;
  if (!begin_attribute(attr::kChangeRequest, 4, &out)) return false;
  store_be32(out, (change_ip ? 0x4u : 0u) | (change_port ? 0x2u : 0u));
  return true;
}

bool MessageBuilder::add_response_port(std::uint16_t port) {
  std::uint8_t* out = nullptr;
  if (!begin_attribute(attr::kResponsePort, 4, &out)) return false;
  store_be16(out, port);
  store_be16(out + 2, 0);
  return true;
}

bool MessageBuilder::add_error_code(int code, std::string_view reason) {
  if (code < 300 || code > 699 || reason.size() > detail::kMaxTextBytes) {
    ok_ = false;
    return false;
  }
  std::uint8_t* out = nullptr;
  if (!begin_attribute(attr::kErrorCode, 4 + reason.size(), &out)) return false;
  out[0] = 0;
  out[1] = 0;
  out[2] = static_cast<std::uint8_t>(code / 100);
  out[3] = static_cast<std::uint8_t>(code % 100);
  if (!reason.empty()) std::memcpy(out + 4, reason.data(), reason.size());
  return true;
}

bool MessageBuilder::add_unknown_attributes(std::span<const std::uint16_t> types) {
  std::uint8_t* out = nullptr;
  if (!begin_attribute(attr::kUnknownAttributes, 2 * types.size(), &out)) return false;
  for (std::size_t i = 0; i < types.size(); ++i) store_be16(out + 2 * i, types[i]);
  return true;
}

bool MessageBuilder::add_padding(std::size_t length) {
  std::uint8_t* out = nullptr;
  if (!begin_attribute(attr::kPadding, length, &out)) return false;
  if (length != 0) std::memset(out, 0, length);
  return true;
}

namespace {
// `message` ends with a just-reserved integrity attribute, so its header
// length already covers that attribute as RFC 8489 §14.5 requires; the HMAC
// covers everything before the attribute and is written into its value.
bool sign(std::span<std::uint8_t> message, detail::HmacAlgorithm algorithm, std::span<const std::uint8_t> key) {
  const std::size_t mac_size = detail::hmac_size(algorithm);
  const std::size_t prefix = message.size() - kAttributeHeaderSize - mac_size;
  return detail::compute_message_hmac(algorithm, key, message.first(prefix),
                                      static_cast<std::uint16_t>(message.size() - kHeaderSize),
                                      message.subspan(prefix + kAttributeHeaderSize, mac_size));
}
}  // namespace

bool MessageBuilder::add_message_integrity(std::span<const std::uint8_t> key) {
  std::uint8_t* out = nullptr;
  if (!begin_attribute(attr::kMessageIntegrity, detail::kSha1Size, &out)) return false;
  ok_ = sign(buffer_.first(size_), detail::HmacAlgorithm::kSha1, key);
  return ok_;
}

bool MessageBuilder::add_message_integrity_sha256(std::span<const std::uint8_t> key) {
  std::uint8_t* out = nullptr;
  if (!begin_attribute(attr::kMessageIntegritySha256, detail::kSha256Size, &out)) return false;
  ok_ = sign(buffer_.first(size_), detail::HmacAlgorithm::kSha256, key);
  return ok_;
}

bool MessageBuilder::add_fingerprint() {
  std::uint8_t* out = nullptr;
  if (!begin_attribute(attr::kFingerprint, 4, &out)) return false;
  store_be32(out, detail::compute_fingerprint(buffer_.first(size_ - kAttributeHeaderSize - 4)));
  return true;
}

}  // namespace natpunch::stun

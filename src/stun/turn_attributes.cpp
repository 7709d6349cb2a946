#include "stun/turn_attributes.hpp"

#include "stun/address_attribute.hpp"
#include "core/bytes.hpp"

namespace natpunch::stun {
namespace {

constexpr std::size_t kFourBytes = 4;
constexpr std::size_t kReservationTokenSize = 8;
constexpr std::size_t kIcmpSize = 8;
constexpr std::uint8_t kFamilyIpv4 = 0x01;
constexpr std::uint8_t kFamilyIpv6 = 0x02;

std::optional<Endpoint> xor_address(const MessageView& message, std::uint16_t type) {
  const RawAttribute* attribute = message.find(type);
  if (attribute == nullptr) return std::nullopt;
  const auto mask = detail::make_xor_mask(message.cookie(), message.transaction_id());
  return detail::read_address_value(attribute->value, &mask);
}

}  // namespace

std::optional<Endpoint> xor_peer_address(const MessageView& message) {
  return xor_address(message, attr::kXorPeerAddress);
}

std::optional<Endpoint> xor_relayed_address(const MessageView& message) {
  return xor_address(message, attr::kXorRelayedAddress);
}

std::optional<std::uint32_t> lifetime_seconds(const MessageView& message) {
  const RawAttribute* attribute = message.find(attr::kLifetime);
  if (attribute == nullptr) return std::nullopt;
  return load_be32(attribute->value.data());
}

std::optional<std::uint16_t> channel_number(const MessageView& message) {
  const RawAttribute* attribute = message.find(attr::kChannelNumber);
  if (attribute == nullptr) return std::nullopt;
  return load_be16(attribute->value.data());
}

std::optional<std::uint8_t> requested_transport(const MessageView& message) {
  const RawAttribute* attribute = message.find(attr::kRequestedTransport);
  if (attribute == nullptr) return std::nullopt;
  return attribute->value[0];
}

std::optional<std::span<const std::uint8_t>> data_value(const MessageView& message) {
  const RawAttribute* attribute = message.find(attr::kData);
  if (attribute == nullptr) return std::nullopt;
  return attribute->value;
}

bool add_xor_peer_address(MessageBuilder& builder, const Endpoint& peer) {
  return builder.add_xor_address(attr::kXorPeerAddress, peer);
}

bool add_lifetime(MessageBuilder& builder, std::uint32_t seconds) { return builder.add_u32(attr::kLifetime, seconds); }

bool add_channel_number(MessageBuilder& builder, std::uint16_t channel) {
  // Number, then 16 reserved bits (RFC 8656 §18.1).
  return builder.add_u32(attr::kChannelNumber, std::uint32_t{channel} << 16);
}

bool add_requested_transport(MessageBuilder& builder, std::uint8_t protocol) {
  // Protocol, then 24 reserved bits (RFC 8656 §18.7).
  return builder.add_u32(attr::kRequestedTransport, std::uint32_t{protocol} << 24);
}

bool add_data(MessageBuilder& builder, std::span<const std::uint8_t> payload) {
  return builder.add_raw(attr::kData, payload);
}

namespace detail {

bool is_turn_attribute(std::uint16_t type) {
  switch (type) {
    case attr::kChannelNumber:
    case attr::kLifetime:
    case attr::kXorPeerAddress:
    case attr::kData:
    case attr::kXorRelayedAddress:
    case attr::kRequestedAddressFamily:
    case attr::kEvenPort:
    case attr::kRequestedTransport:
    case attr::kDontFragment:
    case attr::kReservationToken:
    case attr::kAdditionalAddressFamily:
    case attr::kAddressErrorCode:
    case attr::kIcmp:
      return true;
    default:
      return false;
  }
}

std::optional<DecodeError> check_turn_value(std::uint16_t type, std::span<const std::uint8_t> value) {
  switch (type) {
    case attr::kChannelNumber:
      if (value.size() != kFourBytes) return DecodeError::kBadChannelNumber;
      return std::nullopt;
    case attr::kLifetime:
      if (value.size() != kFourBytes) return DecodeError::kBadLifetime;
      return std::nullopt;
    case attr::kRequestedTransport:
      if (value.size() != kFourBytes) return DecodeError::kBadRequestedTransport;
      return std::nullopt;
    case attr::kRequestedAddressFamily:
    case attr::kAdditionalAddressFamily:
      if (value.size() != kFourBytes || (value[0] != kFamilyIpv4 && value[0] != kFamilyIpv6))
        return DecodeError::kBadAddressFamilyRequest;
      return std::nullopt;
    case attr::kEvenPort:
      if (value.size() != 1) return DecodeError::kBadEvenPort;
      return std::nullopt;
    case attr::kReservationToken:
      if (value.size() != kReservationTokenSize) return DecodeError::kBadReservationToken;
      return std::nullopt;
    case attr::kDontFragment:
      if (!value.empty()) return DecodeError::kBadDontFragment;
      return std::nullopt;
    case attr::kAddressErrorCode: {
      // Family, reserved, class (low 3 bits), number, reason (RFC 8656 §18.14).
      if (value.size() < kFourBytes) return DecodeError::kBadAddressErrorCode;
      const int error_class = value[2] & 0x07;
      if ((value[0] != kFamilyIpv4 && value[0] != kFamilyIpv6) || error_class < 3 || error_class > 6 || value[3] > 99)
        return DecodeError::kBadAddressErrorCode;
      return std::nullopt;
    }
    case attr::kIcmp:
      if (value.size() != kIcmpSize) return DecodeError::kBadIcmp;
      return std::nullopt;
    default:
      return std::nullopt;  // DATA is opaque; the XOR addresses are checked by the codec
  }
}

}  // namespace detail
}  // namespace natpunch::stun

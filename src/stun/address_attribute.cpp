#include "stun/address_attribute.hpp"

#include <cstring>

#include "core/bytes.hpp"

namespace natpunch::stun::detail {
namespace {

constexpr std::uint8_t kFamilyIpv4 = 0x01;
constexpr std::uint8_t kFamilyIpv6 = 0x02;
constexpr std::size_t kPrefixSize = 4;  // reserved, family, port
constexpr std::size_t kIpv4ValueSize = kPrefixSize + 4;
constexpr std::size_t kIpv6ValueSize = kPrefixSize + 16;

}  // namespace

XorMask make_xor_mask(std::uint32_t cookie, const TransactionId& id) {
  XorMask mask{};
  store_be32(mask.data(), cookie);
  std::memcpy(mask.data() + 4, id.data(), id.size());
  return mask;
}

std::optional<DecodeError> check_address_value(std::span<const std::uint8_t> value) {
  // Too short to even hold the family: the length is what is wrong.
  if (value.size() < kPrefixSize) return DecodeError::kBadAddressLength;
  const std::uint8_t family = value[1];
  if (family == kFamilyIpv4) {
    if (value.size() != kIpv4ValueSize) return DecodeError::kBadAddressLength;
  } else if (family == kFamilyIpv6) {
    if (value.size() != kIpv6ValueSize) return DecodeError::kBadAddressLength;
  } else {
    return DecodeError::kBadAddressFamily;
  }
  return std::nullopt;
}

Endpoint read_address_value(std::span<const std::uint8_t> value, const XorMask* mask) {
  const std::size_t address_size = value[1] == kFamilyIpv4 ? 4 : 16;
  std::array<std::uint8_t, 16> address{};
  std::uint8_t port_bytes[2] = {value[2], value[3]};
  std::memcpy(address.data(), value.data() + kPrefixSize, address_size);
  if (mask != nullptr) {
    port_bytes[0] ^= (*mask)[0];
    port_bytes[1] ^= (*mask)[1];
    for (std::size_t i = 0; i < address_size; ++i) address[i] ^= (*mask)[i];
  }
  Endpoint endpoint;
  endpoint.port = load_be16(port_bytes);
  endpoint.address = address_size == 4 ? IpAddress::v4({address[0], address[1], address[2], address[3]})
                                       : IpAddress::v6(address);
  return endpoint;
}

std::size_t address_value_size(const Endpoint& endpoint) {
  return endpoint.address.is_v4() ? kIpv4ValueSize : kIpv6ValueSize;
}

void write_address_value(std::uint8_t* out, const Endpoint& endpoint, const XorMask* mask) {
  const std::size_t address_size = endpoint.address.size();
  out[0] = 0;
  out[1] = endpoint.address.is_v4() ? kFamilyIpv4 : kFamilyIpv6;
  store_be16(out + 2, endpoint.port);
  std::memcpy(out + kPrefixSize, endpoint.address.data(), address_size);
  if (mask != nullptr) {
    out[2] ^= (*mask)[0];
    out[3] ^= (*mask)[1];
    for (std::size_t i = 0; i < address_size; ++i) out[kPrefixSize + i] ^= (*mask)[i];
  }
}

}  // namespace natpunch::stun::detail

#pragma once
// Value encoding shared by every STUN address attribute (MAPPED-ADDRESS and
// its RFC 3489/5780 relatives, and the XOR-obfuscated XOR-MAPPED-ADDRESS):
//   0: reserved, 1: family (1 = IPv4, 2 = IPv6), 2-3: port, 4-: address.
#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "core/endpoint.hpp"
#include "stun/message.hpp"

namespace natpunch::stun::detail {

// The bytes XOR-MAPPED-ADDRESS is XORed with: magic cookie followed by the
// transaction id (RFC 8489 §14.2). The port uses the first two bytes, IPv4
// the first four, IPv6 all sixteen.
using XorMask = std::array<std::uint8_t, 16>;
XorMask make_xor_mask(std::uint32_t cookie, const TransactionId& id);

// nullopt when the value is well formed, else the error decode() reports.
std::optional<DecodeError> check_address_value(std::span<const std::uint8_t> value);

// Only for values check_address_value() accepted.
Endpoint read_address_value(std::span<const std::uint8_t> value, const XorMask* mask);

std::size_t address_value_size(const Endpoint& endpoint);
// Writes address_value_size(endpoint) bytes.
void write_address_value(std::uint8_t* out, const Endpoint& endpoint, const XorMask* mask);

}  // namespace natpunch::stun::detail

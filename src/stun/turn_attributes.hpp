#pragma once
// The values of TURN's attributes (RFC 8656 §18): typed readers over a
// decoded MessageView and writers onto a MessageBuilder. MessageView::decode()
// has already checked every value's format (check_turn_value), so the
// readers only interpret. Meaning is left to the TURN layer (src/turn/):
// a CHANNEL-NUMBER outside 0x4000-0x4FFF decodes, the client rejects it.
#include <cstdint>
#include <optional>
#include <span>

#include "core/endpoint.hpp"
#include "stun/message.hpp"

namespace natpunch::stun {

// REQUESTED-TRANSPORT's protocol number for UDP relaying (the only one of
// RFC 8656; TCP relaying is RFC 6062).
inline constexpr std::uint8_t kProtocolUdp = 17;

std::optional<Endpoint> xor_peer_address(const MessageView& message);
std::optional<Endpoint> xor_relayed_address(const MessageView& message);
std::optional<std::uint32_t> lifetime_seconds(const MessageView& message);
std::optional<std::uint16_t> channel_number(const MessageView& message);
std::optional<std::uint8_t> requested_transport(const MessageView& message);
// The DATA attribute's bytes (empty span when present but empty).
std::optional<std::span<const std::uint8_t>> data_value(const MessageView& message);

// Writers; each returns MessageBuilder's verdict (false: out of room).
bool add_xor_peer_address(MessageBuilder& builder, const Endpoint& peer);
bool add_lifetime(MessageBuilder& builder, std::uint32_t seconds);
bool add_channel_number(MessageBuilder& builder, std::uint16_t channel);
bool add_requested_transport(MessageBuilder& builder, std::uint8_t protocol);
bool add_data(MessageBuilder& builder, std::span<const std::uint8_t> payload);

namespace detail {
// True for the attribute types RFC 8656 defines.
bool is_turn_attribute(std::uint16_t type);
// The value format of a TURN attribute other than the XOR addresses
// (checked like XOR-MAPPED-ADDRESS); nullopt when well formed or not TURN's.
std::optional<DecodeError> check_turn_value(std::uint16_t type, std::span<const std::uint8_t> value);
}  // namespace detail

}  // namespace natpunch::stun

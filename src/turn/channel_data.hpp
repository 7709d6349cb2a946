#pragma once
// TURN ChannelData messages (RFC 8656 §12.4): a 4-byte header (channel
// number, length) and the application data, the cheap way to relay once a
// channel is bound. Over TCP and TLS the message is padded to a multiple of
// 4 bytes (§12.5); over UDP padding is allowed but not needed.
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace natpunch::turn {

inline constexpr std::size_t kChannelDataHeaderSize = 4;
// Channel numbers a client may bind (RFC 8656 §12: 0x5000-0x7FFF reserved).
inline constexpr std::uint16_t kMinChannel = 0x4000;
inline constexpr std::uint16_t kMaxChannel = 0x4FFF;
constexpr bool is_valid_channel(std::uint16_t channel) { return channel >= kMinChannel && channel <= kMaxChannel; }

struct ChannelDataView {
  std::uint16_t channel = 0;
  std::span<const std::uint8_t> payload;  // points into the decoded buffer
};

enum class ChannelDataError : std::uint8_t {
  kTooShort,          // fewer than the 4 header bytes
  kNotChannelData,    // first two bits are not 01 (STUN is 00)
  kBadChannelNumber,  // outside 0x4000-0x4FFF
  kTruncated,         // the length field claims more bytes than there are
  kTrailingBytes,     // more than the payload and its at most 3 bytes of padding
};
std::string_view to_string(ChannelDataError error);

// First two bits 01: the one test a TURN client needs to tell ChannelData
// from STUN (00) on the same socket or stream.
bool looks_like_channel_data(std::span<const std::uint8_t> bytes);

// Decodes one ChannelData message filling `bytes` (a UDP datagram, or one
// frame of stream_framer.hpp), padding included.
Result<ChannelDataView, ChannelDataError> decode_channel_data(std::span<const std::uint8_t> bytes);

// Appends one ChannelData message to `out`; `pad` for TCP and TLS. The
// payload must fit the 16-bit length field (false otherwise, nothing added).
bool append_channel_data(std::uint16_t channel, std::span<const std::uint8_t> payload, bool pad,
                         std::vector<std::uint8_t>& out);

}  // namespace natpunch::turn

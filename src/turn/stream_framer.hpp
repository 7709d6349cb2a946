#pragma once
// Cuts a TURN byte stream (TCP or TLS, RFC 8656 §12.5 / RFC 8489 §6.2.2)
// into its messages: STUN messages (first two bits 00; 20-byte header plus
// the header's length) and ChannelData messages (01, channel 0x4000-0x4FFF;
// 4-byte header plus the length padded to 4). Anything else means the
// stream is lost: there is no way to find the next message boundary, so
// the connection must close.
//
// Sans-IO: the caller pushes whatever the socket (or TLS) delivered, in any
// pieces, and takes whole frames out. Memory stays bounded by one push plus
// one partial frame (at most 20 + 65535 bytes).
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/stream_buffer.hpp"

namespace natpunch::turn {

enum class FrameKind : std::uint8_t { kStun, kChannelData };

struct Frame {
  FrameKind kind = FrameKind::kStun;
  // The whole message (ChannelData padding included); valid until the next
  // push() or next().
  std::span<const std::uint8_t> bytes;
};

enum class FramingError : std::uint8_t {
  kNotTurn,           // first two bits 10 or 11: neither STUN nor ChannelData
  kBadStunLength,     // STUN header length not a multiple of 4
  kBadChannelNumber,  // ChannelData header with a channel above 0x4FFF
};
std::string_view to_string(FramingError error);

class StreamFramer {
 public:
  void push(std::span<const std::uint8_t> bytes);
  // The next complete frame, or nullopt when more bytes are needed or the
  // stream is broken (error()).
  std::optional<Frame> next();
  const std::optional<FramingError>& error() const { return error_; }
  // The byte at the broken frame's start (for the error message).
  std::uint8_t offending_byte() const { return offending_byte_; }
  // Bytes of an incomplete frame held back.
  std::size_t buffered() const { return buffer_.size(); }

 private:
  StreamBuffer buffer_;
  std::optional<FramingError> error_;
  std::uint8_t offending_byte_ = 0;
};

}  // namespace natpunch::turn

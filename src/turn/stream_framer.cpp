#include "turn/stream_framer.hpp"

#include "core/bytes.hpp"

namespace natpunch::turn {
namespace {

constexpr std::size_t kStunHeaderSize = 20;
constexpr std::size_t kChannelHeaderSize = 4;
constexpr std::size_t kMaxChannelNumber = 0x4FFF;
constexpr std::size_t padded(std::size_t length) { return (length + 3) & ~std::size_t{3}; }

}  // namespace

std::string_view to_string(FramingError error) {
  switch (error) {
    case FramingError::kNotTurn: return "a message starts with bits other than 00 (STUN) or 01 (ChannelData)";
    case FramingError::kBadStunLength: return "a STUN header's length is not a multiple of 4";
    case FramingError::kBadChannelNumber: return "a ChannelData header names a reserved channel (above 0x4FFF)";
  }
  return "unknown framing error";
}

void StreamFramer::push(std::span<const std::uint8_t> bytes) {
  if (!error_) buffer_.push(bytes);
}

std::optional<Frame> StreamFramer::next() {
  if (error_) return std::nullopt;
  const std::span<const std::uint8_t> pending = buffer_.pending();
  if (pending.size() < kChannelHeaderSize) return std::nullopt;
  Frame frame;
  std::size_t message_size = 0;
  std::size_t consumed = 0;
  switch (pending[0] >> 6) {
    case 0: {
      if (pending.size() < kStunHeaderSize) return std::nullopt;
      const std::size_t length = load_be16(pending.data() + 2);
      if (length % 4 != 0) {
        error_ = FramingError::kBadStunLength;
        offending_byte_ = pending[0];
        return std::nullopt;
      }
      frame.kind = FrameKind::kStun;
      message_size = consumed = kStunHeaderSize + length;
      break;
    }
    case 1: {
      // Channels above 0x4FFF are reserved (RFC 8656 §12): on a stream such
      // a header is as good as garbage (an SSH banner starts with 01 bits).
      if (load_be16(pending.data()) > kMaxChannelNumber) {
        error_ = FramingError::kBadChannelNumber;
        offending_byte_ = pending[0];
        return std::nullopt;
      }
      const std::size_t length = load_be16(pending.data() + 2);
      frame.kind = FrameKind::kChannelData;
      message_size = kChannelHeaderSize + length;
      consumed = kChannelHeaderSize + padded(length);
      break;
    }
    default:
      error_ = FramingError::kNotTurn;
      offending_byte_ = pending[0];
      return std::nullopt;
  }
  if (pending.size() < consumed) return std::nullopt;
  frame.bytes = pending.first(message_size);
  buffer_.consume(consumed);
  return frame;
}

}  // namespace natpunch::turn

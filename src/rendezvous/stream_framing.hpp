#pragma once
// Rendezvous messages over a byte stream (TCP, or TLS over TCP: for
// networks that block UDP). Each message travels as one frame: a 2-byte
// big-endian length, then the message exactly as it would be sent in a
// UDP datagram (rendezvous/messages.hpp). The length is 1..max_frame
// (kMaxMessageSize by default); anything else breaks the stream (there is
// no way to find the next frame), and the connection must close.
//
// Sans-IO: push whatever the socket (or TLS) delivered, in any pieces, and
// take whole messages out. Memory stays bounded by one push plus one
// partial frame.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/stream_buffer.hpp"
#include "rendezvous/messages.hpp"

namespace natpunch::rendezvous {

inline constexpr std::size_t kFrameHeaderSize = 2;

// Appends `message` as one frame (false, and nothing appended, when it is
// empty or longer than 65535 bytes).
bool append_frame(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> message);

enum class StreamFramingError : std::uint8_t {
  kEmptyFrame,  // length 0
  kTooLong,     // longer than max_frame
};
std::string_view to_string(StreamFramingError error);

class StreamDeframer {
 public:
  explicit StreamDeframer(std::size_t max_frame = kMaxMessageSize) : max_frame_(max_frame) {}

  void push(std::span<const std::uint8_t> bytes);
  // The next whole message (valid until the next push() or next()), or
  // nullopt when more bytes are needed or the stream is broken (error()).
  std::optional<std::span<const std::uint8_t>> next();
  const std::optional<StreamFramingError>& error() const { return error_; }
  // Bytes of an incomplete frame held back (0: the stream is at a frame
  // boundary).
  std::size_t buffered() const { return buffer_.size(); }

 private:
  std::size_t max_frame_;
  StreamBuffer buffer_;
  std::optional<StreamFramingError> error_;
};

}  // namespace natpunch::rendezvous

#include "rendezvous/stream_framing.hpp"

#include "core/bytes.hpp"

namespace natpunch::rendezvous {

bool append_frame(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> message) {
  if (message.empty() || message.size() > 0xffff) return false;
  out.push_back(static_cast<std::uint8_t>(message.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(message.size() & 0xff));
  out.insert(out.end(), message.begin(), message.end());
  return true;
}

std::string_view to_string(StreamFramingError error) {
  switch (error) {
    case StreamFramingError::kEmptyFrame: return "a frame of length 0";
    case StreamFramingError::kTooLong: return "a frame longer than the largest rendezvous message";
  }
  return "unknown framing error";
}

void StreamDeframer::push(std::span<const std::uint8_t> bytes) {
  if (!error_) buffer_.push(bytes);
}

std::optional<std::span<const std::uint8_t>> StreamDeframer::next() {
  if (error_) return std::nullopt;
  const auto pending = buffer_.pending();
  if (pending.size() < kFrameHeaderSize) return std::nullopt;
  const std::size_t length = load_be16(pending.data());
  if (length == 0) error_ = StreamFramingError::kEmptyFrame;
  if (length > max_frame_) error_ = StreamFramingError::kTooLong;
  if (error_) return std::nullopt;
  if (pending.size() < kFrameHeaderSize + length) return std::nullopt;
  buffer_.consume(kFrameHeaderSize + length);
  return pending.subspan(kFrameHeaderSize, length);
}

}  // namespace natpunch::rendezvous

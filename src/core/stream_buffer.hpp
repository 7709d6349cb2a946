#pragma once
// The bytes of a byte stream (TCP, TLS plaintext) not yet cut into
// messages: the framers (turn/stream_framer.hpp, rendezvous/
// stream_framing.hpp) push what arrived, look at pending(), and consume()
// whole messages. What was consumed is dropped at the next push, so the
// buffer holds at most one partial message plus one push.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace natpunch {

class StreamBuffer {
 public:
  void push(std::span<const std::uint8_t> bytes) {
    if (bytes.empty()) return;
    if (start_ > 0) {
      buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(start_));
      start_ = 0;
    }
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  }
  // Valid until the next push().
  std::span<const std::uint8_t> pending() const { return {buffer_.data() + start_, buffer_.size() - start_}; }
  void consume(std::size_t n) { start_ += n; }
  std::size_t size() const { return buffer_.size() - start_; }

 private:
  std::vector<std::uint8_t> buffer_;
  std::size_t start_ = 0;  // first byte not yet consumed
};

}  // namespace natpunch

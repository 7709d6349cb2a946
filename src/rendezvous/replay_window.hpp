#pragma once
// Sliding-window replay protection for authenticated datagrams (the IPsec
// scheme, RFC 4303 §3.4.3): accepts each sequence number at most once, and
// tolerates reordering within the last 64 numbers. Call accept() only after
// the MAC verified, so forged datagrams cannot move the window.
#include <cstdint>

namespace natpunch::rendezvous {

class ReplayWindow {
 public:
  static constexpr std::uint64_t kWidth = 64;

  bool accept(std::uint64_t sequence) {
    if (sequence == 0) return false;  // senders start at 1
    if (sequence > highest_) {
      const std::uint64_t shift = sequence - highest_;
      seen_ = shift >= kWidth ? 0 : seen_ << shift;
      seen_ |= 1;
      highest_ = sequence;
      return true;
    }
    const std::uint64_t age = highest_ - sequence;
    if (age >= kWidth) return false;
    const std::uint64_t bit = std::uint64_t{1} << age;
    if (seen_ & bit) return false;
    seen_ |= bit;
    return true;
  }
  std::uint64_t highest() const { return highest_; }

 private:
  std::uint64_t highest_ = 0;
  std::uint64_t seen_ = 0;  // bit i: highest_ - i was seen
};

}  // namespace natpunch::rendezvous

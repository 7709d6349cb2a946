#pragma once
// A short byte string kept inline, spilling to the heap only when longer
// than N: for what the server keeps per registration (its NatInfo as the
// wire carries it, ~30 bytes for a phone), where a vector's 24 bytes plus a
// heap block would cost more than the bytes themselves.
#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <span>

namespace natpunch::rendezvous {

template <std::size_t N>
class SmallBytes {
 public:
  void assign(std::span<const std::uint8_t> bytes) {
    size_ = static_cast<std::uint16_t>(std::min<std::size_t>(bytes.size(), 0xffff));
    if (size_ <= N) {
      heap_.reset();
      std::copy_n(bytes.begin(), size_, inline_.begin());
    } else {
      heap_ = std::make_unique<std::uint8_t[]>(size_);
      std::copy_n(bytes.begin(), size_, heap_.get());
    }
  }
  std::span<const std::uint8_t> view() const {
    return {size_ <= N ? inline_.data() : heap_.get(), size_};
  }

 private:
  std::unique_ptr<std::uint8_t[]> heap_;
  std::uint16_t size_ = 0;
  std::array<std::uint8_t, N> inline_{};
};

}  // namespace natpunch::rendezvous

#pragma once
// The bytes of one datagram a machine asks its driver to send. Up to
// kInlineCapacity bytes live inside the object (probes, STUN bindings,
// keepalives: no heap allocation per packet on the hot paths); larger
// payloads live in a vector that is moved in, not copied.
#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace natpunch {

class DatagramBytes {
 public:
  static constexpr std::size_t kInlineCapacity = 64;

  DatagramBytes() = default;
  DatagramBytes(std::span<const std::uint8_t> bytes) { assign(bytes); }  // NOLINT: implicit on purpose
  DatagramBytes(std::vector<std::uint8_t>&& bytes) {                      // NOLINT: implicit on purpose
    if (bytes.size() <= kInlineCapacity) {
      assign(bytes);
    } else {
      size_ = bytes.size();
      heap_ = std::move(bytes);
    }
  }
  DatagramBytes(const std::vector<std::uint8_t>& bytes) : DatagramBytes(std::span<const std::uint8_t>(bytes)) {}  // NOLINT

  void assign(std::span<const std::uint8_t> bytes) {
    size_ = bytes.size();
    if (size_ <= kInlineCapacity) {
      heap_.clear();
      std::copy(bytes.begin(), bytes.end(), inline_.begin());
    } else {
      heap_.assign(bytes.begin(), bytes.end());
    }
  }

  const std::uint8_t* data() const { return size_ <= kInlineCapacity ? inline_.data() : heap_.data(); }
  std::uint8_t* data() { return size_ <= kInlineCapacity ? inline_.data() : heap_.data(); }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<const std::uint8_t> span() const { return {data(), size_}; }
  operator std::span<const std::uint8_t>() const { return span(); }  // NOLINT: implicit on purpose
  const std::uint8_t* begin() const { return data(); }
  const std::uint8_t* end() const { return data() + size_; }
  std::uint8_t operator[](std::size_t i) const { return data()[i]; }
  std::vector<std::uint8_t> to_vector() const { return {begin(), end()}; }

  friend bool operator==(const DatagramBytes& a, const DatagramBytes& b) {
    return std::ranges::equal(a.span(), b.span());
  }

 private:
  std::size_t size_ = 0;
  std::array<std::uint8_t, kInlineCapacity> inline_{};
  std::vector<std::uint8_t> heap_;
};

}  // namespace natpunch

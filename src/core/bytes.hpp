#pragma once
// Bounds-checked big-endian reading and writing: the one byte reader and
// writer of every wire codec.
// The reader never throws and never reads past its span: every read reports
// failure instead, so a decoder can map it to its own error.
#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace natpunch {

class ByteReader {
 public:
  explicit ByteReader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  std::size_t remaining() const { return bytes_.size() - offset_; }
  std::size_t offset() const { return offset_; }

  bool u8(std::uint8_t& out) {
    if (remaining() < 1) return false;
    out = bytes_[offset_++];
    return true;
  }
  bool u16(std::uint16_t& out) { return big_endian(out, 2); }
  bool u32(std::uint32_t& out) { return big_endian(out, 4); }
  bool u64(std::uint64_t& out) { return big_endian(out, 8); }

  template <std::size_t N>
  bool array(std::array<std::uint8_t, N>& out) {
    return copy(out.data(), N);
  }
  bool copy(std::uint8_t* out, std::size_t n) {
    if (remaining() < n) return false;
    if (n > 0) std::memcpy(out, bytes_.data() + offset_, n);
    offset_ += n;
    return true;
  }
  // A view of the next n bytes (consumed); empty optional-like false on short input.
  bool view(std::size_t n, std::span<const std::uint8_t>& out) {
    if (remaining() < n) return false;
    out = bytes_.subspan(offset_, n);
    offset_ += n;
    return true;
  }

 private:
  template <class T>
  bool big_endian(T& out, std::size_t n) {
    if (remaining() < n) return false;
    T v = 0;
    for (std::size_t i = 0; i < n; ++i) v = static_cast<T>((v << 8) | bytes_[offset_ + i]);
    offset_ += n;
    out = v;
    return true;
  }

  std::span<const std::uint8_t> bytes_;
  std::size_t offset_ = 0;
};

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<std::uint8_t>& out) : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { big_endian(v, 2); }
  void u32(std::uint32_t v) { big_endian(v, 4); }
  void u64(std::uint64_t v) { big_endian(v, 8); }
  void bytes(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void zeros(std::size_t n) { out_.insert(out_.end(), n, 0); }

 private:
  template <class T>
  void big_endian(T v, std::size_t n) {
    for (std::size_t i = n; i-- > 0;) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  std::vector<std::uint8_t>& out_;
};

}  // namespace natpunch

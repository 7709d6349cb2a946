#pragma once
// Big-endian (network order) bytes: the one byte reader and writer of every
// wire codec, and the in-place loads and stores under them.
// - ByteReader: bounds-checked sequential reads; never throws and never
//   reads past its span: every read reports failure instead, so a decoder
//   can map it to its own error.
// - ByteWriter: sequential appends to a vector.
// - load_be16/32/64, store_be16/32/64: at a fixed offset of a buffer whose
//   length the caller has checked (codecs with a fixed layout that write in
//   place: STUN, probes, measurement messages, IPv4 headers). Byte-wise, so
//   alignment-safe on any pointer into a datagram.
#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace natpunch {

template <class T>
constexpr T load_be(const std::uint8_t* p) {
  T v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | p[i]);
  return v;
}
template <class T>
constexpr void store_be(std::uint8_t* p, T v) {
  for (std::size_t i = sizeof(T); i-- > 0; v = static_cast<T>(v >> 8)) p[i] = static_cast<std::uint8_t>(v);
}
constexpr std::uint16_t load_be16(const std::uint8_t* p) { return load_be<std::uint16_t>(p); }
constexpr std::uint32_t load_be32(const std::uint8_t* p) { return load_be<std::uint32_t>(p); }
constexpr std::uint64_t load_be64(const std::uint8_t* p) { return load_be<std::uint64_t>(p); }
constexpr void store_be16(std::uint8_t* p, std::uint16_t v) { store_be(p, v); }
constexpr void store_be32(std::uint8_t* p, std::uint32_t v) { store_be(p, v); }
constexpr void store_be64(std::uint8_t* p, std::uint64_t v) { store_be(p, v); }

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
  bool u16(std::uint16_t& out) { return big_endian(out); }
  bool u32(std::uint32_t& out) { return big_endian(out); }
  bool u64(std::uint64_t& out) { return big_endian(out); }

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
  bool big_endian(T& out) {
    if (remaining() < sizeof(T)) return false;
    out = load_be<T>(bytes_.data() + offset_);
    offset_ += sizeof(T);
    return true;
  }

  std::span<const std::uint8_t> bytes_;
  std::size_t offset_ = 0;
};

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<std::uint8_t>& out) : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { big_endian(v); }
  void u32(std::uint32_t v) { big_endian(v); }
  void u64(std::uint64_t v) { big_endian(v); }
  void bytes(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void zeros(std::size_t n) { out_.insert(out_.end(), n, 0); }

 private:
  template <class T>
  void big_endian(T v) {
    std::array<std::uint8_t, sizeof(T)> b;
    store_be(b.data(), v);
    out_.insert(out_.end(), b.begin(), b.end());
  }
  std::vector<std::uint8_t>& out_;
};

}  // namespace natpunch

#pragma once
// The set of external ports an allocator has handed out and not yet had
// back. A bitmap: allocators ask "is it free", "first free from here" and
// "the n-th free one" for every new mapping, and 8 KiB answers all three
// with word operations instead of walking ports one by one.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace natpunch::nat {

// Inclusive port range; min <= max.
struct PortRange {
  std::uint16_t min = 0;
  std::uint16_t max = 0;

  std::size_t size() const { return std::size_t{max} - min + 1; }
  bool contains(std::uint16_t port) const { return port >= min && port <= max; }
};

class PortSet {
 public:
  bool contains(std::uint16_t port) const { return (words_[port >> 6] >> (port & 63)) & 1U; }
  void insert(std::uint16_t port);
  void erase(std::uint16_t port);
  std::size_t size() const { return size_; }

  // The first port not in the set at or after `from` within `range`,
  // wrapping around to range.min; nullopt when every port of the range is in
  // the set. `from` outside the range starts the search at range.min.
  std::optional<std::uint16_t> next_free(PortRange range, std::uint16_t from) const;
  // The n-th (0-based, ascending) port of `range` not in the set.
  std::optional<std::uint16_t> nth_free(PortRange range, std::size_t n) const;

 private:
  std::optional<std::uint16_t> first_free(std::uint32_t lo, std::uint32_t hi) const;

  std::array<std::uint64_t, 65536 / 64> words_{};
  std::size_t size_ = 0;
};

}  // namespace natpunch::nat

#include "nat/port_set.hpp"

#include <bit>

namespace natpunch::nat {
namespace {

// Bits lo..hi (0..63, lo <= hi) of a word.
std::uint64_t bit_span(std::uint32_t lo, std::uint32_t hi) {
  const std::uint64_t upto_hi = hi == 63 ? ~std::uint64_t{0} : (std::uint64_t{1} << (hi + 1)) - 1;
  return upto_hi & (~std::uint64_t{0} << lo);
}

}  // namespace

void PortSet::insert(std::uint16_t port) {
  std::uint64_t& word = words_[port >> 6];
  const std::uint64_t bit = std::uint64_t{1} << (port & 63);
  if ((word & bit) == 0) ++size_;
  word |= bit;
}

void PortSet::erase(std::uint16_t port) {
  std::uint64_t& word = words_[port >> 6];
  const std::uint64_t bit = std::uint64_t{1} << (port & 63);
  if ((word & bit) != 0) --size_;
  word &= ~bit;
}

std::optional<std::uint16_t> PortSet::first_free(std::uint32_t lo, std::uint32_t hi) const {
  const std::uint32_t last_word = hi >> 6;
  for (std::uint32_t w = lo >> 6; w <= last_word; ++w) {
    const std::uint32_t from_bit = w == (lo >> 6) ? lo & 63 : 0;
    const std::uint32_t to_bit = w == last_word ? hi & 63 : 63;
    const std::uint64_t free = ~words_[w] & bit_span(from_bit, to_bit);
    if (free != 0) return static_cast<std::uint16_t>(w * 64 + static_cast<std::uint32_t>(std::countr_zero(free)));
  }
  return std::nullopt;
}

std::optional<std::uint16_t> PortSet::next_free(PortRange range, std::uint16_t from) const {
  if (!range.contains(from)) from = range.min;
  if (auto port = first_free(from, range.max)) return port;
  if (from == range.min) return std::nullopt;
  return first_free(range.min, from - 1U);
}

std::optional<std::uint16_t> PortSet::nth_free(PortRange range, std::size_t n) const {
  const std::uint32_t first_word = range.min >> 6;
  const std::uint32_t last_word = range.max >> 6;
  for (std::uint32_t w = first_word; w <= last_word; ++w) {
    const std::uint32_t from_bit = w == first_word ? range.min & 63 : 0;
    const std::uint32_t to_bit = w == last_word ? range.max & 63 : 63;
    std::uint64_t free = ~words_[w] & bit_span(from_bit, to_bit);
    const auto in_word = static_cast<std::size_t>(std::popcount(free));
    if (n >= in_word) {
      n -= in_word;
      continue;
    }
    for (; n > 0; --n) free &= free - 1;  // drop the lowest n free ports of this word
    return static_cast<std::uint16_t>(w * 64 + static_cast<std::uint32_t>(std::countr_zero(free)));
  }
  return std::nullopt;
}

}  // namespace natpunch::nat

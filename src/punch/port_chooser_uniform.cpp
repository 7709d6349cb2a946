#include "punch/port_chooser_uniform.hpp"

#include <algorithm>
#include <utility>

namespace natpunch::punch {

std::uint32_t uniform_below(Rng& rng, std::uint32_t span) {
  for (;;) {
    const std::uint64_t product = (rng.next_u64() >> 32) * span;
    const auto low = static_cast<std::uint32_t>(product);
    if (low >= span || low >= (std::uint32_t{0} - span) % span) return static_cast<std::uint32_t>(product >> 32);
  }
}

UniformPortChooser::UniformPortChooser(std::uint16_t min, std::uint16_t max, Repeats repeats)
    : min_(std::min(min, max)), span_(std::uint32_t{std::max(min, max)} - std::min(min, max) + 1), repeats_(repeats) {}

std::optional<std::uint16_t> UniformPortChooser::next(Rng& rng) {
  if (repeats_ == Repeats::Allowed) return static_cast<std::uint16_t>(min_ + uniform_below(rng, span_));
  if (!dense_ && 2 * drawn_count_ < span_) {
    for (;;) {
      const std::uint32_t offset = uniform_below(rng, span_);
      if (drawn_[offset]) continue;
      drawn_[offset] = true;
      ++drawn_count_;
      return static_cast<std::uint16_t>(min_ + offset);
    }
  }
  if (!dense_) {
    dense_ = true;
    ports_.reserve(span_ - drawn_count_);
    for (std::uint32_t i = 0; i < span_; ++i)
      if (!drawn_[i]) ports_.push_back(static_cast<std::uint16_t>(min_ + i));
    left_ = static_cast<std::uint32_t>(ports_.size());
  }
  if (left_ == 0) return std::nullopt;
  const std::uint32_t pick = uniform_below(rng, left_);
  --left_;
  std::swap(ports_[pick], ports_[left_]);
  return ports_[left_];
}

}  // namespace natpunch::punch

#include "punch/port_chooser_window.hpp"

#include <algorithm>
#include <utility>

#include "punch/port_chooser_uniform.hpp"

namespace natpunch::punch {

std::pair<std::uint16_t, std::uint16_t> WindowPortChooser::window_of(const nat::WindowSpec& spec, std::uint16_t port) {
  const std::int64_t size = std::max<std::uint32_t>(spec.size, 1);
  const std::int64_t offset = spec.offset % size;
  // The window [k * size + offset, k * size + offset + size - 1] holding port.
  std::int64_t first = port - ((port - offset) % size + size) % size;
  const std::int64_t last = std::min<std::int64_t>(first + size - 1, 65535);
  first = std::max<std::int64_t>(first, 1);
  return {static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(last)};
}

WindowPortChooser::WindowPortChooser(const nat::WindowSpec& spec, std::uint16_t observed) : order_(spec.order) {
  const auto [first, last] = window_of(spec, observed);
  first_ = first;
  size_ = std::uint32_t{last} - first + 1;
  observed_offset_ = observed >= first && observed <= last ? observed - first : 0;
}

std::optional<std::uint16_t> WindowPortChooser::next(Rng& rng) {
  if (step_ >= size_) return std::nullopt;
  if (order_ == nat::WindowOrder::InOrder) {
    const std::uint32_t offset = (observed_offset_ + 1 + step_++) % size_;
    return static_cast<std::uint16_t>(first_ + offset);
  }
  if (offsets_.empty()) {
    offsets_.resize(size_);
    for (std::uint32_t i = 0; i < size_; ++i) offsets_[i] = static_cast<std::uint16_t>(i);
  }
  const std::uint32_t left = size_ - step_++;
  const std::uint32_t pick = uniform_below(rng, left);
  std::swap(offsets_[pick], offsets_[left - 1]);
  return static_cast<std::uint16_t>(first_ + offsets_[left - 1]);
}

}  // namespace natpunch::punch

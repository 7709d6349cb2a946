#include "punch/port_chooser_block.hpp"

#include <utility>

#include "punch/port_chooser_uniform.hpp"

namespace natpunch::punch {

BlockPortChooser::BlockPortChooser(std::uint32_t block_size, std::uint16_t min, std::uint16_t max)
    : block_size_(block_size == 0 ? 1 : block_size) {
  const std::uint32_t first = (std::uint32_t{min} + block_size_ - 1) / block_size_;
  const std::uint32_t end = (std::uint32_t{max} + 1) / block_size_;
  for (std::uint32_t b = first; b < end; ++b) blocks_.push_back(b);
}

std::optional<std::uint16_t> BlockPortChooser::next(Rng& rng) {
  if (!shuffled_) {
    shuffled_ = true;
    for (std::size_t i = blocks_.size(); i > 1; --i)
      std::swap(blocks_[i - 1], blocks_[uniform_below(rng, static_cast<std::uint32_t>(i))]);
  }
  if (blocks_.empty() || offset_ >= block_size_) return std::nullopt;
  const auto port = static_cast<std::uint16_t>(blocks_[index_] * block_size_ + offset_);
  if (++index_ == blocks_.size()) {
    index_ = 0;
    ++offset_;
  }
  return port;
}

}  // namespace natpunch::punch

#include "punch/port_chooser_block.hpp"

#include <utility>

#include "punch/port_chooser_uniform.hpp"

namespace natpunch::punch {

BlockPortChooser::BlockPortChooser(std::uint32_t block_size, std::uint16_t min, std::uint16_t max, std::uint32_t offset)
    : block_size_(block_size == 0 ? 1 : block_size) {
  offset %= block_size_;
  // The first start >= min that is offset modulo the block size.
  std::uint32_t start = min + (offset + block_size_ - min % block_size_) % block_size_;
  for (; start + block_size_ - 1 <= max; start += block_size_) blocks_.push_back(start);
}

std::optional<std::uint16_t> BlockPortChooser::next(Rng& rng) {
  if (!shuffled_) {
    shuffled_ = true;
    for (std::size_t i = blocks_.size(); i > 1; --i)
      std::swap(blocks_[i - 1], blocks_[uniform_below(rng, static_cast<std::uint32_t>(i))]);
  }
  if (blocks_.empty() || offset_ >= block_size_) return std::nullopt;
  const auto port = static_cast<std::uint16_t>(blocks_[index_] + offset_);
  if (++index_ == blocks_.size()) {
    index_ = 0;
    ++offset_;
  }
  return port;
}

}  // namespace natpunch::punch

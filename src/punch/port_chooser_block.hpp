#pragma once
// For 256-port block allocators (KPN, Lebara; Table II): a subscriber's
// mappings are the first ports of a block that starts at a multiple of the
// block size, taken in order from the block's start. So at any moment the
// peer's open ports are offsets 0, 1, ..., k-1 of some unknown block, and
// offset 0 is open as soon as the peer has any mapping at all.
//
// The order is therefore offset-major: offset 0 of every block (all
// multiples of 256, in a random block order), then offset 1 of every block
// in the same block order, and so on. After B blocks x (m) probes every
// port at offsets < m has been tried, so a peer holding m mappings is hit
// within m rounds, whichever block it holds. Block-major order (block after
// block, each swept from its start) would find the peer's block only with
// probability 1/B per 256 probes. No port is tried twice. Blocks start at
// multiples of the block size plus `offset` (windows, nat::WindowSpec).
#include <vector>

#include "punch/port_chooser.hpp"

namespace natpunch::punch {

class BlockPortChooser final : public PortChooser {
 public:
  // Whole blocks of `block_size` ports inside [min, max] (as BlockSpec),
  // starting at k * block_size + offset.
  BlockPortChooser(std::uint32_t block_size, std::uint16_t min, std::uint16_t max, std::uint32_t offset = 0);
  std::optional<std::uint16_t> next(Rng& rng) override;

 private:
  std::uint32_t block_size_;
  std::vector<std::uint32_t> blocks_;  // first ports of the blocks, shuffled on first use
  bool shuffled_ = false;
  std::uint32_t offset_ = 0;
  std::size_t index_ = 0;
};

}  // namespace natpunch::punch

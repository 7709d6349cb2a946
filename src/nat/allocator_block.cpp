#include "nat/allocator_block.hpp"

#include <algorithm>

namespace natpunch::nat {
namespace {

constexpr std::uint32_t kNotFree = 0xffffffffU;

// std heap functions build a max-heap; reversing the order keeps the
// earliest hold end on top.
constexpr auto ends_later = [](const auto& a, const auto& b) { return a.until > b.until; };

}  // namespace

BlockAllocator::BlockAllocator(const BlockSpec& spec)
    : block_size_(spec.block_size),
      first_block_number_((std::uint32_t{spec.min} + spec.block_size - 1) / spec.block_size),
      background_subscribers_(spec.background_subscribers),
      background_hold_(spec.background_hold) {
  const std::uint32_t end_block_number = (std::uint32_t{spec.max} + 1) / spec.block_size;
  const std::uint32_t count = end_block_number > first_block_number_ ? end_block_number - first_block_number_ : 0;
  blocks_.resize(count);
  free_blocks_.reserve(count);
  free_position_.resize(count);
  for (std::uint32_t b = 0; b < count; ++b) {
    free_position_[b] = b;
    free_blocks_.push_back(b);
  }
}

std::size_t BlockAllocator::background_block_count() const {
  return static_cast<std::size_t>(
      std::count_if(blocks_.begin(), blocks_.end(), [](const Block& b) { return b.holder == kBackground; }));
}

bool BlockAllocator::held_by_background(std::uint16_t port) const {
  auto block = block_of(port);
  return block && blocks_[*block].holder == kBackground;
}

std::optional<std::uint32_t> BlockAllocator::block_of(std::uint16_t port) const {
  const std::uint32_t number = port / block_size_;
  if (number < first_block_number_ || number - first_block_number_ >= blocks_.size()) return std::nullopt;
  return number - first_block_number_;
}

std::uint16_t BlockAllocator::port_at(std::uint32_t block, std::uint32_t offset) const {
  return static_cast<std::uint16_t>((first_block_number_ + block) * block_size_ + offset);
}

std::optional<std::uint32_t> BlockAllocator::take_free_block(std::uint32_t holder, Rng& rng) {
  if (free_blocks_.empty()) return std::nullopt;
  const auto pick = static_cast<std::size_t>(rng.uniform(0, free_blocks_.size() - 1));
  const std::uint32_t block = free_blocks_[pick];
  free_blocks_[pick] = free_blocks_.back();
  free_position_[free_blocks_[pick]] = static_cast<std::uint32_t>(pick);
  free_blocks_.pop_back();
  free_position_[block] = kNotFree;
  blocks_[block].holder = holder;
  return block;
}

void BlockAllocator::give_back(std::uint32_t block) {
  Block& b = blocks_[block];
  b.holder = kNobody;
  if (b.ports_in_use != 0 || free_position_[block] != kNotFree) return;
  free_position_[block] = static_cast<std::uint32_t>(free_blocks_.size());
  free_blocks_.push_back(block);
}

void BlockAllocator::start_background(TimePoint now, Rng& rng) {
  background_started_ = true;
  background_block_.assign(background_subscribers_, kNoBlock);
  background_heap_.reserve(background_subscribers_);
  const auto hold_ticks = static_cast<std::uint64_t>(background_hold_.count());
  for (std::uint32_t s = 0; s < background_subscribers_; ++s) {
    if (auto block = take_free_block(kBackground, rng)) background_block_[s] = *block;
    // Staggered: at the start, each has already held its block for a random
    // part of its hold, as in a NAT that has been running for a while.
    const Duration remaining{static_cast<Duration::rep>(rng.uniform(1, hold_ticks))};
    background_heap_.push_back({now + remaining, s});
  }
  std::make_heap(background_heap_.begin(), background_heap_.end(), ends_later);
}

void BlockAllocator::advance_background(TimePoint now, Rng& rng) {
  if (!background_started_) start_background(now, rng);
  while (!background_heap_.empty() && background_heap_.front().until <= now) {
    std::pop_heap(background_heap_.begin(), background_heap_.end(), ends_later);
    BackgroundHold& hold = background_heap_.back();
    std::uint32_t& block = background_block_[hold.subscriber];
    if (block != kNoBlock) give_back(block);
    block = take_free_block(kBackground, rng).value_or(kNoBlock);
    // Hold changes that fell between two calls are skipped rather than
    // replayed: only the state at `now` is observable.
    const auto missed = (now - hold.until) / background_hold_;
    hold.until += background_hold_ * (missed + 1);
    std::push_heap(background_heap_.begin(), background_heap_.end(), ends_later);
  }
}

std::optional<std::uint16_t> BlockAllocator::allocate(TimePoint now, const PortRequest& request, Rng& rng) {
  if (background_subscribers_ > 0) advance_background(now, rng);
  if (request.subscriber >= holdings_.size()) holdings_.resize(std::size_t{request.subscriber} + 1);
  Holding& holding = holdings_[request.subscriber];

  if (holding.block != kNoBlock && holding.next_offset == block_size_) {
    // Used up: the block goes back once the mappings in it have timed out.
    give_back(holding.block);
    holding.block = kNoBlock;
  }
  if (holding.block == kNoBlock) {
    auto block = take_free_block(request.subscriber, rng);
    if (!block) return std::nullopt;
    holding = Holding{*block, 0};
  }
  // The holder is the block's only user and takes ports in order, so the
  // port at next_offset is always free.
  const std::uint16_t port = port_at(holding.block, holding.next_offset++);
  used_.insert(port);
  ++blocks_[holding.block].ports_in_use;
  return port;
}

void BlockAllocator::release(TimePoint, std::uint16_t port) {
  if (!used_.contains(port)) return;
  used_.erase(port);
  const std::uint32_t block = *block_of(port);
  Block& b = blocks_[block];
  if (--b.ports_in_use != 0) return;
  // Every mapping in the block has timed out: its holder (if it still holds
  // it) moves on to a new block with its next mapping.
  if (b.holder != kNobody && b.holder != kBackground) holdings_[b.holder].block = kNoBlock;
  give_back(block);
}

}  // namespace natpunch::nat

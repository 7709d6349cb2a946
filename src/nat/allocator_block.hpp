#pragma once
// Port blocks, as KPN and Lebara allocate (Table II, Section VI-A 1-2): the
// port space is cut into blocks of block_size ports starting at multiples of
// block_size. A subscriber holds one block and takes its ports in order;
// it keeps the block until it has used the last port or until every mapping
// in it has timed out, and then gets a random *free* block (no holder, no
// port in use). A block is never held by two subscribers at once.
//
// Background load (other subscribers of the same NAT, see BlockSpec) is
// advanced lazily from `now` on each allocate() call: a heap of hold-end
// times, so its cost is O(log n) per block change, not per packet.
#include <cstdint>
#include <optional>
#include <vector>

#include "nat/allocator_spec.hpp"
#include "nat/port_set.hpp"

namespace natpunch::nat {

class BlockAllocator final : public PortAllocator {
 public:
  explicit BlockAllocator(const BlockSpec& spec);

  std::optional<std::uint16_t> allocate(TimePoint now, const PortRequest& request, Rng& rng) override;
  void release(TimePoint now, std::uint16_t port) override;
  bool in_use(std::uint16_t port) const override { return used_.contains(port); }

  // For tests and reports.
  std::size_t block_count() const { return blocks_.size(); }
  std::size_t free_block_count() const { return free_blocks_.size(); }
  std::size_t background_block_count() const;
  // True when a background subscriber holds the block containing `port`.
  bool held_by_background(std::uint16_t port) const;

 private:
  static constexpr std::uint32_t kNobody = 0xffffffffU;
  static constexpr std::uint32_t kBackground = 0xfffffffeU;
  static constexpr std::uint32_t kNoBlock = 0xffffffffU;

  struct Block {
    std::uint32_t holder = kNobody;  // a subscriber id, kBackground or kNobody
    std::uint32_t ports_in_use = 0;
  };
  struct Holding {  // a foreground subscriber's block and where its next port is
    std::uint32_t block = kNoBlock;
    std::uint32_t next_offset = 0;
  };
  struct BackgroundHold {
    TimePoint until;
    std::uint32_t subscriber = 0;
  };

  void start_background(TimePoint now, Rng& rng);
  void advance_background(TimePoint now, Rng& rng);
  // Takes a uniformly random free block out of the free set for `holder`.
  std::optional<std::uint32_t> take_free_block(std::uint32_t holder, Rng& rng);
  void give_back(std::uint32_t block);  // holder gone: free again if no port is in use
  std::optional<std::uint32_t> block_of(std::uint16_t port) const;
  std::uint16_t port_at(std::uint32_t block, std::uint32_t offset) const;

  std::uint32_t block_size_;
  std::uint32_t first_block_number_;  // the lowest whole block in [min, max], in units of block_size
  std::vector<Block> blocks_;
  // Free blocks as an unordered set with O(1) insert, erase and random pick.
  std::vector<std::uint32_t> free_blocks_;
  std::vector<std::uint32_t> free_position_;
  std::vector<Holding> holdings_;  // by subscriber id
  std::uint32_t background_subscribers_;
  Duration background_hold_;
  bool background_started_ = false;
  std::vector<std::uint32_t> background_block_;  // by background subscriber
  std::vector<BackgroundHold> background_heap_;  // min-heap on `until`
  PortSet used_;
};

}  // namespace natpunch::nat

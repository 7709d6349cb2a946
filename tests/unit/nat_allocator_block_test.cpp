#include "nat/allocator_block.hpp"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "core/rng.hpp"

namespace natpunch::nat {
namespace {

constexpr std::uint32_t kBlock = 256;

std::uint16_t take(BlockAllocator& allocator, Rng& rng, std::uint32_t subscriber = 0, TimePoint now = kTimeZero) {
  auto port = allocator.allocate(now, PortRequest{subscriber, 40000}, rng);
  EXPECT_TRUE(port);
  return port.value_or(0);
}

TEST(BlockAllocatorTest, KpnBlocksCoverTheUsableRange) {
  BlockAllocator allocator(BlockSpec{});
  EXPECT_EQ(allocator.block_count(), (65536u - 1024u) / kBlock);
  EXPECT_EQ(allocator.free_block_count(), allocator.block_count());
}

TEST(BlockAllocatorTest, ConsumesABlockInOrderThenMovesToAFreshFreeBlock) {
  BlockAllocator allocator(BlockSpec{});
  Rng rng(1);
  std::set<std::uint32_t> blocks_used;
  for (int block = 0; block < 20; ++block) {
    const std::uint16_t first = take(allocator, rng);
    ASSERT_EQ(first % kBlock, 0u) << "a fresh block starts at a multiple of the block size";
    ASSERT_GE(first, kFirstUsablePort);
    EXPECT_TRUE(blocks_used.insert(first / kBlock).second) << "got a block that was not free";
    for (std::uint32_t i = 1; i < kBlock; ++i) ASSERT_EQ(take(allocator, rng), first + i);
  }
  EXPECT_EQ(allocator.free_block_count(), allocator.block_count() - 20);
}

TEST(BlockAllocatorTest, KeepsTheBlockWhileAnyOfItsMappingsLives) {
  BlockAllocator allocator(BlockSpec{});
  Rng rng(2);
  const std::uint16_t first = take(allocator, rng);
  const std::uint16_t second = take(allocator, rng);
  allocator.release(kTimeZero, first);  // one of two timed out: the block stays
  EXPECT_EQ(take(allocator, rng), second + 1);
}

TEST(BlockAllocatorTest, WhenAllItsMappingsTimeOutTheNextMappingGetsAFreshBlock) {
  BlockAllocator allocator(BlockSpec{});
  Rng rng(3);
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < 10; ++i) ports.push_back(take(allocator, rng));
  for (auto port : ports) allocator.release(kTimeZero, port);
  EXPECT_EQ(allocator.free_block_count(), allocator.block_count());
  // Random free block, starting from its first port (it may be the same one).
  EXPECT_EQ(take(allocator, rng) % kBlock, 0u);
}

TEST(BlockAllocatorTest, AnExhaustedBlockReturnsOnlyOnceAllItsPortsAreReleased) {
  BlockAllocator allocator(BlockSpec{16, 1024, 1024 + 2 * 16 - 1});  // exactly two blocks
  Rng rng(4);
  std::vector<std::uint16_t> first_block;
  for (int i = 0; i < 16; ++i) first_block.push_back(take(allocator, rng));
  const std::uint16_t second_start = take(allocator, rng);
  EXPECT_NE(second_start / 16, first_block[0] / 16);
  for (int i = 1; i < 16; ++i) take(allocator, rng);
  EXPECT_FALSE(allocator.allocate(kTimeZero, PortRequest{0, 1}, rng)) << "both blocks used up";
  for (int i = 0; i < 15; ++i) allocator.release(kTimeZero, first_block[static_cast<std::size_t>(i)]);
  EXPECT_FALSE(allocator.allocate(kTimeZero, PortRequest{0, 1}, rng)) << "one port still mapped";
  allocator.release(kTimeZero, first_block[15]);
  EXPECT_EQ(take(allocator, rng), first_block[0]);
}

TEST(BlockAllocatorTest, SubscribersNeverShareABlock) {
  BlockAllocator allocator(BlockSpec{});
  Rng rng(5);
  std::vector<std::set<std::uint32_t>> blocks_of(3);
  for (int i = 0; i < 3000; ++i) {
    const auto subscriber = static_cast<std::uint32_t>(i % 3);
    blocks_of[subscriber].insert(take(allocator, rng, subscriber) / kBlock);
  }
  for (std::size_t a = 0; a < 3; ++a)
    for (std::size_t b = a + 1; b < 3; ++b)
      for (auto block : blocks_of[a]) EXPECT_EQ(blocks_of[b].count(block), 0u) << a << " and " << b << " share";
}

TEST(BlockAllocatorTest, BackgroundSubscribersHoldBlocksThatForegroundNeverGets) {
  BlockSpec spec;
  spec.background_subscribers = 200;
  spec.background_hold = seconds(60);
  BlockAllocator allocator(spec);
  Rng rng(6);
  TimePoint now = kTimeZero;
  std::set<std::uint32_t> background_before;
  for (int i = 0; i < 40 * 256; ++i) {
    now += milliseconds(15);  // 150 s in all: every background hold turns over at least twice
    auto port = allocator.allocate(now, PortRequest{0, 1}, rng);
    if (!port) continue;  // all free blocks taken for now
    ASSERT_FALSE(allocator.held_by_background(*port)) << "port " << *port << " is in a background block";
    if (i == 0) {
      for (std::uint32_t p = kFirstUsablePort; p <= 65535; p += kBlock)
        if (allocator.held_by_background(static_cast<std::uint16_t>(p))) background_before.insert(p / kBlock);
      EXPECT_EQ(background_before.size(), 200u);
    }
    // Accounting: every block is free, held by background, or touched by the foreground.
    ASSERT_LE(allocator.free_block_count() + allocator.background_block_count(), allocator.block_count());
  }
  std::set<std::uint32_t> background_after;
  for (std::uint32_t p = kFirstUsablePort; p <= 65535; p += kBlock)
    if (allocator.held_by_background(static_cast<std::uint16_t>(p))) background_after.insert(p / kBlock);
  EXPECT_NE(background_before, background_after) << "background load moves between blocks over time";
}

TEST(BlockAllocatorTest, WhenBackgroundHoldsEveryBlockAllocationFails) {
  BlockSpec spec{16, 1024, 1024 + 4 * 16 - 1, 4, seconds(60)};
  BlockAllocator allocator(spec);
  Rng rng(7);
  EXPECT_FALSE(allocator.allocate(kTimeZero, PortRequest{0, 1}, rng));
  EXPECT_EQ(allocator.background_block_count(), 4u);
  EXPECT_EQ(allocator.free_block_count(), 0u);
}

TEST(BlockAllocatorTest, MoreBackgroundSubscribersThanBlocksNeverDoubleBook) {
  BlockSpec spec{16, 1024, 1024 + 8 * 16 - 1, 20, seconds(10)};
  BlockAllocator allocator(spec);
  Rng rng(8);
  TimePoint now = kTimeZero;
  for (int i = 0; i < 1000; ++i) {
    now += milliseconds(250);
    auto port = allocator.allocate(now, PortRequest{0, 1}, rng);
    EXPECT_LE(allocator.background_block_count(), 8u);
    EXPECT_EQ(allocator.free_block_count(), 0u) << "eight blocks, twenty takers: none stays free";
    if (port) allocator.release(now, *port);
  }
}

TEST(BlockAllocatorTest, ALongJumpInTimeDoesNotReplayEveryMissedHold) {
  BlockSpec spec;
  spec.background_subscribers = 100;
  spec.background_hold = seconds(1);
  BlockAllocator allocator(spec);
  Rng rng(9);
  take(allocator, rng, 0, kTimeZero);
  // A year of one-second holds would be 3e9 steps if replayed one by one.
  take(allocator, rng, 0, kTimeZero + std::chrono::hours(24 * 365));
  EXPECT_EQ(allocator.background_block_count(), 100u);
}

}  // namespace
}  // namespace natpunch::nat

#pragma once
// Open-addressing hash index from a key's 64-bit hash to a 32-bit handle
// (a slot in the caller's own slab, where the key itself lives). Linear
// probing with backward-shift deletion: no tombstones, so lookups stay short
// however many entries come and go, and a slot is 8 bytes. The NAT table
// does one lookup per packet; node-based maps would cost an allocation per
// new mapping and a pointer chase per lookup.
#include <cstdint>
#include <vector>

namespace natpunch::nat {

class FlatIndex {
 public:
  static constexpr std::uint32_t npos = 0xffffffffU;

  explicit FlatIndex(std::size_t expected_entries = 64);

  // The handle h with hash `hash` for which matches(h) holds, or npos.
  template <class Matches>
  std::uint32_t find(std::uint64_t hash, Matches&& matches) const {
    const auto tag = static_cast<std::uint32_t>(hash);
    for (std::size_t i = tag & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.handle == npos) return npos;
      if (slot.tag == tag && matches(slot.handle)) return slot.handle;
    }
  }
  // Starts loading the home slot of `hash` into cache, so a lookup issued a
  // little later does not wait for memory.
  void prefetch(std::uint64_t hash) const { __builtin_prefetch(&slots_[static_cast<std::uint32_t>(hash) & mask_]); }
  // `handle` must not be in the index yet.
  void insert(std::uint64_t hash, std::uint32_t handle);
  // Removes `handle`, which was inserted with `hash`; no-op if absent.
  void erase(std::uint64_t hash, std::uint32_t handle);
  std::size_t size() const { return size_; }

 private:
  struct Slot {
    std::uint32_t tag = 0;  // low 32 bits of the hash: home slot and a cheap pre-check
    std::uint32_t handle = npos;
  };

  void grow();

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace natpunch::nat

#include "nat/flat_index.hpp"

#include <algorithm>
#include <bit>

namespace natpunch::nat {

FlatIndex::FlatIndex(std::size_t expected_entries) {
  // At most half full, so probe sequences stay short.
  const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(16, expected_entries * 2));
  slots_.resize(capacity);
  mask_ = capacity - 1;
}

void FlatIndex::insert(std::uint64_t hash, std::uint32_t handle) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  const auto tag = static_cast<std::uint32_t>(hash);
  std::size_t i = tag & mask_;
  while (slots_[i].handle != npos) i = (i + 1) & mask_;
  slots_[i] = Slot{tag, handle};
  ++size_;
}

void FlatIndex::erase(std::uint64_t hash, std::uint32_t handle) {
  const auto tag = static_cast<std::uint32_t>(hash);
  std::size_t hole = tag & mask_;
  for (;; hole = (hole + 1) & mask_) {
    if (slots_[hole].handle == npos) return;
    if (slots_[hole].handle == handle) break;
  }
  --size_;
  // Shift later members of the probe run back into the hole, unless that
  // would move one before its home slot.
  for (std::size_t next = (hole + 1) & mask_;; next = (next + 1) & mask_) {
    Slot& candidate = slots_[next];
    if (candidate.handle == npos) break;
    const std::size_t home = candidate.tag & mask_;
    const bool home_after_hole = ((next - home) & mask_) < ((next - hole) & mask_);
    if (home_after_hole) continue;
    slots_[hole] = candidate;
    hole = next;
  }
  slots_[hole] = Slot{};
}

void FlatIndex::grow() {
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.resize(old.size() * 2);
  mask_ = slots_.size() - 1;
  for (const Slot& slot : old) {
    if (slot.handle == npos) continue;
    std::size_t i = slot.tag & mask_;
    while (slots_[i].handle != npos) i = (i + 1) & mask_;
    slots_[i] = slot;
  }
}

}  // namespace natpunch::nat

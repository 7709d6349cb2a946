#include "nat/fenwick_tree.hpp"

#include <bit>

namespace natpunch::nat {

FenwickTree::FenwickTree(const std::vector<std::uint64_t>& weights)
    : weights_(weights), tree_(weights.size() + 1, 0) {
  // Linear-time build: each node passes its sum on to its parent.
  for (std::size_t i = 1; i <= weights_.size(); ++i) {
    tree_[i] += weights_[i - 1];
    total_ += weights_[i - 1];
    const std::size_t parent = i + (i & (~i + 1));
    if (parent <= weights_.size()) tree_[parent] += tree_[i];
  }
}

void FenwickTree::set(std::size_t index, std::uint64_t weight) {
  const std::uint64_t old = weights_[index];
  if (old == weight) return;
  weights_[index] = weight;
  total_ = total_ - old + weight;
  // Unsigned wrap-around makes "subtract" and "add" the same operation.
  const std::uint64_t delta = weight - old;
  for (std::size_t i = index + 1; i < tree_.size(); i += i & (~i + 1)) tree_[i] += delta;
}

std::size_t FenwickTree::find(std::uint64_t unit) const {
  std::size_t position = 0;
  for (std::size_t step = std::bit_floor(weights_.size()); step != 0; step >>= 1) {
    const std::size_t next = position + step;
    if (next < tree_.size() && tree_[next] <= unit) {
      position = next;
      unit -= tree_[next];
    }
  }
  return position;  // 0-based index of the element after the skipped prefix
}

}  // namespace natpunch::nat

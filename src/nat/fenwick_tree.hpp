#pragma once
// Integer weights with O(log n) update and O(log n) "which index holds the
// u-th unit of total weight": weighted sampling that stays cheap while the
// weights change after every draw (a port's weight drops to zero while it
// is mapped and comes back when it is released).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace natpunch::nat {

class FenwickTree {
 public:
  explicit FenwickTree(const std::vector<std::uint64_t>& weights);

  std::size_t size() const { return weights_.size(); }
  std::uint64_t weight(std::size_t index) const { return weights_[index]; }
  std::uint64_t total() const { return total_; }
  void set(std::size_t index, std::uint64_t weight);
  // The index i with prefix(i) <= unit < prefix(i) + weight(i), where
  // prefix(i) is the sum of the weights before i; unit < total().
  std::size_t find(std::uint64_t unit) const;

 private:
  std::vector<std::uint64_t> weights_;
  std::vector<std::uint64_t> tree_;  // 1-based partial sums
  std::uint64_t total_ = 0;
};

}  // namespace natpunch::nat

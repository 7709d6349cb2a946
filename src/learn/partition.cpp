#include "learn/partition.hpp"

#include <algorithm>
#include <numeric>

namespace natpunch::learn {

TrainTest split_train_test(const Dataset& all, double test_fraction, Rng& rng) {
  std::vector<std::vector<std::size_t>> by_class(static_cast<std::size_t>(all.classes));
  for (std::size_t i = 0; i < all.size(); ++i) by_class[all.labels[i]].push_back(i);
  std::vector<std::size_t> train_rows, test_rows;
  for (auto& rows : by_class) {
    std::shuffle(rows.begin(), rows.end(), rng.engine());
    const auto test_count = static_cast<std::size_t>(test_fraction * static_cast<double>(rows.size()) + 0.5);
    test_rows.insert(test_rows.end(), rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(std::min(test_count, rows.size())));
    train_rows.insert(train_rows.end(), rows.begin() + static_cast<std::ptrdiff_t>(std::min(test_count, rows.size())), rows.end());
  }
  // Class-major order would make every mini-batch single-class; shuffle once more.
  std::shuffle(train_rows.begin(), train_rows.end(), rng.engine());
  std::shuffle(test_rows.begin(), test_rows.end(), rng.engine());
  return {select_rows(all, train_rows), select_rows(all, test_rows)};
}

const char* to_string(PartitionKind kind) {
  switch (kind) {
    case PartitionKind::Iid: return "iid";
    case PartitionKind::ByLabel: return "by-label";
  }
  return "?";
}

bool parse_partition_kind(const std::string& text, PartitionKind& out) {
  if (text == "iid") out = PartitionKind::Iid;
  else if (text == "by-label") out = PartitionKind::ByLabel;
  else return false;
  return true;
}

std::vector<std::vector<std::size_t>> partition(const Dataset& train, std::size_t peers, PartitionKind kind, Rng& rng) {
  std::vector<std::vector<std::size_t>> shares(peers);
  if (peers == 0) return shares;
  std::vector<std::size_t> rows(train.size());
  std::iota(rows.begin(), rows.end(), std::size_t{0});
  if (kind == PartitionKind::Iid) {
    std::shuffle(rows.begin(), rows.end(), rng.engine());
    for (std::size_t i = 0; i < rows.size(); ++i) shares[i % peers].push_back(rows[i]);
    return shares;
  }
  std::stable_sort(rows.begin(), rows.end(), [&](std::size_t a, std::size_t b) { return train.labels[a] < train.labels[b]; });
  const std::size_t shards = 2 * peers;
  std::vector<std::size_t> order(shards);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::shuffle(order.begin(), order.end(), rng.engine());
  for (std::size_t s = 0; s < shards; ++s) {
    const std::size_t shard = order[s];
    const std::size_t begin = shard * rows.size() / shards;
    const std::size_t end = (shard + 1) * rows.size() / shards;
    auto& share = shares[s % peers];
    share.insert(share.end(), rows.begin() + static_cast<std::ptrdiff_t>(begin), rows.begin() + static_cast<std::ptrdiff_t>(end));
  }
  for (auto& share : shares) std::shuffle(share.begin(), share.end(), rng.engine());
  return shares;
}

}  // namespace natpunch::learn

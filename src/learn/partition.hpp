#pragma once
// Who holds which samples: a reproducible train/test split and the share of
// the training set each of N peers trains on. Everything is a function of
// the injected Rng, so a seed replays a run exactly.
#include <cstddef>
#include <string>
#include <vector>

#include "core/rng.hpp"
#include "learn/dataset.hpp"

namespace natpunch::learn {

struct TrainTest {
  Dataset train;
  Dataset test;
};

// Stratified: every class keeps its proportion in both halves, so the test
// accuracy of a small data set does not hinge on which digits landed where.
TrainTest split_train_test(const Dataset& all, double test_fraction, Rng& rng);

enum class PartitionKind : std::uint8_t {
  Iid,       // shuffled, dealt round-robin: every peer sees every class
  ByLabel,   // non-iid: each peer's share is dominated by a few classes
};
const char* to_string(PartitionKind kind);
bool parse_partition_kind(const std::string& text, PartitionKind& out);

// Row indices of `train` for each of `peers` peers; every row goes to exactly
// one peer and the shares differ in size by at most one (Iid) or are
// near-equal (ByLabel: rows sorted by label, cut into 2*peers shards, two
// random shards per peer, as in McMahan et al.'s pathological non-iid split).
std::vector<std::vector<std::size_t>> partition(const Dataset& train, std::size_t peers, PartitionKind kind, Rng& rng);

}  // namespace natpunch::learn

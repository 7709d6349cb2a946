#pragma once
// What a learning run (simulated: sim/learning_simulation.hpp; real:
// `natpunch learn --rendezvous`) decides before any peer trains, as a pure
// function of the data set and the config (seed included), and the central
// baseline every peer is measured against.
#include <cstdint>
#include <optional>
#include <vector>

#include "learn/averaging_peer.hpp"
#include "learn/dataset.hpp"
#include "learn/partition.hpp"

namespace natpunch::learn {

struct LinkModel {
  double loss = 0.0;                       // probability each datagram is dropped
  Duration delay = milliseconds(40);       // one way
  Duration jitter = milliseconds(20);      // uniform extra delay in [0, jitter]
  std::size_t max_datagram = 1160;         // payload the path carries (natpunch::kMaxSessionPayload)
};

struct SimulationConfig {
  std::size_t peers = 4;
  std::size_t degree = 0;                  // neighbours per peer on a ring lattice; 0: everyone
  AveragingConfig averaging;
  LinkModel link;
  PartitionKind partition = PartitionKind::Iid;
  double test_fraction = 0.2;
  std::uint64_t seed = 1;
  // A peer that stops (crash, lost coverage) when it reaches `vanish_round`.
  std::optional<std::size_t> vanish_peer;
  std::uint32_t vanish_round = 0;
};

// Everything a run decides before any peer trains, as a pure function of
// the data set and the config (seed included): the simulator and every
// process of a real run (`natpunch learn --rendezvous`) call this, so N
// processes started with the same seed agree on the split, each other's
// shares, the initial model and the central baseline without talking.
struct LearningSetup {
  Dataset train;
  Dataset test;
  AveragingConfig averaging;               // with the data set's input and class counts
  Model initial{ModelShape{}};
  std::vector<double> central_accuracy;    // the baseline after each round's epochs
  std::vector<std::vector<std::size_t>> shares;  // rows of `train` per peer
};
LearningSetup prepare_learning(const Dataset& all, const SimulationConfig& config);
// The SGD stream of peer `peer` (the same in simulation and in a real run).
Rng peer_rng(std::uint64_t seed, std::size_t peer);

// The central baseline alone: same initial model, same SGD settings,
// rounds * local_epochs epochs over the whole training set.
std::vector<double> train_central(const Dataset& train, const Dataset& test, const AveragingConfig& config, const Model& initial,
                                  Rng& rng);

// Neighbours of `peer` among `peers` on a ring lattice of `degree` (0: all).
std::vector<std::size_t> neighbours_of(std::size_t peer, std::size_t peers, std::size_t degree);

}  // namespace natpunch::learn

#pragma once
// N averaging peers (learn/averaging_peer.hpp) as hosts of the simulator,
// over modelled lossy links in virtual time, next to the same model trained
// centrally on all the training data: the yardstick of issue 9 (every peer
// within 2 percentage points of the central model). Deterministic: a run
// is a pure function of its config (seed included).
//
// Each peer is a public host running the real machine (sim::MachineHost);
// the simulator's path between two of them is the config's LinkModel
// (delay, uniform jitter, loss). As on every simulated path, jitter delays
// a datagram but never lets it overtake the one before (sim/link.hpp).
#include <cstdint>
#include <functional>
#include <vector>

#include "learn/averaging_peer.hpp"
#include "learn/dataset.hpp"
#include "learn/learning_setup.hpp"

namespace natpunch::sim {

struct PeerOutcome {
  std::vector<learn::RoundRecord> rounds;
  learn::PeerCounters counters;
  std::size_t samples = 0;
  std::size_t neighbours = 0;
  bool vanished = false;
  double final_accuracy() const { return rounds.empty() ? 0.0 : rounds.back().accuracy; }
};

struct SimulationResult {
  std::vector<double> central_accuracy;    // after each round's worth of epochs
  std::vector<PeerOutcome> peers;
  std::size_t train_size = 0;
  std::size_t test_size = 0;
  std::size_t parameters = 0;
  std::size_t chunks_per_model = 0;
  std::uint64_t datagrams_lost = 0;
  TimePoint finished{};                    // virtual time when the last peer finished
  double central_final() const { return central_accuracy.empty() ? 0.0 : central_accuracy.back(); }
};

// Called as each peer finishes a round (for progress output).
using RoundObserver = std::function<void(std::size_t peer, const learn::RoundRecord&)>;

SimulationResult simulate_learning(const learn::Dataset& all, const learn::SimulationConfig& config, const RoundObserver& observer = {});

}  // namespace natpunch::sim

#include "sim/learning_simulation.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/splitmix.hpp"
#include "sim/machine_host.hpp"
#include "sim/network.hpp"

namespace natpunch::sim {

using learn::AveragingPeer;
using learn::LearnEvent;
using learn::Neighbour;
using learn::learn_event::Finished;
using learn::learn_event::RoundFinished;

namespace {

// Peer p is a public host at 100.64.0.0 + p + 1; its socket k (local port
// kFirstPort + k) is its channel to peer k.
constexpr std::uint16_t kFirstPort = 4000;
IpAddress peer_address(std::size_t p) { return IpAddress::v4(0x64400001U + static_cast<std::uint32_t>(p)); }

// The simulator's path between two public hosts is their uplinks in series
// (latencies and jitters add, losses compound), so each uplink carries half
// of the modelled link.
LinkConfig half_link(const learn::LinkModel& link) {
  const double keep = std::sqrt(1.0 - std::clamp(link.loss, 0.0, 1.0));
  return LinkConfig{link.delay / 2, link.jitter / 2, 1.0 - keep};
}

}  // namespace

SimulationResult simulate_learning(const learn::Dataset& all, const learn::SimulationConfig& config, const RoundObserver& observer) {
  const learn::LearningSetup setup = learn::prepare_learning(all, config);
  const learn::AveragingConfig& averaging = setup.averaging;
  const learn::Dataset& train = setup.train;
  const learn::Dataset& test = setup.test;

  SimulationResult result;
  result.train_size = train.size();
  result.test_size = test.size();
  result.parameters = averaging.shape.parameter_count();
  const std::size_t per_chunk = learn::parameters_per_chunk(config.link.max_datagram, averaging.encoding);
  result.chunks_per_model = per_chunk == 0 ? 0 : (result.parameters + per_chunk - 1) / per_chunk;
  result.central_accuracy = setup.central_accuracy;

  Network network(splitmix64(config.seed ^ 0x114c));
  using Host = MachineHost<AveragingPeer>;
  std::vector<std::unique_ptr<Host>> hosts;
  std::vector<bool> settled(config.peers, false);  // finished or vanished
  std::size_t settled_count = 0;
  TimePoint last_finish = kTimeZero;
  const auto settle = [&](std::size_t p) {
    if (!settled[p]) ++settled_count;
    settled[p] = true;
  };
  for (std::size_t p = 0; p < config.peers; ++p) {
    std::vector<Neighbour> neighbours;
    for (auto n : learn::neighbours_of(p, config.peers, config.degree))
      neighbours.push_back(Neighbour{n, config.link.max_datagram,
                                     Endpoint{peer_address(n), static_cast<std::uint16_t>(kFirstPort + p)}});
    hosts.push_back(std::make_unique<Host>(
        peer_address(p), kFirstPort,
        AveragingPeer(averaging, std::move(neighbours), learn::select_rows(train, setup.shares[p]), setup.initial,
                      learn::peer_rng(config.seed, p), kTimeZero, &test),
        static_cast<SocketId>(config.peers)));
    Host& host = *hosts.back();
    host.on_event = [&, p](const LearnEvent& event) {
      if (const auto* round = std::get_if<RoundFinished>(&event); round && observer) observer(p, round->record);
      if (std::holds_alternative<Finished>(event)) {
        settle(p);
        last_finish = std::max(last_finish, network.now());
      }
      if (config.vanish_peer && *config.vanish_peer == p && hosts[p]->machine().round() >= config.vanish_round) {
        hosts[p]->go_offline();
        settle(p);
      }
    };
    network.add_public_host(peer_address(p), half_link(config.link), host);
  }
  network.run(TimePoint::max(), [&] { return settled_count == config.peers; });

  result.finished = last_finish;
  result.datagrams_lost = network.lost_packets();
  for (std::size_t p = 0; p < config.peers; ++p) {
    const AveragingPeer& peer = hosts[p]->machine();
    PeerOutcome outcome;
    outcome.rounds = peer.history();
    outcome.counters = peer.counters();
    outcome.samples = peer.samples();
    outcome.neighbours = learn::neighbours_of(p, config.peers, config.degree).size();
    outcome.vanished = hosts[p]->offline();
    result.peers.push_back(std::move(outcome));
  }
  return result;
}

}  // namespace natpunch::sim

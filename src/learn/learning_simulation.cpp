#include "learn/learning_simulation.hpp"

#include <queue>
#include <random>

#include "core/splitmix.hpp"

namespace natpunch::learn {

namespace {

struct InFlight {
  TimePoint arrival;
  std::uint64_t order;  // ties in arrival time go in send order: deterministic
  std::size_t from;
  std::size_t to;
  std::vector<std::uint8_t> bytes;
  bool operator>(const InFlight& other) const {
    return arrival != other.arrival ? arrival > other.arrival : order > other.order;
  }
};

}  // namespace

std::vector<std::size_t> neighbours_of(std::size_t peer, std::size_t peers, std::size_t degree) {
  std::vector<std::size_t> out;
  if (degree == 0 || degree + 1 >= peers) {
    for (std::size_t p = 0; p < peers; ++p)
      if (p != peer) out.push_back(p);
    return out;
  }
  // Ring lattice: degree/2 on each side (one more clockwise when odd).
  const std::size_t right = (degree + 1) / 2, left = degree / 2;
  for (std::size_t k = 1; k <= left; ++k) out.push_back((peer + peers - k) % peers);
  for (std::size_t k = 1; k <= right; ++k) out.push_back((peer + k) % peers);
  return out;
}

std::vector<double> train_central(const Dataset& train, const Dataset& test, const AveragingConfig& config, const Model& initial,
                                  Rng& rng) {
  Model model = initial;
  std::vector<double> accuracy;
  for (std::uint32_t r = 0; r < config.rounds; ++r) {
    train_epochs(model, train, config.local_epochs, config.sgd, rng);
    accuracy.push_back(model.accuracy(test));
  }
  return accuracy;
}

Rng peer_rng(std::uint64_t seed, std::size_t peer) { return Rng(splitmix64(seed + 0x9e37 * (peer + 1))); }

LearningSetup prepare_learning(const Dataset& all, const SimulationConfig& config) {
  // Independent streams per purpose, so e.g. changing the loss does not change the split.
  Rng split_rng(splitmix64(config.seed ^ 0x5b1170));
  Rng init_rng(splitmix64(config.seed ^ 0x1417));
  Rng central_rng(splitmix64(config.seed ^ 0xce47));

  LearningSetup setup;
  auto [train, test] = split_train_test(all, config.test_fraction, split_rng);
  setup.train = std::move(train);
  setup.test = std::move(test);
  setup.averaging = config.averaging;
  setup.averaging.shape.inputs = static_cast<std::uint16_t>(all.feature_count());
  setup.averaging.shape.classes = static_cast<std::uint16_t>(all.classes);
  const auto& shape = setup.averaging.shape;
  setup.initial = shape.hidden == 0 ? Model(shape) : Model::initialised(shape, init_rng);
  setup.central_accuracy = train_central(setup.train, setup.test, setup.averaging, setup.initial, central_rng);
  setup.shares = partition(setup.train, config.peers, config.partition, split_rng);
  return setup;
}

SimulationResult simulate_learning(const Dataset& all, const SimulationConfig& config, const RoundObserver& observer) {
  Rng link_rng(splitmix64(config.seed ^ 0x114c));
  LearningSetup setup = prepare_learning(all, config);
  const AveragingConfig& averaging = setup.averaging;
  const Dataset& train = setup.train;
  const Dataset& test = setup.test;

  SimulationResult result;
  result.train_size = train.size();
  result.test_size = test.size();
  result.parameters = averaging.shape.parameter_count();
  const std::size_t per_chunk = parameters_per_chunk(config.link.max_datagram, averaging.encoding);
  result.chunks_per_model = per_chunk == 0 ? 0 : (result.parameters + per_chunk - 1) / per_chunk;
  result.central_accuracy = setup.central_accuracy;

  std::vector<AveragingPeer> peers;
  peers.reserve(config.peers);
  for (std::size_t p = 0; p < config.peers; ++p) {
    std::vector<Neighbour> neighbours;
    for (auto n : neighbours_of(p, config.peers, config.degree)) neighbours.push_back(Neighbour{n, config.link.max_datagram});
    peers.emplace_back(averaging, std::move(neighbours), select_rows(train, setup.shares[p]), setup.initial,
                       peer_rng(config.seed, p), &test);
  }

  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> wire;
  std::uint64_t order = 0;
  std::vector<bool> vanished(config.peers, false);
  std::vector<std::size_t> reported(config.peers, 0);
  std::bernoulli_distribution lost(std::clamp(config.link.loss, 0.0, 1.0));
  const auto jitter_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(config.link.jitter).count();

  auto flush = [&](std::size_t p, TimePoint now) {
    if (config.vanish_peer && *config.vanish_peer == p && peers[p].round() >= config.vanish_round) vanished[p] = true;
    for (auto& d : peers[p].poll_transmit()) {
      if (vanished[p]) continue;
      if (lost(link_rng.engine())) {
        ++result.datagrams_lost;
        continue;
      }
      Duration delay = config.link.delay;
      if (jitter_ns > 0)
        delay += std::chrono::duration_cast<Duration>(
            std::chrono::nanoseconds(static_cast<std::int64_t>(link_rng.uniform(0, static_cast<std::uint64_t>(jitter_ns)))));
      wire.push(InFlight{now + delay, order++, p, d.to, std::move(d.bytes)});
    }
    if (observer)
      while (reported[p] < peers[p].history().size()) observer(p, peers[p].history()[reported[p]++]);
  };

  for (std::size_t p = 0; p < config.peers; ++p) {
    peers[p].start(kTimeZero);
    flush(p, kTimeZero);
  }
  TimePoint now = kTimeZero;
  while (true) {
    // Earliest event: a datagram arriving or a peer's round timeout.
    std::optional<TimePoint> next;
    std::size_t timer_peer = config.peers;
    for (std::size_t p = 0; p < config.peers; ++p) {
      if (vanished[p]) continue;
      if (auto d = peers[p].next_deadline(); d && (!next || *d < *next)) {
        next = d;
        timer_peer = p;
      }
    }
    if (!wire.empty() && (!next || wire.top().arrival <= *next)) {
      InFlight d = wire.top();
      wire.pop();
      now = d.arrival;
      if (vanished[d.to]) continue;
      peers[d.to].on_datagram(now, d.from, d.bytes);
      flush(d.to, now);
      continue;
    }
    if (!next) break;
    now = *next;
    peers[timer_peer].on_timer(now);
    flush(timer_peer, now);
  }
  result.finished = now;
  for (std::size_t p = 0; p < config.peers; ++p) {
    PeerOutcome outcome;
    outcome.rounds = peers[p].history();
    outcome.counters = peers[p].counters();
    outcome.samples = peers[p].samples();
    outcome.neighbours = neighbours_of(p, config.peers, config.degree).size();
    outcome.vanished = vanished[p];
    result.peers.push_back(std::move(outcome));
  }
  return result;
}

}  // namespace natpunch::learn

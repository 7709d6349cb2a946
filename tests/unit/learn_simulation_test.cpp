// Decentralised averaging in virtual time on the real digits data set: every
// peer ends within 2 percentage points of the centrally trained model (issue
// 9's bar), under loss, with a peer vanishing, and a run replays from its seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "io/dataset_file.hpp"
#include "learn/averaging_peer.hpp"
#include "sim/learning_simulation.hpp"

namespace natpunch::learn {
namespace {

const Dataset& digits() {
  static const Dataset data = [] {
    auto loaded = io::load_dataset_file(io::kDigitsCsvPath);
    if (!loaded) throw std::runtime_error(describe(loaded.error()));
    return std::move(loaded).value();
  }();
  return data;
}

SimulationConfig base_config() {
  SimulationConfig config;
  config.peers = 4;
  config.seed = 42;
  config.averaging.rounds = 40;
  config.averaging.local_epochs = 3;
  config.link.loss = 0.05;
  return config;
}

void expect_within(const sim::SimulationResult& result, double points, const char* what) {
  for (std::size_t p = 0; p < result.peers.size(); ++p) {
    if (result.peers[p].vanished) continue;
    EXPECT_GE(result.peers[p].final_accuracy(), result.central_final() - points / 100.0)
        << what << ": peer " << p << " " << result.peers[p].final_accuracy() << " vs central " << result.central_final();
  }
}

TEST(LearnModel, CentralBaselinesLearnTheDigits) {
  Rng split(1), train(2), init(3);
  auto [tr, te] = split_train_test(digits(), 0.2, split);
  AveragingConfig config;
  config.rounds = 20;
  const auto logistic = train_central(tr, te, config, Model(config.shape), train);
  EXPECT_GT(logistic.back(), 0.93);
  config.shape.hidden = 32;
  config.sgd.learning_rate = 0.2f;
  const auto mlp = train_central(tr, te, config, Model::initialised(config.shape, init), train);
  EXPECT_GT(mlp.back(), 0.93);
  EXPECT_GT(mlp.back(), mlp.front());
}

struct ScenarioCase {
  const char* name;
  double loss;
  ChunkEncoding encoding;
  std::uint16_t hidden;
  std::size_t max_datagram;
};

class LearnScenario : public ::testing::TestWithParam<ScenarioCase> {};

TEST_P(LearnScenario, EveryPeerWithinTwoPointsOfCentral) {
  const auto& c = GetParam();
  auto config = base_config();
  config.link.loss = c.loss;
  config.link.max_datagram = c.max_datagram;
  config.averaging.encoding = c.encoding;
  config.averaging.shape.hidden = c.hidden;
  if (c.hidden > 0) config.averaging.sgd.learning_rate = 0.2f;
  const auto result = sim::simulate_learning(digits(), config);
  ASSERT_EQ(result.peers.size(), 4u);
  EXPECT_GT(result.central_final(), 0.93);
  for (const auto& peer : result.peers) {
    ASSERT_EQ(peer.rounds.size(), config.averaging.rounds);
    EXPECT_GT(peer.counters.bytes_sent, 0u);
  }
  expect_within(result, 2.0, c.name);
}

INSTANTIATE_TEST_SUITE_P(
    Learn, LearnScenario,
    ::testing::Values(ScenarioCase{"lossless_f32", 0.0, ChunkEncoding::Float32, 0, 1200},
                      ScenarioCase{"loss5_f32", 0.05, ChunkEncoding::Float32, 0, 1200},
                      ScenarioCase{"loss20_f16_small_mtu", 0.20, ChunkEncoding::Float16, 0, 548},
                      ScenarioCase{"mlp_loss5_f16", 0.05, ChunkEncoding::Float16, 32, 1200}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(LearnSimulation, ReplaysExactlyFromItsSeed) {
  auto config = base_config();
  config.averaging.rounds = 8;
  const auto a = sim::simulate_learning(digits(), config);
  const auto b = sim::simulate_learning(digits(), config);
  ASSERT_EQ(a.peers.size(), b.peers.size());
  EXPECT_EQ(a.central_accuracy, b.central_accuracy);
  EXPECT_EQ(a.datagrams_lost, b.datagrams_lost);
  EXPECT_EQ(a.finished, b.finished);
  for (std::size_t p = 0; p < a.peers.size(); ++p) {
    EXPECT_EQ(a.peers[p].counters.bytes_sent, b.peers[p].counters.bytes_sent);
    for (std::size_t r = 0; r < a.peers[p].rounds.size(); ++r)
      EXPECT_EQ(a.peers[p].rounds[r].accuracy, b.peers[p].rounds[r].accuracy);
  }
}

// Every process of a real run calls prepare_learning with the same config
// and must get the same split, shares and central baseline as the others
// (and as the simulator), with shares that never overlap.
TEST(LearnSimulation, PreparedSetupIsTheSameInEveryProcessAndInTheSimulator) {
  auto config = base_config();
  config.averaging.rounds = 6;
  const auto a = prepare_learning(digits(), config);
  const auto b = prepare_learning(digits(), config);
  EXPECT_EQ(a.central_accuracy, b.central_accuracy);
  EXPECT_EQ(a.shares, b.shares);
  EXPECT_EQ(a.initial.parameters(), b.initial.parameters());
  EXPECT_EQ(a.central_accuracy, sim::simulate_learning(digits(), config).central_accuracy);
  ASSERT_EQ(a.shares.size(), config.peers);
  std::vector<int> owners(a.train.size(), 0);
  for (const auto& share : a.shares)
    for (auto row : share) ++owners.at(row);
  EXPECT_EQ(std::count(owners.begin(), owners.end(), 1), static_cast<std::ptrdiff_t>(a.train.size()));
  config.seed += 1;
  EXPECT_NE(prepare_learning(digits(), config).shares, a.shares);
}

TEST(LearnSimulation, VanishedPeerStallsNobody) {
  auto config = base_config();
  config.vanish_peer = 2;
  config.vanish_round = 5;
  config.averaging.round_timeout = milliseconds(2000);
  const auto result = sim::simulate_learning(digits(), config);
  EXPECT_TRUE(result.peers[2].vanished);
  // It goes on reaching round 5: with every round-5 model already there it
  // can finish round 5 in that same step, but nothing of round 5 leaves it.
  EXPECT_LE(result.peers[2].rounds.size(), 5u);
  for (std::size_t p : {0u, 1u, 3u}) {
    const auto& rounds = result.peers[p].rounds;
    ASSERT_EQ(rounds.size(), config.averaging.rounds) << "peer " << p;
    for (std::size_t r = config.vanish_round - 1; r < rounds.size(); ++r)
      EXPECT_GE(rounds[r].neighbours_silent, 1u) << "peer " << p << " heard the vanished peer in round " << r + 1;
    // It waits out the timeout a few rounds, then stops waiting for the gone peer.
    std::size_t timeouts = 0;
    for (const auto& r : rounds) timeouts += r.timed_out ? 1 : 0;
    EXPECT_LE(timeouts, std::size_t(config.averaging.presume_gone_after) + 2) << "peer " << p;
    EXPECT_EQ(rounds.back().neighbours_silent, 1u);
  }
  // Without the presumption every remaining round would cost a full timeout.
  EXPECT_LT(result.finished - kTimeZero, config.averaging.round_timeout * 12);
  expect_within(result, 2.0, "vanished");
}

TEST(LearnSimulation, NonIidPartitionStillConverges) {
  auto config = base_config();
  config.partition = PartitionKind::ByLabel;
  config.averaging.rounds = 40;
  const auto result = sim::simulate_learning(digits(), config);
  // Each peer alone sees ~3 digits; averaging lets all of them recognise all ten.
  for (const auto& peer : result.peers) EXPECT_GT(peer.final_accuracy(), 0.85);
}

static_assert(ProtocolMachine<AveragingPeer>);

std::vector<Transmit> drain(AveragingPeer& peer, TimePoint now) {
  std::vector<Transmit> out;
  while (auto t = peer.poll_transmit(now)) out.push_back(std::move(*t));
  return out;
}

std::vector<LearnEvent> events_of(AveragingPeer& peer) {
  std::vector<LearnEvent> out;
  while (auto e = peer.poll_event()) out.push_back(std::move(*e));
  return out;
}

const Endpoint kNeighbourAt{IpAddress::v4({100, 64, 0, 9}), 4000};

TEST(LearnAveragingPeer, IsolatedPeerStillFinishesOnTimeouts) {
  AveragingConfig config;
  config.rounds = 3;
  config.shape = {4, 0, 2};
  const Dataset local = parse_labelled_csv("0,0,0,0,0\n16,16,16,16,1\n").value();
  AveragingPeer peer(config, {Neighbour{1, 1200, kNeighbourAt}}, local, Model(config.shape), Rng(1), kTimeZero);
  EXPECT_EQ(peer.next_deadline(), kTimeZero);  // starts at its first timer
  EXPECT_TRUE(drain(peer, kTimeZero).empty());
  peer.on_timer(kTimeZero);
  const auto sent = drain(peer, kTimeZero);
  ASSERT_EQ(sent.size(), 1u);  // 10 parameters: one chunk
  EXPECT_EQ(sent[0].socket, 1u);  // socket k leads to peer k
  EXPECT_EQ(sent[0].to, kNeighbourAt);
  TimePoint now = kTimeZero;
  int steps = 0;
  while (!peer.done() && steps++ < 10) {
    ASSERT_TRUE(peer.next_deadline().has_value());
    now = *peer.next_deadline();
    peer.on_timer(now);
  }
  EXPECT_TRUE(peer.done());
  EXPECT_EQ(peer.history().size(), 3u);
  EXPECT_EQ(now - kTimeZero, config.round_timeout * 3);
  // Started, three rounds, Finished: in that order.
  const auto events = events_of(peer);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_TRUE(std::holds_alternative<learn_event::Started>(events[0]));
  for (std::size_t i = 1; i <= 3; ++i)
    EXPECT_EQ(std::get<learn_event::RoundFinished>(events[i]).record.round, i);
  EXPECT_TRUE(std::holds_alternative<learn_event::Finished>(events[4]));
  // Garbage and strangers are counted, never fatal.
  const std::uint8_t junk[] = {1, 2, 3};
  peer.on_datagram(now, 1, kNeighbourAt, junk);
  EXPECT_FALSE(peer.next_deadline().has_value());
}

TEST(LearnAveragingPeer, RoundEndsAsSoonAsEveryNeighbourDelivered) {
  AveragingConfig config;
  config.rounds = 2;
  config.shape = {4, 0, 2};
  const Dataset local = parse_labelled_csv("0,0,0,0,0\n16,16,16,16,1\n").value();
  AveragingPeer a(config, {Neighbour{1, 1200, {}}}, local, Model(config.shape), Rng(1), kTimeZero);
  AveragingPeer b(config, {Neighbour{0, 1200, {}}}, local, Model(config.shape), Rng(2), kTimeZero);
  a.on_timer(kTimeZero);
  b.on_timer(kTimeZero);
  const TimePoint t = kTimeZero + milliseconds(30);
  for (int hop = 0; hop < 4; ++hop) {
    for (auto& d : drain(a, t)) b.on_datagram(t, 0, {}, d.bytes);
    for (auto& d : drain(b, t)) a.on_datagram(t, 1, {}, d.bytes);
  }
  EXPECT_TRUE(a.done());
  EXPECT_TRUE(b.done());
  ASSERT_EQ(a.history().size(), 2u);
  EXPECT_FALSE(a.history()[0].timed_out);
  EXPECT_EQ(a.history()[0].neighbours_complete, 1u);
  EXPECT_EQ(a.history()[1].finished, t);
  // Same data, averaged: both hold the same model.
  EXPECT_TRUE(a.model().parameters().isApprox(b.model().parameters(), 1e-5f));
}

// --- the start barrier, in virtual time ------------------------------------

AveragingConfig barrier_config() {
  AveragingConfig config;
  config.rounds = 2;
  config.shape = {4, 0, 2};
  config.round_timeout = milliseconds(150);
  config.chunk_linger = milliseconds(50);
  return config;
}

const Dataset& tiny() {
  static const Dataset data = parse_labelled_csv("0,0,0,0,0\n16,16,16,16,1\n0,1,0,1,0\n15,16,14,16,1\n").value();
  return data;
}

std::size_t count_barrier(const std::vector<Transmit>& sent, bool ready) {
  return static_cast<std::size_t>(std::count_if(sent.begin(), sent.end(), [&](const Transmit& t) {
    return ready ? is_ready_datagram(t.bytes) : is_barrier_datagram(t.bytes) && !is_ready_datagram(t.bytes);
  }));
}

TEST(LearnStartBarrier, CallsEveryIntervalUntilEveryNeighbourIsHeard) {
  const auto config = barrier_config();
  AveragingPeer peer(config, {Neighbour{1, 600, {}}, Neighbour{2, 600, {}}}, tiny(), Model(config.shape), Rng(0), kTimeZero,
                     &tiny(), StartBarrier{{1, 2}, seconds(5), milliseconds(100)});
  std::vector<Transmit> sent;
  TimePoint now = kTimeZero;
  for (int i = 0; i < 3; ++i) {  // READY to both at 0, 100, 200 ms
    ASSERT_EQ(peer.next_deadline(), now);
    peer.on_timer(now);
    for (auto& t : drain(peer, now)) sent.push_back(std::move(t));
    now += milliseconds(100);
  }
  EXPECT_EQ(count_barrier(sent, true), 6u);
  EXPECT_FALSE(peer.started());
  // Peer 1 sends READY, peer 2 already a model chunk (it started without us).
  const std::vector<std::uint8_t> ready{'N', 'P', 'L', 'R', 'N', 'R', 'D', 'Y'};
  ASSERT_TRUE(is_ready_datagram(ready));
  peer.on_datagram(now, 1, {}, ready);
  EXPECT_FALSE(peer.started());
  AveragingPeer other(config, {Neighbour{0, 600, {}}}, tiny(), Model(config.shape), Rng(2), kTimeZero);
  other.on_timer(kTimeZero);
  const auto chunk = drain(other, kTimeZero).at(0);
  peer.on_datagram(now, 2, {}, chunk.bytes);
  ASSERT_TRUE(peer.started());
  const auto after = drain(peer, now);
  EXPECT_EQ(count_barrier(after, false), 2u);  // one GO to each
  const auto events = events_of(peer);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(std::get<learn_event::Waiting>(events[0]).heard, 1u);
  EXPECT_EQ(std::get<learn_event::Waiting>(events[1]).heard, 2u);
  EXPECT_TRUE(std::get<learn_event::Started>(events[2]).not_heard.empty());
  // The early chunk counted for round 1.
  EXPECT_EQ(peer.counters().datagrams_received, 1u);
}

TEST(LearnStartBarrier, GivesUpOnASilentNeighbourAndSaysWhich) {
  const auto config = barrier_config();
  AveragingPeer peer(config, {Neighbour{1, 600, {}}, Neighbour{2, 600, {}}}, tiny(), Model(config.shape), Rng(0), kTimeZero,
                     &tiny(), StartBarrier{{1, 2}, milliseconds(400), milliseconds(100)});
  peer.on_timer(kTimeZero);
  const std::vector<std::uint8_t> go{'N', 'P', 'L', 'R', 'N', 'G', 'O', '!'};
  peer.on_datagram(kTimeZero + milliseconds(30), 1, {}, go);
  TimePoint now = kTimeZero;
  while (!peer.started()) {
    ASSERT_TRUE(peer.next_deadline());
    now = *peer.next_deadline();
    peer.on_timer(now);
  }
  EXPECT_EQ(now, kTimeZero + milliseconds(400));
  std::vector<std::size_t> not_heard;
  for (const auto& e : events_of(peer))
    if (const auto* s = std::get_if<learn_event::Started>(&e)) not_heard = s->not_heard;
  EXPECT_EQ(not_heard, std::vector<std::size_t>{2});
}

TEST(LearnStartBarrier, AStartedPeerAnswersReadyWithOneGoAndNeverAnswersGo) {
  const auto config = barrier_config();
  AveragingPeer peer(config, {Neighbour{1, 600, {}}}, tiny(), Model(config.shape), Rng(0), kTimeZero);
  peer.on_timer(kTimeZero);
  (void)drain(peer, kTimeZero);
  const std::vector<std::uint8_t> ready{'N', 'P', 'L', 'R', 'N', 'R', 'D', 'Y'};
  const std::vector<std::uint8_t> go{'N', 'P', 'L', 'R', 'N', 'G', 'O', '!'};
  peer.on_datagram(kTimeZero + milliseconds(1), 1, {}, ready);
  const auto answer = drain(peer, kTimeZero + milliseconds(1));
  ASSERT_EQ(answer.size(), 1u);
  EXPECT_EQ(answer[0].bytes, DatagramBytes(go));
  EXPECT_EQ(answer[0].socket, 1u);
  peer.on_datagram(kTimeZero + milliseconds(2), 1, {}, go);
  EXPECT_TRUE(drain(peer, kTimeZero + milliseconds(2)).empty());
  EXPECT_EQ(peer.counters().rejected, 0u);  // barrier datagrams are not model chunks gone wrong
}

}  // namespace
}  // namespace natpunch::learn

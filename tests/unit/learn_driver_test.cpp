// The real-clock driver (io/learning_driver.hpp, on io/machine_driver.hpp's
// loop) runs the same averaging peers over any datagram ports: here an
// in-memory hub between threads, with one neighbour that never shows up,
// and peers that start seconds apart (the start barrier).
#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "io/learning_driver.hpp"
#include "learn/dataset.hpp"

namespace natpunch::learn {
namespace {

struct HubDatagram {
  std::size_t from = 0;
  std::vector<std::uint8_t> bytes;
};

class Hub {
 public:
  explicit Hub(std::size_t peers) : inboxes_(peers) {}
  void post(std::size_t from, std::size_t to, std::span<const std::uint8_t> bytes) {
    std::lock_guard lock(mutex_);
    inboxes_[to].push_back(HubDatagram{from, {bytes.begin(), bytes.end()}});
    changed_.notify_all();
  }
  std::optional<HubDatagram> take(std::size_t me, TimePoint until) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_until(lock, until, [&] { return !inboxes_[me].empty(); })) return std::nullopt;
    auto d = std::move(inboxes_[me].front());
    inboxes_[me].pop_front();
    return d;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::deque<HubDatagram>> inboxes_;
};

// Socket k of a peer is its channel to peer k, as over sessions.
class HubPorts {
 public:
  HubPorts(Hub& hub, std::size_t me) : hub_(hub), me_(me) {}
  bool send(const Transmit& t) {
    if (is_barrier_datagram(t.bytes)) ++barrier_sent;
    else ++sent;
    hub_.post(me_, t.socket, t.bytes);
    return true;
  }
  void flush() {}
  std::optional<io::Arrival> receive(TimePoint until) {
    auto d = hub_.take(me_, until);
    if (!d) return std::nullopt;
    current_ = std::move(*d);
    return io::Arrival{static_cast<SocketId>(current_.from), Endpoint{}, current_.bytes};
  }
  std::size_t barrier_sent = 0;
  std::size_t sent = 0;

 private:
  Hub& hub_;
  std::size_t me_;
  HubDatagram current_;
};
static_assert(io::DatagramPorts<HubPorts>);

TEST(LearnDriver, PeersFinishOnTheRealClockDespiteAnAbsentNeighbour) {
  AveragingConfig config;
  config.rounds = 4;
  config.shape = {4, 0, 2};
  config.round_timeout = milliseconds(150);
  config.chunk_linger = milliseconds(50);
  const Dataset local = parse_labelled_csv("0,0,0,0,0\n16,16,16,16,1\n0,1,0,1,0\n15,16,14,16,1\n").value();
  Hub hub(3);
  // Peer 2 never runs: 0 and 1 must not wait for it forever.
  std::vector<AveragingPeer> peers;
  for (std::size_t p = 0; p < 2; ++p)
    peers.emplace_back(config, std::vector<Neighbour>{{1 - p, 600, {}}, {2, 600, {}}}, local, Model(config.shape), Rng(p),
                       kTimeZero, &local);
  std::vector<HubPorts> transports{HubPorts(hub, 0), HubPorts(hub, 1)};
  const auto started = Clock::now();
  std::vector<std::thread> threads;
  std::vector<std::size_t> rounds_seen(2, 0);
  for (std::size_t p = 0; p < 2; ++p)
    threads.emplace_back([&, p] {
      io::LearningDriverOptions options;
      options.on_round = [&, p](const RoundRecord&) { ++rounds_seen[p]; };
      options.should_stop = [&] { return Clock::now() - started > seconds(10); };
      io::run_averaging_peer(peers[p], transports[p], options);
    });
  for (auto& t : threads) t.join();
  const auto elapsed = Clock::now() - started;
  for (std::size_t p = 0; p < 2; ++p) {
    EXPECT_TRUE(peers[p].done()) << p;
    EXPECT_EQ(rounds_seen[p], 4u);
    EXPECT_EQ(peers[p].history().back().neighbours_complete, 1u);
    EXPECT_EQ(peers[p].history().back().neighbours_silent, 1u);
    EXPECT_EQ(transports[p].sent, 8u);  // 10 parameters: one chunk per neighbour per round
    EXPECT_DOUBLE_EQ(peers[p].history().back().accuracy, 1.0);
  }
  // Two rounds wait the timeout for peer 2, then it is presumed gone.
  EXPECT_LT(elapsed, seconds(3));
}

AveragingConfig small_config() {
  AveragingConfig config;
  config.rounds = 3;
  config.shape = {4, 0, 2};
  config.round_timeout = milliseconds(150);
  config.chunk_linger = milliseconds(50);
  return config;
}

Dataset tiny() { return parse_labelled_csv("0,0,0,0,0\n16,16,16,16,1\n0,1,0,1,0\n15,16,14,16,1\n").value(); }

// Peer 1 starts 600 ms after peer 0 (its sessions took longer to punch).
// Without the barrier peer 0 would run its rounds alone on timeouts; with
// it, both wait for each other and every round has the other's model.
TEST(LearnDriver, StartBarrierWaitsForALateNeighbour) {
  const auto config = small_config();
  const Dataset local = tiny();
  Hub hub(2);
  std::vector<AveragingPeer> peers;
  for (std::size_t p = 0; p < 2; ++p)
    peers.emplace_back(config, std::vector<Neighbour>{{1 - p, 600, {}}}, local, Model(config.shape), Rng(p), kTimeZero,
                       &local, StartBarrier{{1 - p}, seconds(5)});
  std::vector<HubPorts> transports{HubPorts(hub, 0), HubPorts(hub, 1)};
  std::vector<io::DriverOutcome> outcomes(2);
  std::vector<std::thread> threads;
  for (std::size_t p = 0; p < 2; ++p)
    threads.emplace_back([&, p] {
      if (p == 1) std::this_thread::sleep_for(milliseconds(600));
      outcomes[p] = io::run_averaging_peer(peers[p], transports[p]);
    });
  for (auto& t : threads) t.join();
  for (std::size_t p = 0; p < 2; ++p) {
    EXPECT_FALSE(outcomes[p].stopped);
    EXPECT_TRUE(outcomes[p].not_heard.empty()) << p;
    ASSERT_EQ(peers[p].history().size(), 3u);
    for (const auto& r : peers[p].history()) {
      EXPECT_EQ(r.neighbours_complete, 1u) << "peer " << p << " round " << r.round;
      EXPECT_FALSE(r.timed_out) << "peer " << p << " round " << r.round;
    }
  }
  // Peer 0 called every 100 ms while it waited; peer 1 heard it at once and
  // sent its READY and GO, plus one GO per READY of peer 0 still queued --
  // never more (GO is never answered, so nothing bounces).
  EXPECT_GE(transports[0].barrier_sent, 4u);
  EXPECT_LE(transports[1].barrier_sent, transports[0].barrier_sent + 2);
}

TEST(LearnDriver, StartBarrierGivesUpOnAnAbsentNeighbourAndSaysWhich) {
  const auto config = small_config();
  const Dataset local = tiny();
  Hub hub(3);
  AveragingPeer peer(config, std::vector<Neighbour>{{1, 600, {}}, {2, 600, {}}}, local, Model(config.shape), Rng(0),
                     kTimeZero, &local, StartBarrier{{1, 2}, milliseconds(400)});
  HubPorts transport(hub, 0);
  // Peer 1 answers READY once, as a started peer does; peer 2 never exists.
  std::thread one([&] {
    if (auto d = hub.take(1, Clock::now() + seconds(2))) {
      const std::vector<std::uint8_t> go{'N', 'P', 'L', 'R', 'N', 'G', 'O', '!'};
      ASSERT_TRUE(is_barrier_datagram(go));
      EXPECT_TRUE(is_ready_datagram(d->bytes));
      hub.post(1, 0, go);
    }
  });
  const auto started = Clock::now();
  const auto outcome = io::run_averaging_peer(peer, transport);
  one.join();
  EXPECT_EQ(outcome.not_heard, (std::vector<std::size_t>{2}));
  EXPECT_TRUE(peer.done());
  EXPECT_LT(Clock::now() - started, seconds(3));
}

TEST(LearnDriver, ShouldStopEndsTheBarrierAndTheRounds) {
  auto config = small_config();
  config.rounds = 1000;
  const Dataset local = tiny();
  Hub hub(2);
  HubPorts transport(hub, 0);
  for (bool barrier : {true, false}) {
    AveragingPeer peer(config, std::vector<Neighbour>{{1, 600, {}}}, local, Model(config.shape), Rng(0), kTimeZero, &local,
                       barrier ? StartBarrier{{1}, seconds(30)} : StartBarrier{});
    io::LearningDriverOptions options;
    const auto started = Clock::now();
    options.should_stop = [&] { return Clock::now() - started > milliseconds(300); };
    const auto outcome = io::run_averaging_peer(peer, transport, options);
    EXPECT_TRUE(outcome.stopped) << barrier;
    EXPECT_LT(Clock::now() - started, seconds(2)) << barrier;
    EXPECT_FALSE(peer.done()) << barrier;
    // Stuck at the barrier, or through some rounds on timeouts.
    EXPECT_EQ(peer.started(), !barrier);
    if (!barrier) {
      EXPECT_GT(peer.history().size(), 0u);
    }
  }
}

}  // namespace
}  // namespace natpunch::learn

// The real-clock driver (io/learning_driver.hpp) runs the same averaging
// peers over any LearningTransport: here an in-memory hub between threads,
// with one neighbour that never shows up.
#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "io/learning_driver.hpp"
#include "learn/dataset.hpp"

namespace natpunch::learn {
namespace {

class Hub {
 public:
  explicit Hub(std::size_t peers) : inboxes_(peers) {}
  void post(std::size_t from, std::size_t to, std::span<const std::uint8_t> bytes) {
    std::lock_guard lock(mutex_);
    inboxes_[to].push_back(TransportDatagram{from, {bytes.begin(), bytes.end()}});
    changed_.notify_all();
  }
  std::optional<TransportDatagram> take(std::size_t me, TimePoint until) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_until(lock, until, [&] { return !inboxes_[me].empty(); })) return std::nullopt;
    auto d = std::move(inboxes_[me].front());
    inboxes_[me].pop_front();
    return d;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::deque<TransportDatagram>> inboxes_;
};

class HubTransport final : public LearningTransport {
 public:
  HubTransport(Hub& hub, std::size_t me) : hub_(hub), me_(me) {}
  std::size_t max_datagram(std::size_t) const override { return 600; }
  bool send(std::size_t peer, std::span<const std::uint8_t> bytes) override {
    ++sent;
    hub_.post(me_, peer, bytes);
    return true;
  }
  std::optional<TransportDatagram> receive(TimePoint until) override { return hub_.take(me_, until); }
  std::string route(std::size_t) const override { return "direct"; }
  std::size_t sent = 0;

 private:
  Hub& hub_;
  std::size_t me_;
};

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
    peers.emplace_back(config, std::vector<Neighbour>{{1 - p, 600}, {2, 600}}, local, Model(config.shape), Rng(p), &local);
  std::vector<HubTransport> transports{HubTransport(hub, 0), HubTransport(hub, 1)};
  const auto started = Clock::now();
  std::vector<std::thread> threads;
  std::vector<std::size_t> rounds_seen(2, 0);
  for (std::size_t p = 0; p < 2; ++p)
    threads.emplace_back([&, p] {
      io::LearningDriverOptions options;
      options.on_round = [&, p](const RoundRecord&) { ++rounds_seen[p]; };
      options.should_stop = [&] { return Clock::now() - started > seconds(10); };
      io::run_averaging_peer(peers[p], transports[p], [] { return Clock::now(); }, options);
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

}  // namespace
}  // namespace natpunch::learn

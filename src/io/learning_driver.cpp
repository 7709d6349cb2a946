#include "io/learning_driver.hpp"

#include <algorithm>
#include <array>
#include <set>

namespace natpunch::io {

namespace {
// READY: "I am waiting"; GO: "I have started" (never answered, so two
// started peers cannot bounce barrier datagrams between them).
constexpr std::array<std::uint8_t, 8> kReady{'N', 'P', 'L', 'R', 'N', 'R', 'D', 'Y'};
constexpr std::array<std::uint8_t, 8> kGo{'N', 'P', 'L', 'R', 'N', 'G', 'O', '!'};
constexpr auto kReadyInterval = milliseconds(100);
}  // namespace

bool is_ready_datagram(std::span<const std::uint8_t> bytes) {
  return bytes.size() == kReady.size() && std::equal(bytes.begin(), bytes.end(), kReady.begin());
}

bool is_barrier_datagram(std::span<const std::uint8_t> bytes) {
  return is_ready_datagram(bytes) || (bytes.size() == kGo.size() && std::equal(bytes.begin(), bytes.end(), kGo.begin()));
}

DriverOutcome run_averaging_peer(learn::AveragingPeer& peer, learn::LearningTransport& transport,
                                 const std::function<TimePoint()>& now, const LearningDriverOptions& options) {
  DriverOutcome outcome;
  const auto stop = [&] { return options.should_stop && options.should_stop(); };

  // The start barrier.
  std::vector<learn::TransportDatagram> early;
  std::set<std::size_t> silent(options.wait_for.begin(), options.wait_for.end());
  if (!silent.empty()) {
    const auto give_up = now() + options.start_wait;
    TimePoint next_ready = now();
    while (!silent.empty() && now() < give_up) {
      if (stop()) {
        outcome.stopped = true;
        return outcome;
      }
      if (now() >= next_ready) {
        for (auto p : options.wait_for) transport.send(p, kReady);
        next_ready = now() + kReadyInterval;
      }
      auto datagram = transport.receive(std::min(next_ready, give_up));
      if (!datagram) continue;
      if (silent.erase(datagram->from) > 0 && options.on_waiting)
        options.on_waiting(options.wait_for.size() - silent.size(), options.wait_for.size());
      if (!is_barrier_datagram(datagram->bytes)) early.push_back(std::move(*datagram));
    }
    // Once more, so a neighbour that heard nothing from us yet can start too.
    for (auto p : options.wait_for) transport.send(p, kGo);
    outcome.not_heard.assign(silent.begin(), silent.end());
  }

  std::size_t reported = 0;
  auto flush = [&] {
    for (auto& d : peer.poll_transmit()) transport.send(d.to, d.bytes);
    if (options.on_round)
      while (reported < peer.history().size()) options.on_round(peer.history()[reported++]);
  };
  peer.start(now());
  for (auto& d : early) peer.on_datagram(now(), d.from, d.bytes);
  flush();
  while (!peer.done()) {
    if (stop()) {
      outcome.stopped = true;
      return outcome;
    }
    // Wake at the peer's deadline, and often enough to notice should_stop.
    TimePoint until = now() + milliseconds(100);
    if (auto deadline = peer.next_deadline()) until = std::min(until, *deadline);
    if (auto datagram = transport.receive(until)) {
      if (is_ready_datagram(datagram->bytes)) transport.send(datagram->from, kGo);  // a late starter
      else if (!is_barrier_datagram(datagram->bytes)) peer.on_datagram(now(), datagram->from, datagram->bytes);
    }
    // Also under a steady stream of datagrams: a no-op unless a deadline passed.
    peer.on_timer(now());
    flush();
  }
  return outcome;
}

}  // namespace natpunch::io

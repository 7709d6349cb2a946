#include "io/learning_driver.hpp"

#include <algorithm>

namespace natpunch::io {

void run_averaging_peer(learn::AveragingPeer& peer, learn::LearningTransport& transport, const std::function<TimePoint()>& now,
                        const LearningDriverOptions& options) {
  std::size_t reported = 0;
  auto flush = [&] {
    for (auto& d : peer.poll_transmit()) transport.send(d.to, d.bytes);
    if (options.on_round)
      while (reported < peer.history().size()) options.on_round(peer.history()[reported++]);
  };
  peer.start(now());
  flush();
  while (!peer.done()) {
    if (options.should_stop && options.should_stop()) return;
    // Wake at the peer's deadline, and often enough to notice should_stop.
    TimePoint until = now() + milliseconds(100);
    if (auto deadline = peer.next_deadline()) until = std::min(until, *deadline);
    if (auto datagram = transport.receive(until)) peer.on_datagram(now(), datagram->from, datagram->bytes);
    // Also under a steady stream of datagrams: a no-op unless a deadline passed.
    peer.on_timer(now());
    flush();
  }
}

}  // namespace natpunch::io

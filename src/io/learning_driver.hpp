#pragma once
// Runs one AveragingPeer on the real clock over any datagram ports
// (io/session_ports.hpp in a real run): the same machine the simulator
// drives in virtual time (sim/learning_simulation.hpp), start barrier
// included (learn/averaging_peer.hpp), on the one real-time loop.
#include <functional>
#include <variant>
#include <vector>

#include "io/machine_driver.hpp"
#include "learn/averaging_peer.hpp"

namespace natpunch::io {

struct LearningDriverOptions {
  std::function<bool()> should_stop;                                  // polled at least every 100 ms
  std::function<void(const learn::RoundRecord&)> on_round;           // after each finished round
  std::function<void(std::size_t heard, std::size_t of)> on_waiting;  // the start barrier heard one more
};

struct DriverOutcome {
  bool stopped = false;                // should_stop ended it
  std::vector<std::size_t> not_heard;  // neighbours still silent when the barrier gave up
};

// Returns when the peer has done all its rounds or should_stop said so.
template <DatagramPorts P>
DriverOutcome run_averaging_peer(learn::AveragingPeer& peer, P& ports, const LearningDriverOptions& options = {}) {
  DriverOutcome outcome;
  const auto on_event = [&](const learn::LearnEvent& event) {
    if (const auto* round = std::get_if<learn::learn_event::RoundFinished>(&event); round && options.on_round)
      options.on_round(round->record);
    if (const auto* waiting = std::get_if<learn::learn_event::Waiting>(&event); waiting && options.on_waiting)
      options.on_waiting(waiting->heard, waiting->of);
    if (const auto* started = std::get_if<learn::learn_event::Started>(&event)) outcome.not_heard = started->not_heard;
  };
  const auto stop = [&] {
    if (peer.done()) return true;
    outcome.stopped = options.should_stop && options.should_stop();
    return outcome.stopped;
  };
  run_machine(peer, ports, stop, on_event);
  return outcome;
}

}  // namespace natpunch::io

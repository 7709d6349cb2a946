#pragma once
// Runs one AveragingPeer over a LearningTransport on the real clock: the
// same state machine the simulator drives in virtual time.
//
// Real peers open their sessions at different moments (punching one pair
// can take seconds longer than another), so before round 1 the driver can
// wait at a start barrier: it sends a small READY datagram to every
// neighbour every 100 ms until it has heard something from each of them (a
// READY or already a model chunk) or `start_wait` has passed. Chunks that
// arrive while waiting are kept and handed to the peer once it started. A
// READY that arrives later is answered with one GO (never answered itself), so a neighbour whose
// first ones were lost does not wait for nothing.
#include <functional>
#include <span>
#include <vector>

#include "learn/averaging_peer.hpp"
#include "learn/learning_transport.hpp"

namespace natpunch::io {

struct LearningDriverOptions {
  std::function<bool()> should_stop;                                 // polled at least every 100 ms
  std::function<void(const learn::RoundRecord&)> on_round;          // after each finished round
  // Start barrier: the neighbours to wait for (empty: start at once) and for how long at most.
  std::vector<std::size_t> wait_for;
  Duration start_wait = seconds(10);
  std::function<void(std::size_t heard, std::size_t of)> on_waiting;  // after each change while waiting
};

// The start barrier's datagrams: 8 bytes no model chunk can be (chunks start with their own magic).
bool is_ready_datagram(std::span<const std::uint8_t> bytes);    // "waiting": answered by a started peer
bool is_barrier_datagram(std::span<const std::uint8_t> bytes);  // READY or GO

struct DriverOutcome {
  bool stopped = false;                  // should_stop ended it
  std::vector<std::size_t> not_heard;    // neighbours still silent when the barrier gave up
};

// Returns when the peer has done all its rounds or should_stop said so.
// `now` is the clock (steady_clock::now in production).
DriverOutcome run_averaging_peer(learn::AveragingPeer& peer, learn::LearningTransport& transport,
                                 const std::function<TimePoint()>& now, const LearningDriverOptions& options = {});

}  // namespace natpunch::io

#pragma once
// Runs one AveragingPeer over a LearningTransport on the real clock: the
// same state machine the simulator drives in virtual time.
#include <functional>

#include "learn/averaging_peer.hpp"
#include "learn/learning_transport.hpp"

namespace natpunch::io {

struct LearningDriverOptions {
  std::function<bool()> should_stop;                                 // polled at least every 100 ms
  std::function<void(const learn::RoundRecord&)> on_round;          // after each finished round
};

// Returns when the peer has done all its rounds or should_stop said so.
// `now` is the clock (steady_clock::now in production).
void run_averaging_peer(learn::AveragingPeer& peer, learn::LearningTransport& transport, const std::function<TimePoint()>& now,
                        const LearningDriverOptions& options = {});

}  // namespace natpunch::io

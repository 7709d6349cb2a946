#pragma once
// What `natpunch turn allocate` does with a peer once its channel is bound:
// round trips (one datagram at a time, waiting for the echo) and a flood
// (as fast as a window of datagrams in flight allows, for throughput).
// The peer must echo what it receives (coturn's turnutils_peer does).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/endpoint.hpp"
#include "core/time.hpp"
#include "io/stop_signals.hpp"
#include "io/turn_client_runner.hpp"

namespace natpunch::cli {

struct ExchangeOutcome {
  std::uint64_t sent = 0;
  std::uint64_t received = 0;          // echoes that came back intact
  std::uint64_t bytes_received = 0;
  std::vector<double> rtt_ms;          // round trips (pings only)
  Duration elapsed{};                  // first send -> last echo (flood) or whole run (pings)
  std::optional<TimePoint> first_echo; // when the first intact echo arrived (pings)
  std::string error;                   // the allocation failed meanwhile (one line), else empty
  bool interrupted = false;
};

// `count` pings of `size` bytes to `peer`, one at a time; each waits up to
// `wait` for its echo (a lost one counts as sent, not received).
ExchangeOutcome ping_peer(io::TurnClientRunner& runner, const Endpoint& peer, int count, std::size_t size,
                          Duration wait, const io::StopSignals& stop);

// Datagrams of `size` bytes to `peer` for `duration`, with at most `window`
// unanswered at once (one silent for 250 ms is given up as lost).
ExchangeOutcome flood_peer(io::TurnClientRunner& runner, const Endpoint& peer, Duration duration, std::size_t size,
                           std::size_t window, const io::StopSignals& stop);

}  // namespace natpunch::cli

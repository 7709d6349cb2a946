#pragma once
// Runs a TURN client machine (turn/client.hpp) on a TurnLink with the real
// clock: sends what the machine hands out, waits for input or the machine's
// next deadline, feeds both back, and collects the machine's events for
// the caller. The CLI's `natpunch turn` and the benchmarks drive TURN
// through it.
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/rng.hpp"
#include "io/turn_link.hpp"
#include "turn/client.hpp"

namespace natpunch::io {

class TurnClientRunner {
 public:
  TurnClientRunner(std::unique_ptr<TurnLink> link, turn::ClientConfig config, std::uint64_t seed);

  turn::Client& client() { return client_; }
  TurnLink& link() { return *link_; }

  // Sends what the machine has queued, then waits for input until the
  // machine's next deadline or `until`, whichever is first, and feeds it
  // what came (or the timer). A closed or broken connection is reported to
  // the machine, which then ends with Failed.
  void step(TimePoint until);
  // Pushes the machine's queued datagrams onto the link now.
  void flush();
  // step() until `stop` accepts an event (returned), the machine is done,
  // or `deadline` passes (nullopt). Every event goes to `stop` in order.
  std::optional<turn::ClientEvent> run_until(TimePoint deadline,
                                             const std::function<bool(const turn::ClientEvent&)>& stop);
  // The first error the link reported on sending (a send that failed is
  // handled by the machine like a lost datagram).
  const std::optional<std::string>& send_error() const { return send_error_; }

 private:
  std::unique_ptr<TurnLink> link_;
  Rng rng_;
  turn::Client client_;
  std::optional<std::string> send_error_;
  bool link_down_ = false;
};

}  // namespace natpunch::io

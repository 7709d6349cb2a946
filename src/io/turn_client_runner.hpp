#pragma once
// Runs a TURN client machine (turn/client.hpp) on its TurnLink with the
// project's one real-time loop (io/machine_driver.hpp), and tells the
// machine when a TCP/TLS connection has ended. `natpunch turn` and the
// benchmark drive TURN through it.
#include <deque>
#include <functional>
#include <memory>
#include <optional>

#include "core/rng.hpp"
#include "io/turn_link.hpp"
#include "turn/client.hpp"

namespace natpunch::io {

class TurnClientRunner {
 public:
  TurnClientRunner(std::unique_ptr<TurnLink> link, turn::ClientConfig config, std::uint64_t seed);

  turn::Client& client() { return client_; }
  TurnLink& link() { return *link_; }

  using EventHandler = std::function<void(const turn::ClientEvent&)>;
  // Runs the machine until `stop` holds or the machine is done, handing
  // every event to `on_event`. Whatever the caller queued on the machine
  // (send(), bind_channel(), ...) goes out first.
  void run(const std::function<bool()>& stop, const EventHandler& on_event);
  // run() until `accept` takes an event (returned), the machine is done,
  // `stopped` holds, or `deadline` passes (nullopt). Events `accept`
  // declines go to `others` when given; events after the taken one wait
  // for the next run.
  std::optional<turn::ClientEvent> run_until(TimePoint deadline,
                                             const std::function<bool(const turn::ClientEvent&)>& accept,
                                             const std::function<bool()>& stopped = [] { return false; },
                                             const EventHandler& others = {});

 private:
  std::unique_ptr<TurnLink> link_;
  Rng rng_;
  turn::Client client_;
  std::deque<turn::ClientEvent> backlog_;
};

}  // namespace natpunch::io

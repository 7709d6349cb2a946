#include "io/turn_client_runner.hpp"

#include "io/machine_driver.hpp"

namespace natpunch::io {

TurnClientRunner::TurnClientRunner(std::unique_ptr<TurnLink> link, turn::ClientConfig config, std::uint64_t seed)
    : link_(std::move(link)), rng_(seed), client_(std::move(config), rng_) {}

void TurnClientRunner::run(const std::function<bool()>& stop, const EventHandler& on_event) {
  while (!backlog_.empty() && !stop()) {
    const turn::ClientEvent event = std::move(backlog_.front());
    backlog_.pop_front();
    on_event(event);
  }
  // Sends what the caller queued even when `stop` already holds.
  run_machine(client_, *link_, [&] { return stop() || client_.done() || link_->closed(); }, on_event);
  if (link_->closed() && !client_.done()) {
    client_.on_connection_closed(Clock::now());
    while (auto event = client_.poll_event()) on_event(*event);
  }
}

std::optional<turn::ClientEvent> TurnClientRunner::run_until(
    TimePoint deadline, const std::function<bool(const turn::ClientEvent&)>& accept,
    const std::function<bool()>& stopped, const EventHandler& others) {
  std::optional<turn::ClientEvent> taken;
  run([&] { return taken.has_value() || stopped() || Clock::now() >= deadline; },
      [&](const turn::ClientEvent& event) {
        if (taken)
          backlog_.push_back(event);
        else if (accept(event))
          taken = event;
        else if (others)
          others(event);
      });
  return taken;
}

}  // namespace natpunch::io

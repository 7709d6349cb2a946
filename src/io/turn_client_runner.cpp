#include "io/turn_client_runner.hpp"

#include <algorithm>
#include <thread>

namespace natpunch::io {

TurnClientRunner::TurnClientRunner(std::unique_ptr<TurnLink> link, turn::ClientConfig config, std::uint64_t seed)
    : link_(std::move(link)), rng_(seed), client_(std::move(config), rng_) {}

void TurnClientRunner::flush() {
  const TimePoint now = Clock::now();
  while (auto out = client_.poll_transmit(now)) {
    if (link_down_) continue;
    std::string error;
    if (!link_->send(out->bytes, error) && !send_error_) send_error_ = error;
  }
}

void TurnClientRunner::step(TimePoint until) {
  flush();
  if (client_.done()) return;
  TimePoint deadline = until;
  if (const auto machine = client_.next_deadline()) deadline = std::min(deadline, *machine);
  if (link_down_) {
    // Nothing can arrive any more; only the machine's timers run.
    std::this_thread::sleep_until(deadline);
  }
  std::string error;
  const auto status =
      link_down_ ? TurnLink::Wait::kTimeout
                 : link_->wait(deadline,
                               [&](const Endpoint& from, std::span<const std::uint8_t> bytes) {
                                 client_.on_datagram(Clock::now(), 0, from, bytes);
                               },
                               error);
  const TimePoint now = Clock::now();
  if (status == TurnLink::Wait::kClosed || status == TurnLink::Wait::kFailed) {
    link_down_ = true;
    if (status == TurnLink::Wait::kFailed && !send_error_) send_error_ = error;
    client_.on_connection_closed(now);
  }
  if (const auto machine = client_.next_deadline(); machine && now >= *machine) client_.on_timer(now);
}

std::optional<turn::ClientEvent> TurnClientRunner::run_until(
    TimePoint deadline, const std::function<bool(const turn::ClientEvent&)>& stop) {
  for (;;) {
    while (auto event = client_.poll_event())
      if (stop(*event)) {
        flush();
        return event;
      }
    if (client_.done() || Clock::now() >= deadline) {
      flush();
      return std::nullopt;
    }
    step(deadline);
  }
}

}  // namespace natpunch::io

#include "io/punch_driver.hpp"

#include <poll.h>

#include <algorithm>

namespace natpunch::io {

PunchDriver::PunchDriver(UdpClient& socket0, PunchDriverOptions options)
    : socket0_(socket0), options_(std::move(options)) {}

bool PunchDriver::ensure_socket(std::uint32_t index) {
  while (sockets_open() <= index) {
    // Same address as socket 0 (so the same route and NAT), any free port:
    // each new socket is a new mapping, which is the point.
    Endpoint bind = socket0_.bound_endpoint();
    bind.port = 0;
    auto opened = UdpClient::open(bind);
    if (!opened) {
      if (!first_error_) first_error_ = opened.error();
      return false;
    }
    extra_.push_back(std::move(opened.value()));
  }
  return true;
}

bool PunchDriver::send(std::uint32_t socket_index, const Endpoint& to, std::span<const std::uint8_t> bytes) {
  if (!ensure_socket(socket_index)) return false;
  std::string error;
  if (socket(socket_index).send(to, bytes, error)) return true;
  if (!first_error_) first_error_ = error;
  return false;
}

void PunchDriver::flush(punch::PunchStrategy& strategy) {
  // Bounded: a strategy never has more than a handful of datagrams due at
  // once, but a bug there must not hang the process.
  for (int i = 0; i < 1024; ++i) {
    auto d = strategy.poll_transmit(Clock::now());
    if (!d) break;
    send(d->socket, d->to, d->bytes);
  }
}

void PunchDriver::pump(punch::PunchStrategy& strategy, std::uint32_t socket_index, const Endpoint& from,
                       std::span<const std::uint8_t> bytes) {
  strategy.on_datagram(Clock::now(), socket_index, from, bytes);
  flush(strategy);
}

std::optional<PunchDriver::Received> PunchDriver::receive_until(TimePoint deadline) {
  for (;;) {
    const std::uint32_t count = sockets_open();
    for (std::uint32_t k = 0; k < count; ++k) {
      const std::uint32_t i = (next_receive_ + k) % count;
      // A deadline in the past makes UdpClient try exactly once, without waiting.
      if (auto d = socket(i).receive_until(TimePoint{})) {
        next_receive_ = (i + 1) % count;
        return Received{i, d->from, d->bytes};
      }
    }
    const auto now = Clock::now();
    if (now >= deadline) return std::nullopt;
    std::vector<pollfd> fds;
    fds.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) fds.push_back(pollfd{socket(i).native_handle(), POLLIN, 0});
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(wait, 60'000)));
  }
}

PunchRun PunchDriver::run(punch::PunchStrategy& strategy, TimePoint start) {
  PunchRun out;
  TimePoint next_progress = Clock::now();
  for (;;) {
    if (options_.should_stop && options_.should_stop()) {
      out.interrupted = true;
      break;
    }
    if (options_.on_wake) options_.on_wake();
    flush(strategy);
    if (strategy.done()) break;
    auto now = Clock::now();
    if (options_.on_progress && now >= next_progress) {
      options_.on_progress(PunchProgress{now - start, strategy.result().probes_sent, sockets_open()});
      next_progress = now + options_.progress_interval;
    }
    const auto deadline = strategy.next_deadline();
    const auto wake = std::min(deadline.value_or(now + options_.max_wait), now + options_.max_wait);
    if (auto d = receive_until(wake)) {
      if (!options_.intercept || !options_.intercept(d->socket, d->from, d->bytes))
        strategy.on_datagram(Clock::now(), d->socket, d->from, d->bytes);
    }
    now = Clock::now();
    if (deadline && now >= *deadline) strategy.on_timer(now);
  }
  out.result = strategy.result();
  out.first_error = first_error_;
  return out;
}

}  // namespace natpunch::io

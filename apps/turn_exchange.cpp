#include "turn_exchange.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <variant>

#include "core/bytes.hpp"

namespace natpunch::cli {
namespace {

// Each datagram: "NPTX", a sequence number, then filler up to `size`.
constexpr std::uint8_t kMagic[4] = {'N', 'P', 'T', 'X'};
constexpr std::size_t kHeader = 12;
constexpr Duration kGiveUp = milliseconds(250);

std::vector<std::uint8_t> datagram(std::uint64_t sequence, std::size_t size) {
  std::vector<std::uint8_t> out(std::max(size, kHeader));
  std::memcpy(out.data(), kMagic, 4);
  store_be64(out.data() + 4, sequence);
  for (std::size_t i = kHeader; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(sequence + i);
  return out;
}

// The sequence number of an intact echo of ours, else nullopt.
std::optional<std::uint64_t> echoed(std::span<const std::uint8_t> bytes, std::size_t size) {
  if (bytes.size() != std::max(size, kHeader) || std::memcmp(bytes.data(), kMagic, 4) != 0) return std::nullopt;
  const std::uint64_t sequence = load_be64(bytes.data() + 4);
  const auto expected = datagram(sequence, size);
  if (!std::equal(expected.begin(), expected.end(), bytes.begin())) return std::nullopt;
  return sequence;
}

// The handler of the machine's events during an exchange: echoes from
// `peer` go to `on_echo`; a failure ends the exchange with its message.
template <class OnEcho>
auto echo_handler(const Endpoint& peer, std::size_t size, ExchangeOutcome& out, OnEcho& on_echo) {
  return [&peer, size, &out, &on_echo](const turn::ClientEvent& event) {
    if (const auto* data = std::get_if<turn::client_event::PeerData>(&event)) {
      if (data->peer != peer) return;
      if (const auto sequence = echoed(data->payload, size)) on_echo(*sequence);
    } else if (const auto* failed = std::get_if<turn::client_event::Failed>(&event)) {
      out.error = failed->error.message;
    }
  };
}

}  // namespace

ExchangeOutcome ping_peer(io::TurnClientRunner& runner, const Endpoint& peer, int count, std::size_t size,
                          Duration wait, const io::StopSignals& stop) {
  ExchangeOutcome out;
  const TimePoint started = Clock::now();
  for (int i = 0; i < count; ++i) {
    if (stop.requested()) {
      out.interrupted = true;
      break;
    }
    const auto sequence = static_cast<std::uint64_t>(i);
    const TimePoint sent_at = Clock::now();
    if (!runner.client().send(sent_at, peer, datagram(sequence, size))) {
      out.error = "the allocation is gone; nothing can be sent";
      break;
    }
    ++out.sent;
    bool answered = false;
    const TimePoint deadline = sent_at + wait;
    auto on_echo = [&](std::uint64_t s) {
      if (s != sequence || answered) return;
      answered = true;
      if (!out.first_echo) out.first_echo = Clock::now();
      ++out.received;
      out.bytes_received += size;
      out.rtt_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent_at).count());
    };
    runner.run([&] { return answered || !out.error.empty() || stop.requested() || Clock::now() >= deadline; },
               echo_handler(peer, size, out, on_echo));
    if (!out.error.empty() || runner.client().done()) break;
  }
  out.elapsed = Clock::now() - started;
  return out;
}

ExchangeOutcome flood_peer(io::TurnClientRunner& runner, const Endpoint& peer, Duration duration, std::size_t size,
                           std::size_t window, const io::StopSignals& stop) {
  ExchangeOutcome out;
  std::map<std::uint64_t, TimePoint> in_flight;
  const TimePoint started = Clock::now();
  const TimePoint stop_sending = started + duration;
  TimePoint last_echo = started;
  std::uint64_t next = 0;
  for (;;) {
    TimePoint now = Clock::now();
    if (stop.requested()) out.interrupted = true;
    const bool sending = now < stop_sending && !out.interrupted;
    // Give up on datagrams silent for too long (lost on the way).
    for (auto it = in_flight.begin(); it != in_flight.end() && now - it->second > kGiveUp;) it = in_flight.erase(it);
    if (!sending && in_flight.empty()) break;
    while (sending && in_flight.size() < window) {
      if (!runner.client().send(now, peer, datagram(next, size))) {
        out.error = "the allocation is gone; nothing can be sent";
        return out;
      }
      in_flight.emplace(next++, now);
      ++out.sent;
    }
    const TimePoint wake = std::min(now + milliseconds(10), sending ? stop_sending : now + kGiveUp);
    auto on_echo = [&](std::uint64_t s) {
      if (in_flight.erase(s) == 0) return;  // given up already, or a duplicate
      ++out.received;
      out.bytes_received += size;
      last_echo = Clock::now();
    };
    runner.run(
        [&] {
          return !out.error.empty() || (sending && in_flight.size() < window) || (!sending && in_flight.empty()) ||
                 Clock::now() >= wake;
        },
        echo_handler(peer, size, out, on_echo));
    if (!out.error.empty() || runner.client().done()) break;
  }
  out.elapsed = last_echo - started;
  return out;
}

}  // namespace natpunch::cli

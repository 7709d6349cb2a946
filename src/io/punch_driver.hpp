#pragma once
// Runs any punch::PunchStrategy on real UDP sockets (the driver loop that
// punch_strategy.hpp describes). Socket 0 is a socket the caller already
// bound — the one that registered at the rendezvous, so its NAT mapping is
// the endpoint the peer was told; sockets 1 .. socket_count()-1 are bound
// on demand (any free port on socket 0's address) the first time the
// strategy sends from them, and listened on from then on.
//
// Datagrams that are not for the strategy (rendezvous traffic on socket 0)
// can be claimed by `intercept` before the strategy sees them. The loop
// wakes at least every `max_wait` to ask `should_stop` (Ctrl-C), so a stop
// never waits for a long deadline. Plain poll() + sendto(): batching
// (sendmmsg) is a later issue.
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/udp_client.hpp"
#include "punch/punch_strategy.hpp"

namespace natpunch::io {

struct PunchProgress {
  Duration elapsed{};  // since the strategy's start (negative while waiting for it)
  std::uint64_t probes_sent = 0;
  std::uint32_t sockets_open = 0;
};

struct PunchDriverOptions {
  // Polled once per wake-up; true ends run() with interrupted set.
  std::function<bool()> should_stop;
  // Sees every datagram first; returns true when it consumed it.
  std::function<bool(std::uint32_t socket, const Endpoint& from, std::span<const std::uint8_t> bytes)> intercept;
  // Called once per wake-up (at least every max_wait): lets another machine
  // on socket 0 (the rendezvous client's refreshes) keep its timers.
  std::function<void()> on_wake;
  std::function<void(const PunchProgress&)> on_progress;
  Duration progress_interval = milliseconds(500);
  Duration max_wait = milliseconds(50);
};

struct PunchRun {
  punch::PunchResult result;
  bool interrupted = false;
  std::optional<std::string> first_error;  // first bind/send failure (treated like loss)
};

class PunchDriver {
 public:
  // `socket0` must outlive the driver.
  PunchDriver(UdpClient& socket0, PunchDriverOptions options);

  // Drives `strategy` (whose first probe is due at `start`) until done()
  // or should_stop. The strategy stays usable afterwards: pump() keeps
  // answering a peer that missed our last handshake message.
  PunchRun run(punch::PunchStrategy& strategy, TimePoint start);

  // Feeds one datagram to `strategy` and sends what it answers.
  void pump(punch::PunchStrategy& strategy, std::uint32_t socket, const Endpoint& from,
            std::span<const std::uint8_t> bytes);
  // Sends every datagram the strategy has due now.
  void flush(punch::PunchStrategy& strategy);

  // Socket `index` (bound by now: the strategy used it). Valid while the driver lives.
  UdpClient& socket(std::uint32_t index) { return index == 0 ? socket0_ : *extra_.at(index - 1); }
  std::uint32_t sockets_open() const { return 1 + static_cast<std::uint32_t>(extra_.size()); }

  // Waits until `deadline` for a datagram on any open socket; nullopt on
  // timeout. The bytes stay valid until the next call.
  struct Received {
    std::uint32_t socket = 0;
    Endpoint from;
    std::span<const std::uint8_t> bytes;
  };
  std::optional<Received> receive_until(TimePoint deadline);
  bool send(std::uint32_t socket, const Endpoint& to, std::span<const std::uint8_t> bytes);

 private:
  bool ensure_socket(std::uint32_t index);

  UdpClient& socket0_;
  PunchDriverOptions options_;
  std::vector<std::unique_ptr<UdpClient>> extra_;  // socket i is extra_[i - 1]
  std::uint32_t next_receive_ = 0;                 // round-robin so one busy socket cannot starve the rest
  std::optional<std::string> first_error_;
};

}  // namespace natpunch::io

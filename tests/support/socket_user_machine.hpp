#pragma once
// A test machine with the contract's optional socket parts
// (core/transmit.hpp): sends and releases what it is told to at given
// times (kTimeZero: at once), and records what its driver tells it --
// bound ports, send errors, the sockets datagrams came in on. The
// simulator's host and the real-time loop are tested with it.
#include <deque>
#include <optional>
#include <span>
#include <utility>
#include <variant>
#include <vector>

#include "core/transmit.hpp"

namespace natpunch::test {

// A machine with the contract's optional socket parts: sends and releases
// what it is told to at given times, and records what the host tells it.
class SocketUser {
 public:
  struct Bound {
    SocketId socket;
    Endpoint local;
  };
  struct Failed {
    SocketId socket;
    SendError error;
  };

  void send_at(TimePoint at, Transmit t, SocketOptions options = {}) {
    options_.emplace_back(t.socket, options);
    steps_.push_back({at, std::move(t), std::nullopt});
  }
  void release_at(TimePoint at, SocketId socket) { steps_.push_back({at, {}, socket}); }

  void on_datagram(TimePoint, SocketId socket, const Endpoint&, std::span<const std::uint8_t>) {
    heard.push_back(socket);
  }
  std::optional<Transmit> poll_transmit(TimePoint) { return take_front(out_); }
  std::optional<TimePoint> next_deadline() const {
    if (steps_.empty()) return std::nullopt;
    return steps_.front().at;
  }
  void on_timer(TimePoint now) {
    while (!steps_.empty() && steps_.front().at <= now) {
      if (steps_.front().release) releases_.push_back(*steps_.front().release);
      else out_.push_back(std::move(steps_.front().send));
      steps_.pop_front();
    }
  }
  std::optional<std::monostate> poll_event() { return std::nullopt; }
  SocketOptions socket_options(SocketId socket) {
    for (auto it = options_.begin(); it != options_.end(); ++it)
      if (it->first == socket) {
        const SocketOptions o = it->second;
        options_.erase(it);
        return o;
      }
    return {};
  }
  void on_socket_bound(TimePoint, SocketId socket, const Endpoint& local) { bound.push_back({socket, local}); }
  std::optional<SocketId> poll_socket_release() { return take_front(releases_); }
  void on_send_error(TimePoint, SocketId socket, const Endpoint&, SendError error) { failed.push_back({socket, error}); }

  std::vector<SocketId> heard;
  std::vector<Bound> bound;
  std::vector<Failed> failed;

 private:
  struct Step {
    TimePoint at;
    Transmit send;
    std::optional<SocketId> release;
  };
  std::deque<Step> steps_;
  std::deque<Transmit> out_;
  std::deque<SocketId> releases_;
  std::vector<std::pair<SocketId, SocketOptions>> options_;
};
static_assert(ProtocolMachine<SocketUser> && ChoosesSocketOptions<SocketUser> && WatchesSocketBinding<SocketUser> &&
              ReleasesSockets<SocketUser> && HearsSendErrors<SocketUser>);

}  // namespace natpunch::test

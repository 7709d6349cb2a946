#pragma once
// rendezvous::Server on the machine contract (core/transmit.hpp), so the one
// simulator host (sim/machine_host.hpp) runs it like any machine: one
// socket (0); handle() answers each datagram with the server's transmits,
// on_timer() runs its expiry. It reports no events.
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <variant>

#include "core/transmit.hpp"
#include "rendezvous/server.hpp"

namespace natpunch::rendezvous {

class ServerMachine {
 public:
  ServerMachine(ServerConfig config, RandomBytes random, TimePoint now)
      : server_(std::make_unique<Server>(std::move(config), std::move(random), now)) {}

  void on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes) {
    if (socket != 0) return;
    for (auto& t : server_->handle(now, bytes, from)) out_.push_back(natpunch::Transmit{0, t.to, DatagramBytes(std::move(t.bytes))});
  }
  std::optional<natpunch::Transmit> poll_transmit(TimePoint) {
    if (out_.empty()) return std::nullopt;
    natpunch::Transmit t = std::move(out_.front());
    out_.pop_front();
    return t;
  }
  std::optional<TimePoint> next_deadline() const { return server_->next_deadline(); }
  void on_timer(TimePoint now) { server_->on_timer(now); }
  std::optional<std::monostate> poll_event() { return std::nullopt; }

  Server& server() { return *server_; }

 private:
  std::unique_ptr<Server> server_;  // movable machine around a server that is not
  std::deque<natpunch::Transmit> out_;
};

static_assert(ProtocolMachine<ServerMachine>);

}  // namespace natpunch::rendezvous

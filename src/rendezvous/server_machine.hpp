#pragma once
// rendezvous::Server on the machine contract (core/transmit.hpp), so the one
// simulator host (sim/machine_host.hpp) runs it like any machine: one
// socket (0), or one per listening address (an IPv4 and an IPv6 one, as
// `rendezvous --listen A,B`); handle() answers each datagram with the
// server's transmits, each through the socket of its destination's family;
// on_timer() runs its expiry. It reports no events.
#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "core/transmit.hpp"
#include "rendezvous/server.hpp"

namespace natpunch::rendezvous {

class ServerMachine {
 public:
  // `listen`: socket i's address (empty: one socket, 0, of any family).
  ServerMachine(ServerConfig config, RandomBytes random, TimePoint now, std::vector<Endpoint> listen = {})
      : server_(std::make_unique<Server>(std::move(config), std::move(random), now)), listen_(std::move(listen)) {}

  void on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes) {
    if (socket >= std::max<std::size_t>(1, listen_.size())) return;
    for (auto& t : server_->handle(now, bytes, from)) {
      const auto out = socket_for(t.to);
      if (out) out_.push_back(natpunch::Transmit{*out, t.to, DatagramBytes(std::move(t.bytes))});
    }
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
  std::optional<SocketId> socket_for(const Endpoint& to) const {
    if (listen_.empty()) return SocketId{0};
    for (std::size_t i = 0; i < listen_.size(); ++i)
      if (listen_[i].address.family() == to.address.family()) return static_cast<SocketId>(i);
    return std::nullopt;  // a family we do not listen on
  }

  std::unique_ptr<Server> server_;  // movable machine around a server that is not
  std::vector<Endpoint> listen_;
  std::deque<natpunch::Transmit> out_;
};

static_assert(ProtocolMachine<ServerMachine>);

}  // namespace natpunch::rendezvous

#pragma once
// Runs stun::Server on a simulated public host that owns its primary (and
// alternate) addresses: each arriving datagram is handed to the server
// with the socket it arrived on, and the reply leaves from the socket the
// server names (which is how CHANGE-REQUEST answers come from elsewhere).
#include <array>
#include <optional>

#include "sim/host_app.hpp"
#include "stun/server.hpp"

namespace natpunch::sim {

class StunServerApp final : public HostApp {
 public:
  explicit StunServerApp(stun::ServerConfig config) : server_(std::move(config)) {}

  std::optional<TimePoint> next_deadline() const override { return std::nullopt; }
  void on_timer(TimePoint, Outbox&) override {}

  void on_datagram(TimePoint now, const Packet& packet, Outbox& out) override {
    const int sockets = server_.has_alternate() ? 4 : 1;
    for (int i = 0; i < sockets; ++i) {
      const auto index = static_cast<stun::SocketIndex>(i);
      if (server_.socket_endpoint(index) != packet.to) continue;
      if (auto reply = server_.handle(now, packet.payload(), packet.from, index, buffer_))
        out.send(server_.socket_endpoint(reply->socket), reply->to, {buffer_.data(), reply->length});
      return;
    }
  }

  const stun::Server& server() const { return server_; }

 private:
  stun::Server server_;
  std::array<std::uint8_t, kMaxPayload> buffer_{};
};

}  // namespace natpunch::sim

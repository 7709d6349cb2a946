#pragma once
// stun::Server on the machine contract (core/transmit.hpp), so the one
// simulator host and the one real-time loop run it like any machine:
// machine socket i is SocketIndex i (one socket, or four with an alternate
// address). handle() is the contract in one call: one datagram in, its
// answer (if any) out; answer() the same, written into the driver's buffer
// (how `natpunch stun-server` serves: no copy, no allocation per datagram).
// The server has no timers and reports no events.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "core/transmit.hpp"
#include "stun/server.hpp"

namespace natpunch::stun {

class ServerMachine {
 public:
  explicit ServerMachine(ServerConfig config) : server_(std::move(config)) {}

  // The contract's in-place answer: the response is written into `out`
  // (2048 bytes always suffice), nothing is copied or allocated.
  std::optional<InPlaceReply> answer(TimePoint now, SocketId socket, const Endpoint& from,
                                     std::span<const std::uint8_t> bytes, std::span<std::uint8_t> out) {
    if (socket >= socket_count()) return std::nullopt;
    const auto reply = server_.handle(now, bytes, from, static_cast<SocketIndex>(socket), out);
    if (!reply) return std::nullopt;
    return InPlaceReply{static_cast<SocketId>(reply->socket), reply->to, reply->length};
  }

  std::optional<Transmit> handle(TimePoint now, SocketId socket, const Endpoint& from,
                                 std::span<const std::uint8_t> bytes) {
    const auto reply = answer(now, socket, from, bytes, buffer_);
    if (!reply) return std::nullopt;
    return Transmit{reply->socket, reply->to, std::span<const std::uint8_t>(buffer_.data(), reply->length)};
  }

  void on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes) {
    if (auto reply = handle(now, socket, from, bytes)) replies_.push_back(std::move(*reply));
  }
  std::optional<Transmit> poll_transmit(TimePoint) {
    if (next_reply_ == replies_.size()) return std::nullopt;
    Transmit out = std::move(replies_[next_reply_++]);
    if (next_reply_ == replies_.size()) {  // drained: the storage is reused, not freed
      replies_.clear();
      next_reply_ = 0;
    }
    return out;
  }
  std::optional<TimePoint> next_deadline() const { return std::nullopt; }
  void on_timer(TimePoint) {}
  std::optional<std::monostate> poll_event() { return std::nullopt; }

  SocketId socket_count() const { return server_.has_alternate() ? 4 : 1; }
  // Where socket i is bound.
  Endpoint socket_endpoint(SocketId socket) const { return server_.socket_endpoint(static_cast<SocketIndex>(socket)); }
  std::vector<Endpoint> socket_endpoints() const {
    std::vector<Endpoint> out;
    for (SocketId i = 0; i < socket_count(); ++i) out.push_back(socket_endpoint(i));
    return out;
  }
  const Server& server() const { return server_; }

 private:
  Server server_;
  std::array<std::uint8_t, 2048> buffer_{};  // a response never exceeds its request's length or the unpadded answer
  std::vector<Transmit> replies_;  // answers not yet polled: replies_[next_reply_, size)
  std::size_t next_reply_ = 0;
};

static_assert(ProtocolMachine<ServerMachine>);
static_assert(AnswersInPlace<ServerMachine>);

}  // namespace natpunch::stun

#pragma once
// measure::Server on the machine contract (core/transmit.hpp), so the one
// simulator host and the one real-time loop run it like any machine:
// machine socket i is the server's socket i (0: the main port, then the
// collection range). handle() is the contract in one call: one datagram
// in, its immediate answer (if any) out. Delayed replies and scheduled
// probes leave from on_timer(); every mapping-collection packet is an
// event (a row of the server's log).
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "core/transmit.hpp"
#include "measure/server.hpp"

namespace natpunch::measure {

using MeasureServerEvent = std::variant<CollectionRow>;

class ServerMachine {
 public:
  // `socket_ports[i]` is the local port of socket i (reported in replies).
  ServerMachine(ServerConfig config, std::vector<std::uint16_t> socket_ports)
      : rows_(std::make_unique<std::deque<CollectionRow>>()),
        server_(std::move(config), std::move(socket_ports),
                [rows = rows_.get()](const CollectionRow& row) { rows->push_back(row); }) {}

  std::optional<Transmit> handle(TimePoint now, SocketId socket, const Endpoint& from,
                                 std::span<const std::uint8_t> bytes) {
    auto reply = server_.handle(now, bytes, from, socket);
    if (!reply) return std::nullopt;
    return transmit(*reply);
  }

  void on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes) {
    if (auto reply = handle(now, socket, from, bytes)) out_.push_back(std::move(*reply));
  }
  std::optional<Transmit> poll_transmit(TimePoint) { return take_front(out_); }
  std::optional<TimePoint> next_deadline() const { return server_.next_deadline(); }
  void on_timer(TimePoint now) {
    for (const auto& due : server_.take_due(now)) out_.push_back(transmit(due));
  }
  std::optional<MeasureServerEvent> poll_event() {
    if (auto row = take_front(*rows_)) return *row;
    return std::nullopt;
  }

  const Server& server() const { return server_; }

 private:
  static Transmit transmit(const Outgoing& out) {
    return Transmit{static_cast<SocketId>(out.socket), out.to, out.payload()};
  }

  // On the heap: the server's sink points at it, and the machine may move.
  std::unique_ptr<std::deque<CollectionRow>> rows_;
  Server server_;
  std::deque<Transmit> out_;
};

static_assert(ProtocolMachine<ServerMachine>);

}  // namespace natpunch::measure

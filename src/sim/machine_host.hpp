#pragma once
// Runs any machine of the contract (core/transmit.hpp) on a simulated host:
// machine socket i is the host's local port first_port + i. Sockets
// [0, open_sockets) are bound from the start; any other socket is bound the
// first time the machine sends from it (as the real drivers do). A datagram
// arriving on a bound port goes to the machine with its socket number;
// others are dropped, as a closed port would.
//
// After every call into the machine the host drains its events (to
// on_event, if set) and then its transmits; so an event handler can take the
// host offline before it sends. An offline host (a crashed phone, one out
// of coverage) calls its machine no more: nothing reaches it, nothing leaves.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "core/transmit.hpp"
#include "sim/host_app.hpp"

namespace natpunch::sim {

template <ProtocolMachine M>
class MachineHost final : public HostApp {
 public:
  using Event = typename decltype(std::declval<M&>().poll_event())::value_type;

  MachineHost(const IpAddress& address, std::uint16_t first_port, std::unique_ptr<M> machine, SocketId open_sockets = 1)
      : address_(address), first_port_(first_port), machine_(std::move(machine)) {
    bound_.assign(std::min<std::size_t>(open_sockets, port_span()), true);
  }
  MachineHost(const IpAddress& address, std::uint16_t first_port, M machine, SocketId open_sockets = 1)
    requires std::move_constructible<M>
      : MachineHost(address, first_port, std::make_unique<M>(std::move(machine)), open_sockets) {}

  // Called with each event the machine reports, in order.
  std::function<void(const Event&)> on_event;

  std::optional<TimePoint> next_deadline() const override {
    if (offline_) return std::nullopt;
    return machine_->next_deadline();
  }

  void on_timer(TimePoint now, Outbox& out) override {
    if (offline_) return;
    machine_->on_timer(now);
    flush(now, out);
  }

  void on_datagram(TimePoint now, const Packet& packet, Outbox& out) override {
    if (offline_ || packet.to.port < first_port_) return;
    const SocketId socket = SocketId(packet.to.port) - first_port_;
    if (socket >= bound_.size() || !bound_[socket]) return;
    machine_->on_datagram(now, socket, packet.from, packet.payload());
    flush(now, out);
  }

  // From now on the machine is not called and nothing reaches or leaves the host.
  void go_offline() { offline_ = true; }
  bool offline() const { return offline_; }

  M& machine() { return *machine_; }
  const M& machine() const { return *machine_; }
  Endpoint local_endpoint(SocketId socket) const {
    return Endpoint{address_, static_cast<std::uint16_t>(first_port_ + socket)};
  }

 private:
  std::size_t port_span() const { return std::size_t{65536} - first_port_; }

  void flush(TimePoint now, Outbox& out) {
    while (auto event = machine_->poll_event())
      if (on_event) on_event(*event);
    while (auto t = machine_->poll_transmit(now)) {
      if (offline_ || t->socket >= port_span()) continue;
      if (t->socket >= bound_.size()) bound_.resize(t->socket + 1, false);
      bound_[t->socket] = true;
      out.send(local_endpoint(t->socket), t->to, t->bytes);
    }
  }

  IpAddress address_;
  std::uint16_t first_port_;
  std::unique_ptr<M> machine_;
  std::vector<bool> bound_;
  bool offline_ = false;
};

}  // namespace natpunch::sim

#pragma once
// Runs any machine of the contract (core/transmit.hpp) on a simulated host:
// the one host of the simulator (punch strategies, STUN client and server,
// learning peers, ...).
//
// Sockets: by default machine socket i is the host's local port
// first_port + i; sockets [0, open_sockets) are bound from the start and any
// other is bound the first time the machine sends from it (as the real
// drivers do). A host may instead own a fixed list of socket endpoints (a
// STUN server's primary and alternate addresses and ports): socket i is
// endpoints[i], and sending from any other socket goes nowhere. A datagram
// arriving on a bound socket goes to the machine with its socket number;
// others are dropped, as a closed port would.
//
// After every call into the machine the host drains its events (to
// on_event) and then its transmits (each shown to on_send, then sent); so an
// event handler can take the host offline before it sends. An offline host
// (a crashed phone, one out of coverage) calls its machine no more: nothing
// reaches it, nothing leaves.
#include <algorithm>
#include <concepts>
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
  // Socket i is endpoints[i] (all bound); the host answers on each address.
  MachineHost(std::vector<Endpoint> endpoints, M machine)
    requires std::move_constructible<M>
      : endpoints_(std::move(endpoints)), machine_(std::make_unique<M>(std::move(machine))) {
    bound_.assign(endpoints_.size(), true);
  }

  // Called with each event the machine reports, in order.
  std::function<void(const Event&)> on_event;
  // Called with each datagram the machine sends, before it leaves (tests watch and log them).
  std::function<void(TimePoint, const Transmit&)> on_send;

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
    if (offline_) return;
    const auto socket = socket_of(packet.to);
    if (!socket) return;
    machine_->on_datagram(now, *socket, packet.from, packet.payload());
    flush(now, out);
  }

  // The application calls its machine between network events (a test's
  // application sends); what that causes leaves at once. The caller then
  // tells the network the host's deadline may have moved
  // (Network::reschedule).
  template <class F>
  void act(TimePoint now, Outbox& out, F&& call) {
    if (offline_) return;
    call(*machine_);
    flush(now, out);
  }

  // From now on the machine is not called and nothing reaches or leaves the host.
  void go_offline() { offline_ = true; }
  bool offline() const { return offline_; }

  M& machine() { return *machine_; }
  const M& machine() const { return *machine_; }
  Endpoint local_endpoint(SocketId socket) const {
    if (!endpoints_.empty()) return socket < endpoints_.size() ? endpoints_[socket] : Endpoint{};
    return Endpoint{address_, static_cast<std::uint16_t>(first_port_ + socket)};
  }

 private:
  std::size_t port_span() const { return std::size_t{65536} - first_port_; }

  std::optional<SocketId> socket_of(const Endpoint& to) const {
    if (!endpoints_.empty()) {
      const auto it = std::find(endpoints_.begin(), endpoints_.end(), to);
      if (it == endpoints_.end()) return std::nullopt;
      return static_cast<SocketId>(it - endpoints_.begin());
    }
    if (to.port < first_port_) return std::nullopt;
    const SocketId socket = SocketId(to.port) - first_port_;
    if (socket >= bound_.size() || !bound_[socket]) return std::nullopt;
    return socket;
  }

  void flush(TimePoint now, Outbox& out) {
    while (auto event = machine_->poll_event())
      if (on_event) on_event(*event);
    while (auto t = machine_->poll_transmit(now)) {
      if (offline_) continue;
      if (!endpoints_.empty()) {
        if (t->socket >= endpoints_.size()) continue;
      } else {
        if (t->socket >= port_span()) continue;
        if (t->socket >= bound_.size()) bound_.resize(t->socket + 1, false);
        bound_[t->socket] = true;
      }
      if (on_send) on_send(now, *t);
      out.send(local_endpoint(t->socket), t->to, t->bytes);
    }
  }

  IpAddress address_;
  std::uint16_t first_port_ = 0;
  std::vector<Endpoint> endpoints_;  // a fixed socket list; empty: consecutive ports
  std::unique_ptr<M> machine_;
  std::vector<bool> bound_;
  bool offline_ = false;
};

}  // namespace natpunch::sim

#pragma once
// Runs any machine of the contract (core/transmit.hpp) on a simulated host:
// the one host of the simulator (punch strategies, STUN client and server,
// measurements and their server, learning peers, ...).
//
// Sockets: by default machine socket i is the host's local port
// first_port + i; sockets [0, open_sockets) are bound from the start and any
// other is bound the first time the machine sends from it (as the real
// drivers do). A machine that chooses socket options gets the port it asks
// for when the host has it free (else the default, else any free port) and
// hears where each socket was bound; a released socket's port is free
// again. A host may instead own a fixed list of socket endpoints (a STUN
// server's primary and alternate addresses and ports): socket i is
// endpoints[i], and sending from any other socket goes nowhere. A datagram
// arriving on a bound socket goes to the machine with its socket number;
// others are dropped, as a closed port would.
//
// Send errors, for machines that hear them: a socket the host cannot bind
// (NoSocket), and a datagram above what UDP carries or, from a
// don't-fragment socket, above the interface's payload limit
// (set_interface_max_payload) is TooBig, as EMSGSIZE is on a real host.
//
// After every call into the machine the host drains its events (to
// on_event), then its transmits (each shown to on_send, then sent), then
// tells it of failed sends and closes what it released (again while a
// failure made it send more); so an event handler can take the host offline
// before it sends. An offline host (a crashed phone, one out of coverage)
// calls its machine no more: nothing reaches it, nothing leaves.
#include <algorithm>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
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
    const auto open = static_cast<SocketId>(std::min<std::size_t>(open_sockets, port_span()));
    sockets_.resize(open);
    for (SocketId i = 0; i < open; ++i) sockets_[i].port = default_port(i);
  }
  MachineHost(const IpAddress& address, std::uint16_t first_port, M machine, SocketId open_sockets = 1)
    requires std::move_constructible<M>
      : MachineHost(address, first_port, std::make_unique<M>(std::move(machine)), open_sockets) {}
  // Socket i is endpoints[i] (all bound); the host answers on each address.
  MachineHost(std::vector<Endpoint> endpoints, M machine)
    requires std::move_constructible<M>
      : endpoints_(std::move(endpoints)), machine_(std::make_unique<M>(std::move(machine))) {}

  // Called with each event the machine reports, in order.
  std::function<void(const Event&)> on_event;
  // Called with each datagram the machine sends, before it leaves (tests watch and log them).
  std::function<void(TimePoint, const Transmit&)> on_send;

  // The largest UDP payload the host's interface sends from a don't-fragment
  // socket (interface MTU - 28 for IPv4); larger ones fail with TooBig.
  void set_interface_max_payload(std::size_t bytes) { interface_max_payload_ = bytes; }

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

  // Socket `socket` is bound at `local` (another address of the host: a
  // dual-stack host's IPv6 socket), whatever port scheme the others follow.
  void add_fixed_socket(SocketId socket, const Endpoint& local) { fixed_.push_back({socket, local}); }

  // From now on the machine is not called and nothing reaches or leaves the host.
  void go_offline() { offline_ = true; }
  bool offline() const { return offline_; }

  M& machine() { return *machine_; }
  const M& machine() const { return *machine_; }
  // Where socket `socket` is (or, unbound, would by default be) bound.
  Endpoint local_endpoint(SocketId socket) const {
    for (const auto& [id, local] : fixed_)
      if (id == socket) return local;
    if (!endpoints_.empty()) return socket < endpoints_.size() ? endpoints_[socket] : Endpoint{};
    if (socket < sockets_.size() && sockets_[socket].port != 0) return Endpoint{address_, sockets_[socket].port};
    return Endpoint{address_, default_port(socket)};
  }

 private:
  struct Socket {
    std::uint16_t port = 0;  // 0: not bound
    bool dont_fragment = false;
  };

  std::size_t port_span() const { return std::size_t{65536} - first_port_; }
  std::uint16_t default_port(SocketId socket) const {
    return socket < port_span() ? static_cast<std::uint16_t>(first_port_ + socket) : 0;
  }
  bool bound(SocketId socket) const { return socket < sockets_.size() && sockets_[socket].port != 0; }

  std::optional<SocketId> socket_of(const Endpoint& to) const {
    for (const auto& [id, local] : fixed_)
      if (local == to) return id;
    if (!endpoints_.empty()) {
      const auto it = std::find(endpoints_.begin(), endpoints_.end(), to);
      if (it == endpoints_.end()) return std::nullopt;
      return static_cast<SocketId>(it - endpoints_.begin());
    }
    if (to.port >= first_port_) {
      const SocketId socket = SocketId(to.port) - first_port_;
      if (socket < sockets_.size() && sockets_[socket].port == to.port) return socket;
    }
    if (!moved_.empty())
      if (const auto it = moved_.find(to.port); it != moved_.end()) return it->second;
    return std::nullopt;
  }
  bool port_taken(std::uint16_t port) const { return port == 0 || socket_of(Endpoint{address_, port}).has_value(); }

  // Binds a socket the machine is about to use; false when the host has no port for it.
  bool bind(TimePoint now, SocketId socket) {
    SocketOptions options;
    if constexpr (ChoosesSocketOptions<M>) options = machine_->socket_options(socket);
    std::uint16_t port = 0;
    if (!port_taken(options.port)) port = options.port;
    else if (!port_taken(default_port(socket))) port = default_port(socket);
    else
      for (std::uint32_t p = 65535; p >= 1024 && port == 0; --p)
        if (!port_taken(static_cast<std::uint16_t>(p))) port = static_cast<std::uint16_t>(p);
    if (port == 0) return false;
    if (sockets_.size() <= socket) sockets_.resize(std::size_t{socket} + 1);
    sockets_[socket] = Socket{port, options.fragmentation == Fragmentation::DontFragment};
    if (port != default_port(socket)) moved_.emplace(port, socket);
    if constexpr (WatchesSocketBinding<M>) machine_->on_socket_bound(now, socket, Endpoint{address_, port});
    return true;
  }

  void release(SocketId socket) {
    if (!endpoints_.empty() || !bound(socket)) return;
    moved_.erase(sockets_[socket].port);
    sockets_[socket] = Socket{};
  }

  // Sends one datagram; the reason it never left, if it did not.
  std::optional<SendError> send(TimePoint now, const Transmit& t, Outbox& out) {
    const bool fixed = std::any_of(fixed_.begin(), fixed_.end(), [&](const auto& f) { return f.first == t.socket; });
    if (fixed) {
      if (t.bytes.size() > kMaxPayload) return SendError::TooBig;
      if (on_send) on_send(now, t);
      out.send(local_endpoint(t.socket), t.to, t.bytes);
      return std::nullopt;
    }
    if (!endpoints_.empty()) {
      if (t.socket >= endpoints_.size()) return SendError::NoSocket;
    } else if (!bound(t.socket) && !bind(now, t.socket)) {
      return SendError::NoSocket;
    }
    const bool df = endpoints_.empty() && sockets_[t.socket].dont_fragment;
    if (t.bytes.size() > kMaxPayload || (df && t.bytes.size() > interface_max_payload_)) return SendError::TooBig;
    if (on_send) on_send(now, t);
    out.send(local_endpoint(t.socket), t.to, t.bytes);
    return std::nullopt;
  }

  void flush(TimePoint now, Outbox& out) {
    for (;;) {
      while (auto event = machine_->poll_event())
        if (on_event) on_event(*event);
      failures_.clear();
      while (auto t = machine_->poll_transmit(now)) {
        if (offline_) continue;
        if (auto error = send(now, *t, out)) failures_.push_back({t->socket, t->to, *error});
      }
      bool heard = false;
      if constexpr (HearsSendErrors<M>) {
        heard = !failures_.empty();
        for (const auto& f : failures_) machine_->on_send_error(now, f.socket, f.to, f.error);
      }
      if constexpr (ReleasesSockets<M>)
        while (auto released = machine_->poll_socket_release()) release(*released);
      if (!heard || offline_) return;
    }
  }

  struct Failure {
    SocketId socket;
    Endpoint to;
    SendError error;
  };

  IpAddress address_;
  std::uint16_t first_port_ = 0;
  std::vector<Endpoint> endpoints_;  // a fixed socket list; empty: ports as the sockets are bound
  std::vector<std::pair<SocketId, Endpoint>> fixed_;  // add_fixed_socket
  std::unique_ptr<M> machine_;
  std::vector<Socket> sockets_;                         // by SocketId
  std::unordered_map<std::uint16_t, SocketId> moved_;  // sockets bound elsewhere than first_port + id
  std::size_t interface_max_payload_ = kMaxPayload;
  std::vector<Failure> failures_;
  bool offline_ = false;
};

}  // namespace natpunch::sim

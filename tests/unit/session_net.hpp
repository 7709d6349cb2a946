#pragma once
// Two (or more) session::PeerSessionMachines and a rendezvous::Server on a
// small in-memory internet, in virtual time: every datagram takes
// `latency`; a filter can drop any of them (a dead path, an outage); a
// peer's public endpoints can move (a NAT that rebinds: socket i is seen at
// `public_port(i)`); an attacker can capture and inject datagrams from any
// source. The peers have public addresses (no NAT model: tests/sim runs the
// machines behind the simulator's NATs).
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <vector>

#include "../support/event_log.hpp"
#include "core/rng.hpp"
#include "rendezvous/server.hpp"
#include "session/peer_session_machine.hpp"

namespace natpunch::session::testing {

struct Flight {
  TimePoint arrives;
  std::uint64_t order;  // FIFO among equal arrival times
  Endpoint from;
  Endpoint to;
  std::vector<std::uint8_t> bytes;
  bool operator>(const Flight& o) const { return arrives != o.arrives ? arrives > o.arrives : order > o.order; }
};

class SessionNet {
 public:
  struct Peer {
    std::unique_ptr<PeerSessionMachine> machine;
    IpAddress address;
    std::uint16_t base_port = 40000;     // socket i is bound at base_port + i
    std::map<SocketId, std::uint16_t> rebound;  // socket -> its public port now (a NAT that rebound)
    std::vector<SessionEvent> events;
    std::vector<std::vector<std::uint8_t>> received;  // DataReceived payloads, in order
    std::uint64_t sent = 0;

    std::uint16_t public_port(SocketId socket) const {
      auto it = rebound.find(socket);
      return it != rebound.end() ? it->second : static_cast<std::uint16_t>(base_port + socket);
    }
    Endpoint endpoint(SocketId socket) const { return Endpoint{address, public_port(socket)}; }
    template <class T>
    std::vector<T> all() const {
      return test_support::all_events<T>(events);
    }
    template <class T>
    std::optional<T> last() const {
      return test_support::last_event<T>(events);
    }
    bool open() const { return machine->phase() == Phase::Open; }
  };

  static constexpr TimePoint kStart = kTimeZero + seconds(1000);
  inline static const Endpoint kServer{IpAddress::v4({203, 0, 113, 10}), 7000};

  explicit SessionNet(std::uint64_t seed = 1, rendezvous::ServerConfig config = server_config()) : rng_(seed) {
    if (!config.identity) config.identity = identity();  // a restart keeps the key clients saw
    server_config_ = config;
    server_ = std::make_unique<rendezvous::Server>(std::move(config), random(), now);
  }

  // The server process restarts: everything it held is gone (same key).
  void restart_server() { server_ = std::make_unique<rendezvous::Server>(server_config_, random(), now); }

  static rendezvous::ServerConfig server_config() {
    rendezvous::ServerConfig c;
    c.rate_limit.reset();
    c.start_delay = milliseconds(200);
    return c;
  }

  rendezvous::RandomBytes random() {
    return [this](std::span<std::uint8_t> out) { rng_.fill(out); };
  }
  rendezvous::Identity identity() { return rendezvous::Identity::generate(random()); }

  // A session config for a peer at the server of this net.
  SessionConfig config(bool caller, const rendezvous::Identity& id) {
    SessionConfig c;
    c.caller = caller;
    c.client.server = kServer;
    c.client.identity = id;
    c.client.initial_retransmit = milliseconds(250);
    if (!caller) {
      c.client.accept_policy = rendezvous::accept_all();
      c.client.single_session = true;
    } else {
      c.client.listening = false;
      c.client.unknown_peer_retry = milliseconds(500);
    }
    c.wait = seconds(20);
    c.seed = rng_.next_u64();
    return c;
  }

  Peer& add(SessionConfig config, IpAddress address) {
    auto p = std::make_unique<Peer>();
    p->address = address;
    p->machine = std::make_unique<PeerSessionMachine>(std::move(config), random(), now);
    peers_.push_back(std::move(p));
    flush_all();
    return *peers_.back();
  }

  // Drops a datagram when true (it never arrives).
  std::function<bool(const Endpoint& from, const Endpoint& to, std::span<const std::uint8_t> bytes)> drop;
  // Sees every datagram that leaves a peer (after the filter), e.g. to capture it.
  std::function<void(const Flight&)> on_wire;
  Duration latency = milliseconds(10);
  // Datagrams to addresses nobody owns (a victim's), by destination.
  std::map<Endpoint, std::vector<std::vector<std::uint8_t>>> elsewhere;

  void inject(const Endpoint& from, const Endpoint& to, std::vector<std::uint8_t> bytes, Duration after = {}) {
    queue_.push(Flight{now + after, order_++, from, to, std::move(bytes)});
  }

  // Runs until `until` or `stop()` holds.
  void run_until(TimePoint until, const std::function<bool()>& stop = {}) {
    for (;;) {
      if (stop && stop()) return;
      std::optional<TimePoint> next;
      const auto consider = [&](std::optional<TimePoint> t) {
        if (t && (!next || *t < *next)) next = t;
      };
      if (!queue_.empty()) consider(queue_.top().arrives);
      consider(server_->next_deadline());
      for (auto& p : peers_) consider(p->machine->next_deadline());
      if (!next || *next > until) {
        now = std::max(now, until);
        return;
      }
      now = std::max(now, *next);
      while (!queue_.empty() && queue_.top().arrives <= now) {
        Flight f = queue_.top();
        queue_.pop();
        deliver(f);
      }
      if (auto due = server_->next_deadline(); due && *due <= now) server_->on_timer(now);
      for (auto& p : peers_)
        if (auto due = p->machine->next_deadline(); due && *due <= now) p->machine->on_timer(now);
      flush_all();
    }
  }
  void run_for(Duration d, const std::function<bool()>& stop = {}) { run_until(now + d, stop); }
  bool both_open() const { return peers_.size() >= 2 && peers_[0]->open() && peers_[1]->open(); }

  bool send(Peer& p, std::span<const std::uint8_t> payload) {
    const bool ok = p.machine->send(now, payload);
    if (ok) ++p.sent;
    flush_all();
    return ok;
  }

  void flush_all() {
    for (int round = 0; round < 4; ++round)
      for (auto& p : peers_) flush(*p);
  }

  rendezvous::Server& server() { return *server_; }
  Peer& peer(std::size_t i) { return *peers_[i]; }

  TimePoint now = kStart;

 private:
  void flush(Peer& p) {
    while (auto e = p.machine->poll_event()) {
      if (auto* d = std::get_if<session_event::DataReceived>(&*e)) p.received.push_back(d->payload);
      p.events.push_back(std::move(*e));
    }
    while (auto t = p.machine->poll_transmit(now)) {
      Flight f{now + latency, order_++, p.endpoint(t->socket), t->to, t->bytes.to_vector()};
      if (drop && drop(f.from, f.to, f.bytes)) continue;
      if (on_wire) on_wire(f);
      queue_.push(std::move(f));
    }
  }

  void deliver(const Flight& f) {
    if (f.to == kServer) {
      for (auto& t : server_->handle(now, f.bytes, f.from)) {
        Flight back{now + latency, order_++, kServer, t.to, t.bytes};
        if (drop && drop(back.from, back.to, back.bytes)) continue;
        queue_.push(std::move(back));
      }
      return;
    }
    for (auto& p : peers_) {
      if (p->address != f.to.address) continue;
      if (auto s = socket_at(*p, f.to.port)) p->machine->on_datagram(now, *s, f.from, f.bytes);
      return;  // else a closed port
    }
    elsewhere[f.to].push_back(f.bytes);
  }

  static std::optional<SocketId> socket_at(const Peer& p, std::uint16_t port) {
    for (const auto& [s, public_port] : p.rebound)
      if (public_port == port) return s;
    if (port < p.base_port) return std::nullopt;
    const SocketId s = port - p.base_port;
    if (s >= std::max<std::uint32_t>(1, p.machine->sockets_used()) || p.rebound.contains(s)) return std::nullopt;
    return s;
  }

  Rng rng_;
  rendezvous::ServerConfig server_config_;
  std::unique_ptr<rendezvous::Server> server_;
  std::vector<std::unique_ptr<Peer>> peers_;
  std::priority_queue<Flight, std::vector<Flight>, std::greater<>> queue_;
  std::uint64_t order_ = 0;
};

}  // namespace natpunch::session::testing

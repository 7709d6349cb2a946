#pragma once
// A client machine (any of src/measure's many-socket machines) talking to
// the real measure::Server through a NatTable, in virtual time: the fake
// network the measurement tests run on. One client host behind the NAT,
// the server on the public side; fixed one-way latencies; optional loss
// and a largest payload (for the MTU search).
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "core/endpoint.hpp"
#include "core/rng.hpp"
#include "measure/server.hpp"
#include "measure/socket_datagram.hpp"
#include "nat/nat_table.hpp"

namespace natpunch::measure::test {

inline const IpAddress kClientIp = IpAddress::v4({100, 64, 0, 2});
inline const IpAddress kNatIp = IpAddress::v4({198, 51, 100, 1});
inline const IpAddress kServerIp = IpAddress::v4({203, 0, 113, 10});
inline constexpr std::uint16_t kServerPort = 3479;

struct NetConfig {
  Duration access_latency = milliseconds(15);  // client <-> NAT
  Duration uplink_latency = milliseconds(20);  // NAT <-> server
  double loss = 0;                             // each datagram, each direction
  std::optional<std::size_t> path_max_payload;  // larger datagrams vanish (DF path)
  std::size_t server_ports = 1;                 // server sockets: kServerPort, +1, ...
  std::uint64_t seed = 7;
};

class VirtualNet {
 public:
  VirtualNet(nat::NatConfig nat_config, NetConfig config)
      : config_(config), rng_(config.seed), nat_rng_(config.seed + 1), nat_(make(std::move(nat_config), nat_rng_)),
        server_(server_config(config), ports(config), [this](const CollectionRow& row) { rows.push_back(row); }) {}

  Endpoint server_endpoint(std::size_t index = 0) const {
    return {kServerIp, static_cast<std::uint16_t>(kServerPort + index)};
  }
  // The client's local port for a socket id: distinct per socket, like a
  // fresh ephemeral port.
  static std::uint16_t local_port(SocketId socket) { return static_cast<std::uint16_t>(20000 + socket % 40000); }

  // Runs `machine` until done() or `limit` of virtual time; returns the
  // virtual time it took. `on_send` sees each datagram (for tests that
  // check what a machine sends).
  template <class Machine>
  Duration run(Machine& machine, Duration limit,
               std::function<void(const SocketDatagram&)> on_send = nullptr) {
    const TimePoint start = now_;
    while (!machine.done() && now_ - start < limit) {
      for (auto& d : machine.poll_transmit(now_)) {
        if constexpr (requires { machine.on_socket_opened(d.socket, std::uint16_t{}); })
          machine.on_socket_opened(d.socket, local_port(d.socket));
        if (on_send) on_send(d);
        send_from_client(d);
      }
      (void)machine.poll_closed();
      // Next thing to happen: a delivery, a server deadline or a machine deadline.
      std::optional<TimePoint> next = machine.next_deadline();
      if (auto s = server_.next_deadline(); s && (!next || *s < *next)) next = s;
      if (!events_.empty() && (!next || events_.begin()->first < *next)) next = events_.begin()->first;
      if (!next) break;
      if (*next > now_) now_ = *next;
      bool delivered = false;
      while (!events_.empty() && events_.begin()->first <= now_) {
        auto event = events_.begin()->second;
        events_.erase(events_.begin());
        delivered |= process(event, machine);
      }
      for (const auto& out : server_.take_due(now_)) from_server(out);
      if (auto d = machine.next_deadline(); d && *d <= now_ && !delivered) machine.on_timer(now_);
    }
    return now_ - start;
  }

  // Delivers what is still in flight (after a machine is done), without
  // waking the server's queued replies.
  template <class Machine>
  void drain(Machine& machine) {
    while (!events_.empty()) {
      now_ = std::max(now_, events_.begin()->first);
      auto event = events_.begin()->second;
      events_.erase(events_.begin());
      process(event, machine);
    }
  }

  TimePoint now() const { return now_; }
  nat::NatTable& nat() { return nat_; }
  Server& server() { return server_; }
  std::vector<CollectionRow> rows;
  // Ground truth: internal port -> external port of each new mapping.
  std::uint64_t nat_drops = 0;

 private:
  enum class Hop { NatOutbound, ServerIn, NatInbound, ClientIn };
  struct Event {
    Hop hop;
    Endpoint from;
    Endpoint to;
    std::size_t server_socket = 0;
    SocketId client_socket = 0;
    std::vector<std::uint8_t> bytes;
  };

  static nat::NatTable make(nat::NatConfig config, Rng& rng) {
    config.public_addresses = {kNatIp};
    return std::move(nat::NatTable::create(std::move(config), rng)).value();
  }
  static ServerConfig server_config(const NetConfig& c) {
    ServerConfig s;
    s.socket_count = c.server_ports;
    return s;
  }
  static std::vector<std::uint16_t> ports(const NetConfig& c) {
    std::vector<std::uint16_t> p;
    for (std::size_t i = 0; i < c.server_ports; ++i) p.push_back(static_cast<std::uint16_t>(kServerPort + i));
    return p;
  }
  bool lost() { return config_.loss > 0 && std::uniform_real_distribution<double>(0, 1)(rng_.engine()) < config_.loss; }
  bool too_big(std::size_t n) const { return config_.path_max_payload && n > *config_.path_max_payload; }

  void schedule(Duration after, Event e) { events_.emplace(now_ + after, std::move(e)); }

  void send_from_client(const SocketDatagram& d) {
    if (lost() || too_big(d.bytes.size())) return;
    schedule(config_.access_latency,
             Event{Hop::NatOutbound, Endpoint{kClientIp, local_port(d.socket)}, d.to, 0, d.socket, d.bytes});
  }
  void from_server(const Outgoing& out) {
    if (lost()) return;
    schedule(config_.uplink_latency, Event{Hop::NatInbound, server_endpoint(out.socket), out.to, 0, 0,
                                           std::vector<std::uint8_t>(out.payload().begin(), out.payload().end())});
  }

  template <class Machine>
  bool process(Event& e, Machine& machine) {
    switch (e.hop) {
      case Hop::NatOutbound: {
        auto t = nat_.outbound(now_, e.from, e.to, e.bytes.size());
        if (!t) {
          ++nat_drops;
          return false;
        }
        const auto index = static_cast<std::size_t>(e.to.port - kServerPort);
        if (e.to.address != kServerIp || index >= config_.server_ports) return false;
        schedule(config_.uplink_latency, Event{Hop::ServerIn, t->source, e.to, index, 0, std::move(e.bytes)});
        return false;
      }
      case Hop::ServerIn:
        if (auto reply = server_.handle(now_, e.bytes, e.from, e.server_socket)) from_server(*reply);
        return false;
      case Hop::NatInbound: {
        auto internal = nat_.inbound(now_, e.from, e.to, e.bytes.size());
        if (!internal) {
          ++nat_drops;
          return false;
        }
        schedule(config_.access_latency,
                 Event{Hop::ClientIn, e.from, *internal, 0, static_cast<SocketId>(internal->port - 20000),
                       std::move(e.bytes)});
        return false;
      }
      case Hop::ClientIn:
        machine.on_datagram(now_, e.client_socket, e.bytes, e.from);
        return true;
    }
    return false;
  }

  NetConfig config_;
  Rng rng_;
  Rng nat_rng_;
  nat::NatTable nat_;
  Server server_;
  TimePoint now_ = kTimeZero + seconds(1000);
  std::multimap<TimePoint, Event> events_;
};

}  // namespace natpunch::measure::test

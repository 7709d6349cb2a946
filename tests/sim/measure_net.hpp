#pragma once
// The measurement tests' network, on the simulator: one client host (any of
// src/measure's client machines, on sim::MachineHost) behind a modelled NAT,
// and measure::ServerMachine on the public side, in virtual time. Fixed
// one-way latencies (client <-> NAT 15 ms, NAT <-> server 20 ms), optional
// loss on the NAT's uplink (each datagram, each direction) and a largest
// payload on the path (for the MTU search).
#include <functional>
#include <optional>
#include <variant>
#include <vector>

#include "core/endpoint.hpp"
#include "measure/server_machine.hpp"
#include "nat/nat_config.hpp"
#include "sim/machine_host.hpp"
#include "sim/network.hpp"

namespace natpunch::measure::test {

inline const IpAddress kClientIp = IpAddress::v4({100, 64, 0, 2});
inline const IpAddress kNatIp = IpAddress::v4({198, 51, 100, 1});
inline const IpAddress kServerIp = IpAddress::v4({203, 0, 113, 10});
inline constexpr std::uint16_t kServerPort = 3479;
inline constexpr std::uint16_t kClientFirstPort = 20000;

struct NetConfig {
  Duration access_latency = milliseconds(15);  // client <-> NAT
  Duration uplink_latency = milliseconds(20);  // NAT <-> server
  double loss = 0;                             // each datagram, each direction
  std::optional<std::size_t> path_max_payload;  // larger datagrams vanish (DF path)
  std::size_t server_ports = 1;                 // server sockets: kServerPort, +1, ...
  std::uint64_t seed = 7;
};

inline Endpoint server_endpoint(std::size_t index = 0) {
  return {kServerIp, static_cast<std::uint16_t>(kServerPort + index)};
}

template <class Machine>
class MeasureNet {
 public:
  MeasureNet(nat::NatConfig nat_config, const NetConfig& config, Machine machine)
      : network_(config.seed),
        server_(server_endpoints(config), ServerMachine(server_config(config), server_ports(config))),
        client_(kClientIp, kClientFirstPort, std::move(machine), 0) {
    nat_config.public_addresses = {kNatIp};
    sim::LinkConfig uplink{config.uplink_latency, {}, config.loss};
    if (config.path_max_payload) uplink.max_payload = *config.path_max_payload;
    const auto nat = network_.add_nat(nat_config, uplink).value();
    network_.add_inside_host(nat, kClientIp, sim::LinkConfig{config.access_latency}, client_);
    network_.add_public_host(kServerIp, sim::LinkConfig{}, server_);
    server_.on_event = [this](const MeasureServerEvent& e) { rows.push_back(std::get<CollectionRow>(e)); };
    client_.on_event = [this](const auto& e) {
      if (on_event) on_event(e);
    };
  }

  // Runs until the machine is done, or `limit` of virtual time;
  // returns the virtual time it took.
  Duration run(Duration limit) {
    const TimePoint start = network_.now();
    network_.run(start + limit, [&] { return client_.machine().done(); });
    return network_.now() - start;
  }
  // Delivers what is still in flight (after the machine is done).
  void drain() { network_.run(network_.now() + seconds(1), [] { return false; }); }

  Machine& machine() { return client_.machine(); }
  sim::MachineHost<Machine>& client() { return client_; }
  TimePoint now() const { return network_.now(); }

  // Every event of the client machine, as it comes.
  std::function<void(const typename sim::MachineHost<Machine>::Event&)> on_event;
  // What reached the server's collection sink.
  std::vector<CollectionRow> rows;

 private:
  static ServerConfig server_config(const NetConfig& c) {
    ServerConfig s;
    s.socket_count = c.server_ports;
    return s;
  }
  static std::vector<std::uint16_t> server_ports(const NetConfig& c) {
    std::vector<std::uint16_t> p;
    for (std::size_t i = 0; i < c.server_ports; ++i) p.push_back(static_cast<std::uint16_t>(kServerPort + i));
    return p;
  }
  static std::vector<Endpoint> server_endpoints(const NetConfig& c) {
    std::vector<Endpoint> e;
    for (std::size_t i = 0; i < c.server_ports; ++i) e.push_back(server_endpoint(i));
    return e;
  }

  sim::Network network_;
  sim::MachineHost<ServerMachine> server_;
  sim::MachineHost<Machine> client_;
};

}  // namespace natpunch::measure::test

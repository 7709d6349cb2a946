#pragma once
// What runs on a simulated host. The network calls it at its deadline and
// with every datagram that reaches the host; it answers by sending through
// the Outbox. sim::MachineHost (machine_host.hpp) runs any machine of the
// contract on a host; tests script hosts directly (an echo, an attacker).
// Hosts own no time and no randomness of their own beyond what their
// machine was built with.
#include <optional>
#include <span>

#include "core/endpoint.hpp"
#include "core/time.hpp"
#include "sim/packet.hpp"

namespace natpunch::sim {

class Network;

// Sends from one host; valid only during the call it is passed to.
class Outbox {
 public:
  Outbox(Network& network, std::uint32_t host, TimePoint now) : network_(network), host_(host), now_(now) {}
  // `from` is one of the host's own endpoints (address + local port).
  void send(const Endpoint& from, const Endpoint& to, std::span<const std::uint8_t> payload);

 private:
  Network& network_;
  std::uint32_t host_;
  TimePoint now_;
};

class HostApp {
 public:
  virtual ~HostApp() = default;
  // When on_timer() must next run; nullopt for "only when a datagram comes".
  virtual std::optional<TimePoint> next_deadline() const = 0;
  virtual void on_timer(TimePoint now, Outbox& out) = 0;
  virtual void on_datagram(TimePoint now, const Packet& packet, Outbox& out) = 0;
};

}  // namespace natpunch::sim

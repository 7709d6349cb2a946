#pragma once
// Runs any sans-IO STUN client machine (stun::BindingQuery,
// stun::NatDiscovery: poll_transmit / next_deadline / on_timer /
// on_datagram, core/transmit.hpp) from one socket of a simulated host.
#include <utility>

#include "sim/host_app.hpp"

namespace natpunch::sim {

template <class Machine>
class StunClientApp final : public HostApp {
 public:
  StunClientApp(const Endpoint& local, Machine machine) : local_(local), machine_(std::move(machine)) {}

  std::optional<TimePoint> next_deadline() const override { return machine_.next_deadline(); }

  void on_timer(TimePoint now, Outbox& out) override {
    machine_.on_timer(now);
    flush(now, out);
  }

  void on_datagram(TimePoint now, const Packet& packet, Outbox& out) override {
    if (packet.to.port != local_.port) return;  // no socket there
    machine_.on_datagram(now, 0, packet.from, packet.payload());
    flush(now, out);
  }

  Machine& machine() { return machine_; }
  const Machine& machine() const { return machine_; }

 private:
  void flush(TimePoint now, Outbox& out) {
    while (auto t = machine_.poll_transmit(now)) out.send(local_, t->to, t->bytes);
  }

  Endpoint local_;
  Machine machine_;
};

}  // namespace natpunch::sim

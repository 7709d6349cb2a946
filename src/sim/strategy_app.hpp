#pragma once
// Runs any punch::PunchStrategy on a simulated host: the strategy's socket
// i is the host's local port first_port + i; probes leave from there, and a
// datagram arriving on one of those ports goes to the strategy with its
// socket number (others are ignored, as a closed port would).
#include <memory>

#include "punch/punch_strategy.hpp"
#include "sim/host_app.hpp"

namespace natpunch::sim {

class StrategyApp final : public HostApp {
 public:
  StrategyApp(const IpAddress& local_address, std::uint16_t first_port, std::unique_ptr<punch::PunchStrategy> strategy)
      : local_address_(local_address), first_port_(first_port), strategy_(std::move(strategy)) {}

  std::optional<TimePoint> next_deadline() const override { return strategy_->next_deadline(); }

  void on_timer(TimePoint now, Outbox& out) override {
    strategy_->on_timer(now);
    flush(now, out);
  }

  void on_datagram(TimePoint now, const Packet& packet, Outbox& out) override {
    const std::uint32_t socket = std::uint32_t(packet.to.port) - first_port_;
    if (packet.to.port < first_port_ || socket >= strategy_->socket_count()) return;
    strategy_->on_datagram(now, socket, packet.from, packet.payload());
    flush(now, out);
  }

  const punch::PunchStrategy& strategy() const { return *strategy_; }
  Endpoint local_endpoint(std::uint32_t socket) const {
    return Endpoint{local_address_, static_cast<std::uint16_t>(first_port_ + socket)};
  }

 private:
  void flush(TimePoint now, Outbox& out) {
    while (auto d = strategy_->poll_transmit(now)) out.send(local_endpoint(d->socket), d->to, d->bytes);
  }

  IpAddress local_address_;
  std::uint16_t first_port_;
  std::unique_ptr<punch::PunchStrategy> strategy_;
};

}  // namespace natpunch::sim

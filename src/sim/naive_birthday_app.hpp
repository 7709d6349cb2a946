#pragma once
// Runs a punch::NaiveBirthday on a simulated host: probes leave from the
// host's address and the machine's local port; every datagram for the host
// goes to the machine with the port it arrived on.
#include "punch/naive_birthday.hpp"
#include "sim/host_app.hpp"

namespace natpunch::sim {

class NaiveBirthdayApp final : public HostApp {
 public:
  NaiveBirthdayApp(const IpAddress& local_address, const punch::NaiveBirthdayConfig& config, Rng& rng,
                   TimePoint start)
      : local_address_(local_address), attack_(config, rng, start) {}

  std::optional<TimePoint> next_deadline() const override { return attack_.next_deadline(); }

  void on_timer(TimePoint now, Outbox& out) override {
    attack_.on_timer(now);
    flush(now, out);
  }

  void on_datagram(TimePoint now, const Packet& packet, Outbox& out) override {
    attack_.on_datagram(now, packet.to.port, packet.from, packet.payload());
    flush(now, out);
  }

  const punch::NaiveBirthday& attack() const { return attack_; }

 private:
  void flush(TimePoint now, Outbox& out) {
    while (auto d = attack_.poll_transmit(now)) out.send(Endpoint{local_address_, d->local_port}, d->to, d->bytes);
  }

  IpAddress local_address_;
  punch::NaiveBirthday attack_;
};

}  // namespace natpunch::sim

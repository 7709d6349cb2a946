#include "punch/naive_birthday.hpp"

#include <algorithm>

namespace natpunch::punch {

NaiveBirthday::NaiveBirthday(const NaiveBirthdayConfig& config, Rng& rng, TimePoint start)
    : config_(config), rng_(rng), start_(start), next_send_(start), fresh_port_(config.local_port_min) {
  if (config_.min_port > config_.max_port) std::swap(config_.min_port, config_.max_port);
  if (config_.local_port_min > config_.local_port_max) std::swap(config_.local_port_min, config_.local_port_max);
  fresh_port_ = config_.local_port_min;
  port_span_ = std::uint32_t{config_.max_port} - config_.min_port + 1;
  // Every probe is this with its sequence number patched in.
  probe_template_ = wire::encode(wire::ProbeMessage{wire::ProbeKind::Probe, config_.session_id, 0});
}

std::uint16_t NaiveBirthday::random_port() {
  // Lemire's multiply-and-reject: exactly uniform, and about one 64-bit
  // draw and one multiply per probe (std::uniform_int_distribution costs
  // a division or more per call, which shows at 85 million probes).
  for (;;) {
    const std::uint64_t product = (rng_.next_u64() >> 32) * port_span_;
    const auto low = static_cast<std::uint32_t>(product);
    if (low >= port_span_ || low >= (std::uint32_t{0} - port_span_) % port_span_)
      return static_cast<std::uint16_t>(config_.min_port + (product >> 32));
  }
}

std::uint16_t NaiveBirthday::next_local_port() {
  if (config_.local_ports == LocalPortPolicy::Fixed) return config_.local_port;
  const std::uint16_t port = fresh_port_;
  fresh_port_ = port == config_.local_port_max ? config_.local_port_min : static_cast<std::uint16_t>(port + 1);
  return port;
}

std::optional<PunchDatagram> NaiveBirthday::poll_transmit(TimePoint now) {
  if (pending_ack_) {
    std::optional<PunchDatagram> ack = pending_ack_;
    pending_ack_.reset();
    ++result_.acks_sent;
    return ack;
  }
  if (result_.outcome != PunchOutcome::Running || result_.probes_sent >= config_.probe_budget || now < next_send_)
    return std::nullopt;
  PunchDatagram probe;
  probe.local_port = next_local_port();
  probe.to = Endpoint{config_.peer_address, random_port()};
  probe.bytes = probe_template_;
  wire::set_sequence(probe.bytes, static_cast<std::uint32_t>(result_.probes_sent));
  ++result_.probes_sent;
  // Keeps to the schedule even if the driver is late, so the rate is the
  // configured one on average rather than drifting with driver lag.
  next_send_ += config_.send_interval;
  return probe;
}

std::optional<TimePoint> NaiveBirthday::next_deadline() const {
  if (pending_ack_) return ack_due_;
  if (result_.outcome != PunchOutcome::Running) return std::nullopt;
  if (result_.probes_sent < config_.probe_budget) return next_send_;
  // Budget spent: the last probe went out at next_send_ - interval.
  return next_send_ - config_.send_interval + config_.linger;
}

void NaiveBirthday::on_timer(TimePoint now) {
  if (result_.outcome != PunchOutcome::Running || result_.probes_sent < config_.probe_budget) return;
  if (now >= next_send_ - config_.send_interval + config_.linger) result_.outcome = PunchOutcome::BudgetExhausted;
}

bool NaiveBirthday::authentic(const Endpoint& from, const wire::ProbeMessage& message) const {
  return from.address == config_.peer_address && message.session_id == config_.session_id;
}

void NaiveBirthday::on_datagram(TimePoint now, std::uint16_t local_port, const Endpoint& from,
                                std::span<const std::uint8_t> bytes) {
  const auto message = wire::decode_probe(bytes);
  if (!message || !authentic(from, *message)) return;
  // After the budget and linger the socket counts as closed.
  if (result_.outcome == PunchOutcome::BudgetExhausted) return;
  if (message->kind == wire::ProbeKind::Probe) {
    // ACK every probe that gets through, also after success: the peer may
    // not have seen our earlier ACK and is still probing.
    PunchDatagram ack;
    ack.local_port = local_port;
    ack.to = from;
    ack.bytes = wire::encode(wire::ProbeMessage{wire::ProbeKind::Ack, config_.session_id, message->sequence});
    pending_ack_ = ack;
    ack_due_ = now;
  }
  if (result_.outcome == PunchOutcome::Connected) return;
  result_.outcome = PunchOutcome::Connected;
  result_.via_ack = message->kind == wire::ProbeKind::Ack;
  result_.connected_at = now;
  result_.time_to_connect = now - start_;
  result_.local_port = local_port;
  result_.peer = from;
}

}  // namespace natpunch::punch

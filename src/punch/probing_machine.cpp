#include "punch/probing_machine.hpp"

namespace natpunch::punch {
namespace {

std::array<std::uint8_t, 16> nonce_secret(Rng& rng) {
  std::array<std::uint8_t, 16> secret{};
  const std::uint64_t a = rng.next_u64();
  const std::uint64_t b = rng.next_u64();
  for (int i = 0; i < 8; ++i) {
    secret[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(a >> (8 * i));
    secret[static_cast<std::size_t>(i + 8)] = static_cast<std::uint8_t>(b >> (8 * i));
  }
  return secret;
}

}  // namespace

const char* to_string(StopReason reason) {
  switch (reason) {
    case StopReason::None: return "none";
    case StopReason::ProbeBudget: return "probe budget spent";
    case StopReason::TimeBudget: return "time budget spent";
    case StopReason::RelayOnly: return "no direct path possible: relay only";
  }
  return "unknown";
}

ProbingMachine::ProbingMachine(const ProbingConfig& config, std::unique_ptr<PortChooser> chooser, Rng& rng,
                               TimePoint start)
    : config_(config),
      chooser_(std::move(chooser)),
      rng_(rng),
      key_(config.key, config.role),
      nonces_(nonce_secret(rng)),
      start_(start),
      next_send_(start),
      next_candidate_(start) {
  if (config_.sockets == 0) config_.sockets = 1;
  if (config_.candidates.size() > kMaxCandidates) config_.candidates.resize(kMaxCandidates);
  // Every probe is this with its sequence and nonce stamped in.
  probe_template_ = wire::encode(wire::ProbeMessage{wire::ProbeKind::Probe, config_.session_id, 0, 0, 0, 0}, key_);
}

bool ProbingMachine::probing() const {
  return result_.outcome == PunchOutcome::Running && !order_exhausted_ && chooser_probes_ < config_.probe_budget;
}

void ProbingMachine::enqueue(TimePoint now, const Transmit& datagram) {
  if (queued_ == 0) answer_due_ = now;
  if (queued_ < kQueue) queue_[queued_++] = datagram;
}

std::optional<Transmit> ProbingMachine::poll_transmit(TimePoint now) {
  if (queued_ > 0) {
    Transmit out = std::move(queue_[0]);
    for (std::size_t i = 1; i < queued_; ++i) queue_[i - 1] = std::move(queue_[i]);
    --queued_;
    return out;
  }
  if (result_.outcome != PunchOutcome::Running) return std::nullopt;
  if (candidate_ && now >= candidate_due_ && candidate_retransmits_ < kAckRetransmits) {
    ++candidate_retransmits_;
    candidate_due_ = now + config_.ack_retransmit;
    return candidate_;
  }
  if (config_.time_budget && now - start_ >= *config_.time_budget) return std::nullopt;
  if (!config_.candidates.empty() && now >= next_candidate_) {
    const Endpoint to = config_.candidates[candidate_turn_++ % config_.candidates.size()];
    next_candidate_ = now + config_.candidate_interval;  // never a burst to catch up
    return probe_to(to, 0);
  }
  if (!probing() || now < next_send_) return std::nullopt;
  const auto port = chooser_->next(rng_);
  if (!port) {
    // The order is exhausted: from here on it is as if the budget were spent.
    order_exhausted_ = true;
    return std::nullopt;
  }
  auto probe = probe_to(Endpoint{config_.peer_address, *port}, static_cast<std::uint32_t>(chooser_probes_ % config_.sockets));
  ++chooser_probes_;
  // Keeps to the schedule even if the driver is late, so the rate is the
  // configured one on average rather than drifting with driver lag.
  next_send_ += config_.send_interval;
  return probe;
}

std::optional<Transmit> ProbingMachine::probe_to(const Endpoint& to, std::uint32_t socket) {
  wire::ProbeBytes bytes = probe_template_;
  const auto sequence = static_cast<std::uint32_t>(result_.probes_sent);
  wire::restamp(bytes, sequence, nonces_.nonce(wire::ProbeKind::Probe, sequence, to.port), key_);
  ++result_.probes_sent;
  return Transmit{socket, to, std::span<const std::uint8_t>(bytes)};
}

bool ProbingMachine::from_peer(const Endpoint& from) const {
  if (from.address == config_.peer_address) return true;
  for (const auto& c : config_.candidates)
    if (c.address == from.address) return true;
  return false;
}

std::optional<TimePoint> ProbingMachine::next_deadline() const {
  if (queued_ > 0) return answer_due_;
  if (result_.outcome != PunchOutcome::Running) return std::nullopt;
  std::optional<TimePoint> due;
  const auto earliest = [&](TimePoint t) { due = due ? std::min(*due, t) : t; };
  if (config_.time_budget) earliest(start_ + *config_.time_budget);
  if (candidate_ && candidate_retransmits_ < kAckRetransmits) earliest(candidate_due_);
  if (probing()) earliest(next_send_);
  else earliest(last_probe_at() + config_.linger);
  if (!config_.candidates.empty()) earliest(next_candidate_);
  return due;
}

void ProbingMachine::stop(StopReason reason) {
  result_.outcome = PunchOutcome::Stopped;
  result_.stop_reason = reason;
  candidate_.reset();
  event_ = punch_event::Stopped{reason};
}

void ProbingMachine::on_timer(TimePoint now) {
  if (result_.outcome != PunchOutcome::Running) return;
  if (config_.time_budget && now - start_ >= *config_.time_budget) return stop(StopReason::TimeBudget);
  if (!probing() && now >= last_probe_at() + config_.linger) stop(StopReason::ProbeBudget);
}

void ProbingMachine::connect(TimePoint now, std::uint32_t socket, const Endpoint& from, bool via_ack) {
  result_.outcome = PunchOutcome::Connected;
  result_.via_ack = via_ack;
  result_.connected_at = now;
  result_.time_to_connect = now - start_;
  result_.socket = socket;
  result_.peer = from;
  candidate_.reset();
  event_ = punch_event::Connected{socket, from, now};
}

void ProbingMachine::answer_probe(TimePoint now, std::uint32_t socket, const Endpoint& from,
                                  const wire::ProbeMessage& probe) {
  const auto sequence = static_cast<std::uint32_t>(result_.acks_sent);
  const auto bytes =
      wire::encode(wire::ProbeMessage{wire::ProbeKind::Ack, config_.session_id, sequence, probe.sequence,
                                      nonces_.nonce(wire::ProbeKind::Ack, sequence, from.port), probe.nonce},
                   key_);
  const Transmit ack{socket, from, std::span<const std::uint8_t>(bytes)};
  ++result_.acks_sent;
  enqueue(now, ack);
  if (result_.outcome == PunchOutcome::Running && !candidate_) {
    candidate_ = ack;
    candidate_due_ = now + config_.ack_retransmit;
    candidate_retransmits_ = 0;
  }
}

void ProbingMachine::on_datagram(TimePoint now, std::uint32_t socket, const Endpoint& from,
                                 std::span<const std::uint8_t> bytes) {
  // The address check is free and keeps strangers off the MAC; the MAC and
  // the nonces stop anyone who can spoof the peer's address.
  if (!from_peer(from) || result_.outcome == PunchOutcome::Stopped || socket >= config_.sockets) {
    ++result_.rejected;
    return;
  }
  const auto message = wire::decode_probe(bytes, key_);
  if (!message || message->session_id != config_.session_id) {
    ++result_.rejected;
    return;
  }
  switch (message->kind) {
    case wire::ProbeKind::Probe:
      answer_probe(now, socket, from, *message);
      return;
    case wire::ProbeKind::Ack: {
      // Must answer a probe we sent, to the very port it came from.
      if (message->echo_sequence >= result_.probes_sent ||
          message->echo_nonce != nonces_.nonce(wire::ProbeKind::Probe, message->echo_sequence, from.port)) {
        ++result_.rejected;
        return;
      }
      const auto bytes = wire::encode(wire::ProbeMessage{wire::ProbeKind::Confirm, config_.session_id,
                                                         static_cast<std::uint32_t>(result_.confirms_sent),
                                                         message->sequence, 0, message->nonce},
                                      key_);
      const Transmit confirm{socket, from, std::span<const std::uint8_t>(bytes)};
      ++result_.confirms_sent;
      enqueue(now, confirm);
      if (result_.outcome == PunchOutcome::Running) connect(now, socket, from, true);
      return;
    }
    case wire::ProbeKind::Confirm:
      if (message->echo_sequence >= result_.acks_sent ||
          message->echo_nonce != nonces_.nonce(wire::ProbeKind::Ack, message->echo_sequence, from.port)) {
        ++result_.rejected;
        return;
      }
      if (result_.outcome == PunchOutcome::Running) connect(now, socket, from, false);
      return;
  }
}

}  // namespace natpunch::punch

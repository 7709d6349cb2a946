#include "session/candidate_checks.hpp"

#include <algorithm>

namespace natpunch::session {

namespace {

std::array<std::uint8_t, 16> secret(Rng& rng) {
  std::array<std::uint8_t, 16> s{};
  rng.fill(s);
  return s;
}

}  // namespace

CandidateChecks::CandidateChecks(const CandidateChecksConfig& config, std::vector<CandidatePair> pairs, Rng& rng,
                                 TimePoint start)
    : config_(config),
      pairs_(std::move(pairs)),
      key_(config.key, config.role),
      nonces_(secret(rng)),
      next_send_(start) {
  if (pairs_.size() > kMaxChecks) pairs_.resize(kMaxChecks);
  if (config_.max_attempts < 1) config_.max_attempts = 1;
  state_.resize(pairs_.size());
  // Best first, one per pacing interval.
  for (std::size_t i = 0; i < pairs_.size(); ++i) state_[i].next_at = start + config_.pacing * static_cast<int>(i);
}

std::optional<std::size_t> CandidateChecks::pair_of(SocketId socket, const Endpoint& from) const {
  for (std::size_t i = 0; i < pairs_.size(); ++i)
    if (pairs_[i].socket == socket && pairs_[i].remote.endpoint == from) return i;
  return std::nullopt;
}

bool CandidateChecks::owns(SocketId socket, const Endpoint& from) const {
  for (const auto& p : pairs_)
    if (p.socket == socket && p.remote.endpoint.address == from.address) return true;
  return false;
}

bool CandidateChecks::running() const {
  return std::any_of(state_.begin(), state_.end(),
                     [](const PairState& s) { return s.state == State::kWaiting || s.state == State::kInProgress; });
}

void CandidateChecks::on_datagram(TimePoint now, SocketId socket, const Endpoint& from,
                                  std::span<const std::uint8_t> bytes) {
  const auto message = wire::decode_probe(bytes, key_);
  const auto index = pair_of(socket, from);
  if (!message || message->session_id != config_.session_id || !index) {
    ++rejected_;
    return;
  }
  auto& s = state_[*index];
  switch (message->kind) {
    case wire::ProbeKind::Probe: {
      if (answers_.size() < kMaxAnswers) {
        const auto sequence = acks_sent_++;
        const auto ack = wire::encode(
            wire::ProbeMessage{wire::ProbeKind::Ack, config_.session_id, sequence, message->sequence,
                               nonces_.nonce(wire::ProbeKind::Ack, sequence, from.port), message->nonce},
            key_);
        answers_.push_back(Transmit{socket, from, std::span<const std::uint8_t>(ack)});
      }
      // Triggered: the peer reaches us here, so our check likely gets
      // through now. A failed pair stays failed (its tries are spent: the
      // count of checks never grows with what arrives).
      if ((s.state == State::kWaiting || s.state == State::kInProgress) && s.attempts < config_.max_attempts) {
        s.next_at = std::min(s.next_at, now);
        s.triggered = true;
      }
      return;
    }
    case wire::ProbeKind::Ack:
      if (message->echo_sequence >= sequence_ || sent_pair_[message->echo_sequence] != *index ||
          message->echo_nonce != nonces_.nonce(wire::ProbeKind::Probe, message->echo_sequence, from.port)) {
        ++rejected_;
        return;
      }
      if (s.state != State::kSucceeded) {
        s.state = State::kSucceeded;
        valid_.push_back(pairs_[*index]);
      }
      return;
    case wire::ProbeKind::Confirm:
      return;  // not part of a check
  }
}

void CandidateChecks::expire(TimePoint now) {
  for (auto& s : state_)
    if (s.state == State::kInProgress && s.attempts >= config_.max_attempts && now >= s.next_at)
      s.state = State::kFailed;
}

std::optional<Transmit> CandidateChecks::poll_transmit(TimePoint now) {
  if (!answers_.empty()) {
    auto t = std::move(answers_.front());
    answers_.erase(answers_.begin());
    return t;
  }
  expire(now);
  // The best pair that is due (pairs are best first): a triggered one at
  // once, others one per pacing interval.
  std::optional<std::size_t> due;
  for (std::size_t i = 0; i < pairs_.size(); ++i) {
    const auto& s = state_[i];
    if ((s.state == State::kWaiting || s.state == State::kInProgress) && s.attempts < config_.max_attempts &&
        s.next_at <= now && (s.triggered || now >= next_send_)) {
      due = i;
      break;
    }
  }
  if (!due) return std::nullopt;
  const bool triggered = state_[*due].triggered;
  auto& s = state_[*due];
  const auto& to = pairs_[*due].remote.endpoint;
  const auto sequence = sequence_++;
  sent_pair_.push_back(static_cast<std::uint8_t>(*due));
  const auto probe = wire::encode(wire::ProbeMessage{wire::ProbeKind::Probe, config_.session_id, sequence, 0,
                                                     nonces_.nonce(wire::ProbeKind::Probe, sequence, to.port), 0},
                                  key_);
  s.state = State::kInProgress;
  s.next_at = now + config_.rto * (1 << std::min(s.attempts, 10));
  s.triggered = false;
  ++s.attempts;
  ++sent_;
  if (!triggered) next_send_ = now + config_.pacing;
  return Transmit{pairs_[*due].socket, to, std::span<const std::uint8_t>(probe)};
}

std::optional<TimePoint> CandidateChecks::next_deadline() const {
  if (!answers_.empty()) return TimePoint{};  // at once
  std::optional<TimePoint> due;
  for (const auto& s : state_)
    if (s.state == State::kWaiting || s.state == State::kInProgress) {
      const auto t = s.triggered ? s.next_at : std::max(s.next_at, next_send_);
      if (!due || t < *due) due = t;
    }
  return due;
}

void CandidateChecks::on_timer(TimePoint now) { expire(now); }

std::optional<CandidatePair> CandidateChecks::poll_valid() {
  if (valid_.empty()) return std::nullopt;
  auto p = valid_.front();
  valid_.erase(valid_.begin());
  return p;
}

}  // namespace natpunch::session

#include "punch/session_keeper.hpp"

#include <algorithm>

namespace natpunch::punch {

SessionKeeper::SessionKeeper(const KeepaliveConfig& config, TimePoint now)
    : config_(config),
      interval_(std::max(config.min_interval,
                         std::chrono::duration_cast<Duration>(config.idle_timeout * std::clamp(config.safety, 0.01, 1.0)))),
      next_keepalive_(now + interval_),
      last_heard_(now) {}

std::optional<TimePoint> SessionKeeper::next_deadline() const {
  if (state_ == PathState::Dead) return std::nullopt;
  // One keepalive in flight at a time: while it waits for its answer only
  // the answer's deadline matters.
  return reply_due_ ? *reply_due_ : next_keepalive_;
}

std::optional<KeeperAction> SessionKeeper::on_timer(TimePoint now) {
  if (state_ == PathState::Dead) return std::nullopt;
  if (reply_due_ && now >= *reply_due_) {
    reply_due_.reset();
    if (++misses_ >= config_.misses_for_dead) {
      state_ = PathState::Dead;
      route_ = Route::Relay;
      return KeeperAction::RequestRepunch;
    }
    // Try again at once rather than a whole interval later: the mapping
    // may be about to expire.
    next_keepalive_ = now;
  }
  // Not while a keepalive waits for its answer: with an interval shorter
  // than reply_timeout, a new keepalive would push the answer's deadline
  // out for ever and a dead path would never be noticed.
  if (!reply_due_ && now >= next_keepalive_) {
    next_keepalive_ = now + interval_;
    reply_due_ = now + config_.reply_timeout;
    return KeeperAction::SendKeepalive;
  }
  return std::nullopt;
}

void SessionKeeper::on_sent_direct(TimePoint now) {
  // Postponed only while the peer is heard too: sending alone proves nothing.
  if (state_ == PathState::Alive && !reply_due_)
    next_keepalive_ = std::max(next_keepalive_, std::min(now, last_heard_) + interval_);
}

void SessionKeeper::on_received_direct(TimePoint now) {
  if (state_ == PathState::Dead) return;  // only a re-punch brings the path back
  misses_ = 0;
  reply_due_.reset();
  // Not a reason to postpone our keepalive: some NATs refresh a mapping
  // only on outbound traffic.
  last_heard_ = std::max(last_heard_, now);
}

void SessionKeeper::on_peer_reported_dead() {
  state_ = PathState::Dead;
  route_ = Route::Relay;
  reply_due_.reset();
}

void SessionKeeper::on_direct_restored(TimePoint now) {
  state_ = PathState::Alive;
  route_ = Route::Direct;
  misses_ = 0;
  reply_due_.reset();
  next_keepalive_ = now + interval_;
  last_heard_ = now;
}

}  // namespace natpunch::punch

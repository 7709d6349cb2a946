#include "punch/session_channel.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace natpunch::punch {

namespace {
// Proposals and closes are sent twice: the relay drops under its rate limit.
constexpr int kControlCopies = 2;

std::uint64_t to_echo(TimePoint t) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}
}  // namespace

bool plausible_peer_endpoint(const Endpoint& endpoint) {
  if (endpoint.port == 0 || endpoint.address.is_unspecified()) return false;
  const std::uint8_t* a = endpoint.address.data();
  if (endpoint.address.is_v4()) {
    // 0/8 "this network", 127/8 loopback, 224/4 multicast, 240/4 reserved and broadcast.
    return a[0] != 0 && a[0] != 127 && a[0] < 224;
  }
  static constexpr std::array<std::uint8_t, 16> kLoopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return a[0] != 0xff && !std::equal(kLoopback.begin(), kLoopback.end(), a);
}

SessionChannel::SessionChannel(const SessionChannelConfig& config, TimePoint now)
    : config_(config),
      keys_(config.key, config.caller ? wire::SessionRole::Caller : wire::SessionRole::Callee),
      route_(config.direct ? Route::Direct : Route::Relay),
      rng_(config.seed),
      peer_known_(config.peer_endpoint) {
  if (config_.direct && config_.peer_endpoint) path_ = DirectPath{config_.socket, *config_.peer_endpoint};
  if (config_.direct && config_.keepalive) {
    keeper_.emplace(config_.keepalive_config, now);
    keepalive_interval_ = keeper_->keepalive_interval();
  }
}

void SessionChannel::queue(ChannelPath path, std::uint8_t flags, std::uint64_t sequence,
                           std::span<const std::uint8_t> payload, const std::optional<DirectPath>& to) {
  wire::SessionDatagram d{flags, config_.session_id, sequence, {payload.begin(), payload.end()}};
  ChannelTransmit t{path, 0, {}, wire::encode(d, keys_)};
  if (path == ChannelPath::Direct) {
    const auto& via = to ? to : path_;
    if (!via) return;  // never punched: nowhere to send directly
    t.socket = via->socket;
    t.to = via->peer;
  }
  outbox_.push_back(std::move(t));
}

void SessionChannel::send_control(const wire::SessionControl& control, ChannelPath path,
                                  const std::optional<DirectPath>& to) {
  const auto body = wire::encode(control);
  queue(path, wire::kFlagControl, ++control_sequence_, body, to);
}

bool SessionChannel::send(TimePoint now, std::span<const std::uint8_t> payload) {
  if (closed_ || payload.size() > config_.max_payload) return false;
  const ChannelPath path = route_ == Route::Direct ? ChannelPath::Direct : ChannelPath::Relay;
  queue(path, 0, ++data_sequence_, payload);
  ++counters_.datagrams_sent;
  counters_.bytes_sent += payload.size();
  if (path == ChannelPath::Direct) {
    ++counters_.sent_direct;
    ++sent_since_heard_;
    if (keeper_) keeper_->on_sent_direct(now);
  } else {
    ++counters_.sent_relay;
  }
  return true;
}

bool SessionChannel::on_direct(TimePoint now, std::uint32_t socket, const Endpoint& from,
                               std::span<const std::uint8_t> bytes) {
  return on_datagram(now, bytes, ChannelPath::Direct, DirectPath{socket, from});
}

bool SessionChannel::on_relay(TimePoint now, std::span<const std::uint8_t> bytes) {
  return on_datagram(now, bytes, ChannelPath::Relay, std::nullopt);
}

bool SessionChannel::on_datagram(TimePoint now, std::span<const std::uint8_t> bytes, ChannelPath path,
                                 const std::optional<DirectPath>& via) {
  auto decoded = wire::decode_session_datagram(bytes, config_.session_id, keys_);
  if (!decoded) {
    ++counters_.rejected;
    return false;
  }
  auto& d = decoded.value();
  const bool control = (d.flags & wire::kFlagControl) != 0;
  auto& window = control ? control_window_ : data_window_;
  const std::uint64_t highest_before = window.highest();
  if (!window.accept(d.sequence)) {
    ++counters_.duplicates_dropped;
    return true;
  }
  if (path == ChannelPath::Direct) {
    sent_since_heard_ = 0;
    if (keeper_) keeper_->on_received_direct(now);
    // Only news from the peer may point us elsewhere: never a duplicate
    // (dropped above) nor a datagram older than one already seen.
    if (via && d.sequence > highest_before && config_.follow_peer && route_ == Route::Direct && path_ &&
        *via != *path_ && !closed_)
      consider_path(now, *via);
  }
  if (control) {
    if (auto c = wire::decode_session_control(d.payload)) on_control(now, *c, path, via);
    return true;
  }
  // Loss as the gaps in the peer's numbering; a late arrival fills its gap.
  if (d.sequence > highest_before)
    counters_.received_lost += d.sequence - highest_before - 1;
  else if (counters_.received_lost > 0)
    --counters_.received_lost;
  ++counters_.datagrams_received;
  counters_.bytes_received += d.payload.size();
  ++(path == ChannelPath::Direct ? counters_.received_direct : counters_.received_relay);
  inbox_.push_back(std::move(d.payload));
  return true;
}

void SessionChannel::consider_path(TimePoint now, const DirectPath& via) {
  auto it = std::find_if(candidates_.begin(), candidates_.end(), [&](const Candidate& c) { return c.path == via; });
  if (it == candidates_.end()) {
    if (candidates_.size() >= kMaxCandidates) {
      // Replace the one challenged longest ago.
      it = std::min_element(candidates_.begin(), candidates_.end(),
                            [](const Candidate& a, const Candidate& b) { return a.last_challenge < b.last_challenge; });
      *it = Candidate{via, 0, 0, {}};
    } else {
      it = candidates_.insert(candidates_.end(), Candidate{via, 0, 0, {}});
    }
  } else {
    if (it->challenges > 0 && now - it->last_challenge < kChallengeInterval) return;
    if (it->challenges >= kMaxChallenges) {
      if (now - it->last_challenge < kCandidateRetry) return;
      it->challenges = 0;
    }
  }
  it->token = rng_.next_u64();
  it->last_challenge = now;
  ++it->challenges;
  ++counters_.path_challenges;
  send_control({wire::ControlType::PathChallenge, it->token, 0, 0, std::nullopt}, ChannelPath::Direct, via);
}

void SessionChannel::on_path_response(const DirectPath& via, std::uint64_t token) {
  auto it = std::find_if(candidates_.begin(), candidates_.end(),
                         [&](const Candidate& c) { return c.path == via && c.challenges > 0 && c.token == token; });
  if (it == candidates_.end()) return;
  if (route_ == Route::Direct && path_ != via) {
    path_ = via;
    ++counters_.path_switches;
  }
  candidates_.erase(it);
}

void SessionChannel::on_control(TimePoint now, const wire::SessionControl& c, ChannelPath path,
                                const std::optional<DirectPath>& via) {
  switch (c.type) {
    case wire::ControlType::PathChallenge:
      // Answered on the very path it came by, whatever ours is.
      if (path == ChannelPath::Direct && via && !closed_)
        send_control({wire::ControlType::PathResponse, c.echo, 0, 0, std::nullopt}, ChannelPath::Direct, via);
      return;
    case wire::ControlType::PathResponse:
      if (path == ChannelPath::Direct && via && !closed_) on_path_response(*via, c.echo);
      return;
    case wire::ControlType::Keepalive:
      // Answered on the path it came by; a relayed one (never sent) is ignored.
      if (path == ChannelPath::Direct && !closed_)
        send_control({wire::ControlType::KeepaliveReply, c.echo, 0, 0, std::nullopt}, ChannelPath::Direct);
      return;
    case wire::ControlType::KeepaliveReply: {
      ++counters_.keepalive_replies;
      const auto sent = TimePoint{} + std::chrono::microseconds(c.echo);
      if (sent <= now) counters_.rtt = now - sent;
      return;
    }
    case wire::ControlType::Repunch: {
      if (closed_ || !config_.repunch) return;
      // Before the epoch checks: the losing side of a tie still says where it is.
      note_peer_endpoint(c.epoch, c.endpoint);
      const bool newer = c.epoch > epoch_;
      // Both proposed this epoch: the caller's timing wins.
      const bool tie_lost = c.epoch == epoch_ && own_proposal_ && !config_.caller && !punching_;
      if (!newer && !tie_lost) return;
      const bool was_direct = route_ == Route::Direct;
      if (newer && was_direct) {
        // The peer lost the path (maybe one way only): trust it.
        declare_dead();
        if (keeper_) keeper_->on_peer_reported_dead();
      }
      epoch_ = c.epoch;
      own_proposal_ = false;
      propose_at_.reset();  // the peer's proposal replaces the one we were preparing
      // A lost path: both sides retry. An upgrade of a session that is on
      // the relay anyway (we have no retries of our own pending): the
      // proposer paces the next try, we only follow.
      if (newer && (was_direct || attempts_left_ > 0)) {
        attempts_left_ = config_.repunch_attempts;
        retry_delay_ = config_.repunch_retry;
      }
      retry_at_.reset();
      order_ = RepunchOrder{epoch_, now + milliseconds(c.lead_ms)};
      // Tell the peer where we are now, before its punch starts.
      if (config_.observe_wait > Duration::zero()) {
        refresh_request_ = true;
        ack_at_ = now + std::min<Duration>(config_.observe_wait, milliseconds(c.lead_ms) / 2);
      } else {
        send_ack();
      }
      return;
    }
    case wire::ControlType::RepunchAck:
      if (!closed_ && config_.repunch) note_peer_endpoint(c.epoch, c.endpoint);
      return;
    case wire::ControlType::RelayCandidate:
      // Every copy: a repeat says the peer has not heard us through TURN yet.
      if (closed_ || !c.endpoint) return;
      if (!plausible_peer_endpoint(*c.endpoint)) {
        ++counters_.endpoints_ignored;
        return;
      }
      peer_relay_candidate_ = c.endpoint;
      return;
    case wire::ControlType::Close:
      counters_.peer_closed = true;
      retry_at_.reset();
      propose_at_.reset();
      ack_at_.reset();
      order_.reset();
      keeper_.reset();
      return;
  }
}

void SessionChannel::declare_dead() {
  route_ = Route::Relay;
  ++counters_.path_deaths;
  counters_.sent_lost += sent_since_heard_;
  sent_since_heard_ = 0;
}

void SessionChannel::note_peer_endpoint(std::uint32_t epoch, const std::optional<Endpoint>& endpoint) {
  // A late copy of an older proposal must not move the aim back.
  if (!endpoint || epoch < epoch_ || epoch < peer_report_epoch_) return;
  if (!plausible_peer_endpoint(*endpoint)) {
    ++counters_.endpoints_ignored;
    return;
  }
  if (peer_known_ && *peer_known_ != *endpoint) ++counters_.peer_endpoint_changes;
  peer_known_ = endpoint;
  peer_reported_ = endpoint;
  peer_report_epoch_ = epoch;
}

void SessionChannel::begin_proposal(TimePoint now) {
  if (closed_ || counters_.peer_closed || !config_.repunch || attempts_left_ <= 0) return;
  if (config_.observe_wait <= Duration::zero()) {
    propose_repunch(now);
    return;
  }
  refresh_request_ = true;
  propose_at_ = now + config_.observe_wait;
}

void SessionChannel::propose_repunch(TimePoint now) {
  propose_at_.reset();
  if (closed_ || counters_.peer_closed || !config_.repunch || attempts_left_ <= 0) return;
  --attempts_left_;
  ++epoch_;
  own_proposal_ = true;
  const auto lead_ms = static_cast<std::uint32_t>(std::chrono::duration_cast<milliseconds>(config_.repunch_lead).count());
  for (int i = 0; i < kControlCopies; ++i)
    send_control({wire::ControlType::Repunch, 0, epoch_, lead_ms, observed_}, ChannelPath::Relay);
  order_ = RepunchOrder{epoch_, now + config_.repunch_lead};
}

void SessionChannel::send_ack() {
  ack_at_.reset();
  if (closed_ || counters_.peer_closed) return;
  for (int i = 0; i < kControlCopies; ++i)
    send_control({wire::ControlType::RepunchAck, 0, epoch_, 0, observed_}, ChannelPath::Relay);
}

void SessionChannel::on_observed(TimePoint now, const Endpoint& observed) {
  observed_ = observed;
  if (closed_) return;
  if (propose_at_) {
    if (punching_)
      propose_at_.reset();
    else
      propose_repunch(now);
  }
  if (ack_at_) send_ack();
}

bool SessionChannel::poll_refresh_request() { return std::exchange(refresh_request_, false); }

std::optional<TimePoint> SessionChannel::next_deadline() const {
  std::optional<TimePoint> t;
  if (keeper_) t = keeper_->next_deadline();
  for (const auto& at : {retry_at_, propose_at_, ack_at_})
    if (at && (!t || *at < *t)) t = at;
  return t;
}

void SessionChannel::on_timer(TimePoint now) {
  if (closed_) return;
  if (retry_at_ && now >= *retry_at_) {
    retry_at_.reset();
    if (!punching_) begin_proposal(now);
  }
  if (propose_at_ && now >= *propose_at_) {
    // No fresh observation in time: propose with what we have.
    if (punching_)
      propose_at_.reset();
    else
      propose_repunch(now);
  }
  if (ack_at_ && now >= *ack_at_) send_ack();
  if (!keeper_) return;
  while (auto action = keeper_->on_timer(now)) {
    if (*action == KeeperAction::SendKeepalive) {
      ++counters_.keepalives_sent;
      send_control({wire::ControlType::Keepalive, to_echo(now), 0, 0, std::nullopt}, ChannelPath::Direct);
      keeper_->on_sent_direct(now);
    } else {
      declare_dead();
      attempts_left_ = config_.repunch_attempts;
      retry_delay_ = config_.repunch_retry;
      if (!punching_) begin_proposal(now);
    }
  }
}

std::optional<ChannelTransmit> SessionChannel::poll_transmit() {
  if (outbox_.empty()) return std::nullopt;
  auto t = std::move(outbox_.front());
  outbox_.pop_front();
  return t;
}

std::optional<std::vector<std::uint8_t>> SessionChannel::poll_received() {
  if (inbox_.empty()) return std::nullopt;
  auto d = std::move(inbox_.front());
  inbox_.pop_front();
  return d;
}

std::optional<RepunchOrder> SessionChannel::poll_repunch() {
  auto o = order_;
  order_.reset();
  if (o) {
    punching_ = true;
    ++counters_.repunches;
  }
  return o;
}

void SessionChannel::go_direct(TimePoint now, const DirectPath& path) {
  route_ = Route::Direct;
  path_ = path;
  peer_known_ = path.peer;
  candidates_.clear();
  propose_at_.reset();
  sent_since_heard_ = 0;
  retry_at_.reset();
  if (!config_.keepalive) return;
  if (keeper_)
    keeper_->on_direct_restored(now);
  else
    keeper_.emplace(config_.keepalive_config, now);
  keepalive_interval_ = keeper_->keepalive_interval();
}

void SessionChannel::on_punched(TimePoint now, const DirectPath& path) {
  if (closed_ || route_ == Route::Direct) return;
  go_direct(now, path);
}

void SessionChannel::on_better_path(TimePoint now, const DirectPath& path) {
  if (closed_ || (route_ == Route::Direct && path_ == path)) return;
  if (route_ == Route::Direct) ++counters_.path_switches;
  go_direct(now, path);
}

void SessionChannel::on_network_changed(TimePoint now) {
  if (closed_ || counters_.peer_closed || !config_.repunch) return;
  if (route_ == Route::Direct) {
    declare_dead();
    keeper_.reset();  // the path is gone, not merely quiet; a new one brings its own
  }
  attempts_left_ = config_.repunch_attempts;
  retry_delay_ = config_.repunch_retry;
  retry_at_.reset();
  if (!punching_ && !propose_at_) begin_proposal(now);
}

void SessionChannel::propose_upgrade(TimePoint now) {
  if (closed_ || route_ == Route::Direct || punching_ || propose_at_) return;
  attempts_left_ = 1;  // the caller of this paces further attempts
  retry_delay_ = config_.repunch_retry;
  begin_proposal(now);
}

void SessionChannel::on_repunch_finished(TimePoint now, std::uint32_t epoch, std::optional<DirectPath> path) {
  punching_ = false;
  if (path) {
    ++counters_.repunches_succeeded;
    go_direct(now, *path);
    return;
  }
  // Only the latest epoch's failure schedules a retry; a newer proposal
  // that arrived meanwhile is already ordered.
  if (epoch != epoch_ || order_ || closed_ || counters_.peer_closed || attempts_left_ <= 0) return;
  retry_at_ = now + retry_delay_;
  retry_delay_ = std::min<Duration>(retry_delay_ * 2, seconds(60));
}

std::vector<std::uint8_t> SessionChannel::seal_relay_candidate(const Endpoint& relayed) {
  const auto body = wire::encode(wire::SessionControl{wire::ControlType::RelayCandidate, 0, 0, 0, relayed});
  return wire::encode(wire::SessionDatagram{wire::kFlagControl, config_.session_id, ++control_sequence_,
                                            {body.begin(), body.end()}},
                      keys_);
}

void SessionChannel::close(TimePoint now) {
  (void)now;
  if (closed_) return;
  for (int i = 0; i < kControlCopies; ++i) {
    if (route_ == Route::Direct) send_control({wire::ControlType::Close, 0, 0, 0, std::nullopt}, ChannelPath::Direct);
    send_control({wire::ControlType::Close, 0, 0, 0, std::nullopt}, ChannelPath::Relay);
  }
  closed_ = true;
  keeper_.reset();
  retry_at_.reset();
  propose_at_.reset();
  ack_at_.reset();
  order_.reset();
}

}  // namespace natpunch::punch

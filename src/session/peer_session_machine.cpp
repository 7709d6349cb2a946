#include "session/peer_session_machine.hpp"

#include <algorithm>
#include <iomanip>
#include <sstream>

#include "punch/repunch_aim.hpp"
#include "punch/side_knowledge.hpp"
#include "punch/strategies.hpp"
#include "turn/rest_credentials.hpp"
#include "wire/session_datagram.hpp"

namespace natpunch::session {

namespace {

namespace ev = rendezvous::client_event;

static_assert(kMaxSessionPayload + wire::kSessionHeaderSize + wire::kSessionMacSize <= rendezvous::kMaxRelayPayload,
              "a sealed session datagram must fit the relay");

double to_ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::string fixed(double value, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << value;
  return s.str();
}

std::chrono::microseconds micros(Duration d) {
  return std::max(std::chrono::microseconds(0), std::chrono::duration_cast<std::chrono::microseconds>(d));
}

// The relay must reach us through our NAT too: with a known idle timeout
// (and keepalives wanted) the registration gets keepalives of its own. And
// the peer must not punch for minutes at a side that never will: it learns
// relay_only in its SessionInfo.
rendezvous::ClientConfig client_config(const SessionConfig& c) {
  auto client = c.client;
  client.info.relay_only = client.info.relay_only || c.plan.relay_only;
  if (c.keepalive_enabled && client.info.idle_timeout_ms > 0 && client.keepalive_interval == Duration::zero())
    client.keepalive_interval = std::max<Duration>(
        seconds(1), std::chrono::duration_cast<Duration>(milliseconds(client.info.idle_timeout_ms) * c.keepalive.safety));
  return client;
}

void earliest(std::optional<TimePoint>& t, std::optional<TimePoint> candidate) {
  if (candidate && (!t || *candidate < *t)) t = candidate;
}

// A re-punch is bounded like the first hole punch.
punch::StrategyParams repunch_params(punch::StrategyParams params, Duration hole_punch, std::uint64_t probe_budget) {
  params.probe_budget = probe_budget;
  params.time_budget = std::max<Duration>(hole_punch, seconds(2));
  params.linger = milliseconds(500);
  return params;
}

}  // namespace

PeerSessionMachine::PeerSessionMachine(SessionConfig config, rendezvous::RandomBytes random, TimePoint now)
    : config_(std::move(config)), rng_(config_.seed), client_(client_config(config_), std::move(random)) {
  info_.server = config_.client.server.to_string();
  servers_.push_back(config_.client.server);
  for (const auto& e : config_.client.alternate_servers)
    if (std::find(servers_.begin(), servers_.end(), e) == servers_.end()) servers_.push_back(e);
  attempt_started_ = now;
  info_.identity = rendezvous::to_hex(config_.client.identity.public_key);
  progress(SessionProgress::Kind::kIdentity, info_.identity);
  registration_deadline_ = now + std::min(config_.registration_wait, config_.wait);
  client_.start(now);
  queue_client(now);
}

PeerSessionMachine::~PeerSessionMachine() = default;

void PeerSessionMachine::progress(SessionProgress::Kind kind, std::string message, std::string strategy,
                                  std::string endpoint) {
  SessionProgress p;
  p.kind = kind;
  p.message = std::move(message);
  p.strategy = std::move(strategy);
  p.endpoint = std::move(endpoint);
  if (kind == SessionProgress::Kind::kRegistered) p.transport = info_.rendezvous_transport;
  events_.push_back(session_event::Progress{std::move(p)});
}

void PeerSessionMachine::fail(TimePoint now, ErrorKind kind, std::string message) {
  Error e;
  e.kind = kind;
  e.message = std::move(message);
  e.session_id = session_.session_id;
  e.strategy = phase_ == Phase::Punching ? current_strategy() : std::string();
  e.probes_sent = probes_total_ + (phase_ == Phase::Punching && strategy_ ? strategy_->result().probes_sent : 0);
  phase_ = Phase::Failed;
  strategy_.reset();
  if (turn_) turn_->close(now);
  // Frees the registration slot at once (an identity has a bounded number).
  client_.close(now);
  queue_client(now);
  events_.push_back(session_event::Failed{std::move(e)});
}

std::string PeerSessionMachine::current_strategy() const {
  if (phase_ == Phase::Punching && stage_ < stages_.size()) return std::string(punch::to_string(stages_[stage_].kind));
  return info_.strategy.empty() ? std::string("relay") : info_.strategy;
}

std::string PeerSessionMachine::server_list() const {
  std::string list;
  for (const auto& e : servers_) list += (list.empty() ? "" : ", ") + e.to_string();
  return list;
}

void PeerSessionMachine::check_failover(TimePoint now, bool lost) {
  if (lost) attempt_started_ = now;  // registering again, at the same server so far
  if (servers_.size() < 2 || phase_ == Phase::Closed || phase_ == Phase::Failed) return;
  const bool silent = !client_.registered() && now - attempt_started_ >= kFailoverAfter;
  if (!lost && !silent) return;
  if (!moved_from_) moved_from_ = info_.server;
  current_server_ = (current_server_ + 1) % servers_.size();
  ++failovers_;
  attempt_started_ = now;
  info_.server = servers_[current_server_].to_string();
  client_.switch_server(now, servers_[current_server_]);
  queue_client(now);
}

void PeerSessionMachine::use_rendezvous_stream(TimePoint now, const std::string& transport) {
  if (phase_ == Phase::Closed || phase_ == Phase::Failed) return;
  const std::string before = info_.rendezvous_transport;
  info_.rendezvous_transport = transport;
  config_.plan.relay_only = true;
  client_.set_relay_only(true);
  if (phase_ == Phase::Registering) {
    // Connecting took some of the wait: the stream gets a fair chance.
    registration_deadline_ = std::max(registration_deadline_, now + kStreamRegistrationWait);
    progress(SessionProgress::Kind::kWarning,
             "no answer over " + (before == "udp" ? std::string("UDP") : before) + " from " + info_.server +
                 ": registering over " + transport + " (relay only)");
  }
  client_.switch_server(now, client_.server());
  queue_client(now);
}

void PeerSessionMachine::rendezvous_unreachable(TimePoint now, std::string message) {
  if (phase_ == Phase::Registering) fail(now, ErrorKind::kNoAnswer, std::move(message));
}

void PeerSessionMachine::queue_client(TimePoint now) {
  while (auto t = client_.poll_transmit(now)) outbox_.push_back(std::move(*t));
}

// --- the contract

void PeerSessionMachine::on_datagram(TimePoint now, SocketId socket, const Endpoint& from,
                                     std::span<const std::uint8_t> bytes) {
  if (phase_ == Phase::Closed || phase_ == Phase::Failed) return;
  if (TurnRoute::is_link(socket)) {
    if (!turn_) return;
    turn_->on_datagram(now, socket, from, bytes);
    pump_turn(now);
    if (phase_ == Phase::Open) service_channel(now);
    return;
  }
  if (socket == 0 && from == client_.server() && client_.on_datagram(now, socket, from, bytes)) {
    on_client_events(now);
    queue_client(now);
    if (phase_ == Phase::Open) service_channel(now);
    return;
  }
  if (peer_turn_ && socket == 0 && from == peer_turn_->relayed() && wire::looks_like_session_datagram(bytes)) {
    // Through the peer's TURN relay (one-sided): a relayed datagram.
    if (phase_ == Phase::Open && channel_->on_relay(now, bytes)) peer_turn_->on_heard(now);
    if (phase_ == Phase::Open) service_channel(now);
    return;
  }
  if (wire::looks_like_session_datagram(bytes)) {
    if (phase_ == Phase::Open) {
      // Authentic wherever it came from; only a punched path is used to send.
      channel_->on_direct(now, socket, from, bytes);
      service_channel(now);
    } else if (phase_ == Phase::Punching && early_.size() < kMaxEarly) {
      // The peer finished its handshake first and sends data while we
      // still punch: keep it for the session.
      early_.push_back({false, socket, from, {bytes.begin(), bytes.end()}});
    }
    return;
  }
  if (checks_ && checks_->owns(socket, from)) {
    checks_->on_datagram(now, socket, from, bytes);
    on_checks(now);
    if (phase_ == Phase::Open) service_channel(now);
    return;
  }
  if (!strategy_) return;
  strategy_->on_datagram(now, socket, from, bytes);
  if (phase_ == Phase::Punching) on_strategy_events(now);
  if (phase_ == Phase::Open) service_channel(now);
}

std::optional<Transmit> PeerSessionMachine::poll_transmit(TimePoint now) {
  if (!outbox_.empty()) {
    auto t = std::move(outbox_.front());
    outbox_.pop_front();
    return t;
  }
  if (checks_ && (phase_ == Phase::Punching || phase_ == Phase::Open))
    if (auto t = checks_->poll_transmit(now)) return t;
  if (turn_)
    if (auto t = turn_->poll_transmit(now)) return t;
  if (!strategy_) return std::nullopt;
  // Probes go straight from the strategy (inline bytes: no allocation).
  auto t = strategy_->poll_transmit(now);
  if (t) sockets_used_ = std::max(sockets_used_, t->socket + 1);
  return t;
}

std::optional<TimePoint> PeerSessionMachine::next_deadline() const {
  if (phase_ == Phase::Closed || phase_ == Phase::Failed) return std::nullopt;
  std::optional<TimePoint> t = client_.next_deadline();
  if (servers_.size() > 1 && !client_.registered() && phase_ != Phase::Closed && phase_ != Phase::Failed)
    earliest(t, attempt_started_ + kFailoverAfter);
  switch (phase_) {
    case Phase::Registering: earliest(t, registration_deadline_); break;
    case Phase::WaitingForSession: earliest(t, session_deadline_); break;
    case Phase::Punching:
      if (strategy_) earliest(t, strategy_->next_deadline());
      if (checks_) earliest(t, checks_->next_deadline());
      earliest(t, checks_only_until_);
      earliest(t, next_progress_);
      if (turn_) earliest(t, turn_->next_deadline(false));  // announcing waits for the channel
      break;
    case Phase::Open:
      if (turn_) earliest(t, turn_->next_deadline(true));
      if (peer_turn_) earliest(t, peer_turn_->next_deadline());
      earliest(t, channel_->next_deadline());
      if (checks_) earliest(t, checks_->next_deadline());
      if (order_) earliest(t, order_->start);
      earliest(t, upgrade_at_);
      if (strategy_) earliest(t, strategy_->next_deadline());
      break;
    default: break;
  }
  return t;
}

void PeerSessionMachine::on_timer(TimePoint now) {
  if (phase_ == Phase::Closed || phase_ == Phase::Failed) return;
  if (auto due = client_.next_deadline(); due && *due <= now) client_.on_timer(now);
  check_failover(now, false);
  on_client_events(now);
  queue_client(now);
  if (turn_) {
    turn_->on_timer(now);
    pump_turn(now);
  }
  switch (phase_) {
    case Phase::Registering:
      if (now >= registration_deadline_) {
        if (mismatched_key_) {
          const auto& pinned = config_.client.pinned_server_key;
          fail(now, ErrorKind::kServerKeyMismatch,
               "server key mismatch: the rendezvous server answered with key " + rendezvous::to_hex(*mismatched_key_) +
                   ", not the pinned " + (pinned ? rendezvous::to_hex(*pinned) : std::string("key")) +
                   ": either the pinned key is wrong, or someone between this host and the server is impersonating "
                   "it (a possible attack); not registering at " +
                   info_.server);
        } else {
          fail(now, ErrorKind::kNoAnswer,
               refused_ ? "the rendezvous server refused the registration: " +
                              std::string(rendezvous::to_string(*refused_)) + " at " + info_.server
                        : servers_.size() > 1 ? "no answer from any of the rendezvous servers " + server_list()
                                              : "no answer from the rendezvous server at " + info_.server);
        }
      }
      break;
    case Phase::WaitingForSession:
      if (session_deadline_ && now >= *session_deadline_)
        fail(now, ErrorKind::kNoSession,
             config_.caller ? "no session before the timeout" : "no accepted request before the timeout");
      break;
    case Phase::Punching:
      if (checks_) {
        if (auto due = checks_->next_deadline(); due && *due <= now) checks_->on_timer(now);
        on_checks(now);
      }
      if (phase_ == Phase::Punching && strategy_) {
        if (auto due = strategy_->next_deadline(); due && *due <= now) strategy_->on_timer(now);
        on_strategy_events(now);
      }
      // Only checks, and none answered in time (or all failed): the relay.
      if (phase_ == Phase::Punching && checks_only_until_ &&
          (now >= *checks_only_until_ || !checks_ || !checks_->running())) {
        checks_only_until_.reset();
        open(now, std::nullopt);
      }
      if (phase_ == Phase::Punching && next_progress_ && now >= *next_progress_) {
        const auto& stage = stages_[stage_];
        if (now >= stage.start && strategy_) {
          SessionProgress p;
          p.kind = SessionProgress::Kind::kPunching;
          p.strategy = current_strategy();
          p.elapsed = micros(since_start(now, stage.start));
          p.probes_sent = strategy_->result().probes_sent;
          p.sockets_open = sockets_used_;
          p.message = "punch: " + p.strategy + " " + fixed(to_ms(since_start(now, stage.start)) / 1000, 1) + " s, " +
                      std::to_string(p.probes_sent) + " probes, " + std::to_string(p.sockets_open) + " socket(s)";
          events_.push_back(session_event::Progress{std::move(p)});
        }
        next_progress_ = now + config_.progress_interval;
      }
      break;
    case Phase::Open:
      service_channel(now);
      break;
    default: break;
  }
}

std::optional<SessionEvent> PeerSessionMachine::poll_event() {
  if (events_.empty()) return std::nullopt;
  auto e = std::move(events_.front());
  events_.pop_front();
  return e;
}

// --- registration and the session

void PeerSessionMachine::on_client_events(TimePoint now) {
  while (auto e = client_.poll_event()) {
    if (const auto* r = std::get_if<ev::Registered>(&*e)) {
      refused_.reset();
      if (moved_from_) {
        progress(SessionProgress::Kind::kRegistered,
                 "registered at " + info_.server + " (" + *moved_from_ + " stopped answering), seen as " +
                     r->observed.to_string(),
                 {}, r->observed.to_string());
        moved_from_.reset();
      }
      if (phase_ != Phase::Registering) continue;  // a refresh or a re-registration
      observed_ = r->observed;
      info_.observed = r->observed.to_string();
      progress(SessionProgress::Kind::kRegistered,
               "registered at " + info_.server +
                   (info_.rendezvous_transport == "udp" ? "" : " over " + info_.rendezvous_transport) + ", seen as " +
                   info_.observed,
               {}, info_.observed);
      phase_ = Phase::WaitingForSession;
      session_deadline_ = now + config_.wait;
      if (config_.caller && config_.peer) request_id_ = client_.connect(now, *config_.peer);
      continue;
    }
    if (const auto* r = std::get_if<ev::RelayResumed>(&*e)) {
      // Registered again (a restart, or a move to another node): the
      // server runs our session's relay again (issue 21, relay handover).
      if (r->session_id == session_.session_id && session_.session_id != 0)
        progress(SessionProgress::Kind::kRegistered, "relay resumed through " + info_.server);
      continue;
    }
    if (const auto* r = std::get_if<ev::RegistrationRefused>(&*e)) {
      refused_ = r->code;
      continue;
    }
    if (const auto* lost = std::get_if<ev::RegistrationLost>(&*e)) {
      if (!lost->reason) check_failover(now, true);
      continue;
    }
    if (const auto* m = std::get_if<ev::ServerKeyMismatch>(&*e)) {
      if (phase_ == Phase::Registering && !mismatched_key_) {
        mismatched_key_ = m->offered;
        registration_deadline_ = std::min(registration_deadline_, now + kGraceAfterMismatch);
      }
      continue;
    }
    if (const auto* w = std::get_if<ev::PeerNotRegistered>(&*e)) {
      if (phase_ != Phase::WaitingForSession || w->request_id != request_id_) continue;
      // Once at first, then every 5 s: a line per retry would flood.
      if (!last_waiting_notice_ || now - *last_waiting_notice_ >= seconds(5)) {
        last_waiting_notice_ = now;
        const auto left = std::chrono::duration_cast<seconds>(*session_deadline_ - now).count();
        progress(SessionProgress::Kind::kWaitingForPeer,
                 "peer " + rendezvous::to_hex(w->peer).substr(0, 16) +
                     " is not registered (or all its registrations are busy); asking again until the wait ends (" +
                     std::to_string(left) + " s left)");
      }
      continue;
    }
    if (const auto* f = std::get_if<ev::ConnectFailed>(&*e)) {
      if (phase_ == Phase::WaitingForSession && f->request_id == request_id_)
        fail(now, ErrorKind::kNoSession, "connect failed: " + std::string(rendezvous::to_string(f->code)));
      continue;
    }
    if (const auto* s = std::get_if<ev::SessionReady>(&*e)) {
      if (phase_ != Phase::WaitingForSession) continue;
      const bool mine = config_.caller ? s->session.role == rendezvous::Role::Caller &&
                                             s->session.correlation_id == request_id_
                                       : s->session.role == rendezvous::Role::Callee;
      if (mine) on_session_ready(now, s->session);
      continue;
    }
    if (std::holds_alternative<ev::TurnServersOffered>(*e)) {
      // An offer that came after the pairing still gives the session its route.
      if (!turn_ && session_.session_id != 0 && (phase_ == Phase::Punching || phase_ == Phase::Open)) start_turn(now);
      continue;
    }
    if (auto* r = std::get_if<ev::RelayReceived>(&*e)) {
      if (r->session_id != session_.session_id || session_.session_id == 0) continue;
      if (phase_ == Phase::Open)
        channel_->on_relay(now, r->payload);
      else if (phase_ == Phase::Punching && early_.size() < kMaxEarly)
        early_.push_back({true, 0, {}, std::move(r->payload)});
      continue;
    }
    // IncomingRequest (the policy decided), RegistrationLost (the client
    // registers again by itself), RelayRefused: nothing to do here.
  }
}

void PeerSessionMachine::on_session_ready(TimePoint now, const rendezvous::ClientSession& session) {
  session_ = session;
  start_turn(now);
  session_deadline_.reset();
  info_.session_id = session.session_id;
  info_.peer = rendezvous::to_hex(session.peer);
  info_.peer_observed = session.peer_observed.to_string();
  progress(SessionProgress::Kind::kSessionReady,
           "session " + std::to_string(session.session_id) + " with " + info_.peer.substr(0, 16) + " at " +
               info_.peer_observed,
           {}, info_.peer_observed);
  const auto local = punch::side_knowledge(config_.client.info, observed_ ? observed_->port : 0);
  const auto peer = punch::side_knowledge(session.peer_info, session.peer_observed.port);
  // The peer's candidates: hostile input, bounded and validated
  // (session/candidates.hpp); its host endpoints kept only to name paths.
  peer_host_.assign(session.peer_info.local_endpoints.begin(),
                    session.peer_info.local_endpoints.begin() +
                        static_cast<std::ptrdiff_t>(
                            std::min(session.peer_info.local_endpoints.size(), rendezvous::kMaxLocalEndpoints)));
  std::vector<IpAddress> forbidden;
  for (const auto& e : servers_) forbidden.push_back(e.address);
  pairs_ = check_list(CheckListInput{peer_host_, session.peer_observed, observed_, config_.v6_socket, forbidden,
                                     session.peer_info.reflexive_v6});
  PlanOptions options = config_.plan;
  const bool peer_relay_only = session.peer_info.relay_only;
  options.relay_only = config_.plan.relay_only || peer_relay_only;
  // Registered over different families (an IPv6-only peer of one
  // registered over IPv4): socket 0 cannot reach the peer's public
  // address, so no strategy runs; only the candidate checks (the IPv6
  // ones, from our IPv6 socket), else the relay. Otherwise a direct
  // connect or a hole punch starts now; birthday stages at the common
  // start (session/plan.hpp).
  const bool other_family = observed_ && observed_->address.family() != session.peer_observed.address.family();
  stages_ = other_family ? std::vector<Stage>{} : plan(local, peer, session.start_at, options, now);
  stop_reason_ = config_.plan.relay_only ? "forced relay"
                 : peer_relay_only       ? "the peer forced relay"
                 : other_family          ? "no address family in common with the peer"
                                         : "no direct strategy";
  phase_ = Phase::Punching;
  stage_ = 0;
  paired_at_ = now;
  checks_only_until_.reset();
  if (other_family && !options.relay_only && !pairs_.empty()) {
    stop_reason_ = "no candidate pair answered";
    start_checks(now);  // no common start needed (below)
    if (config_.open_early) {
      open(now, std::nullopt);  // on the relay now; a check that answers moves it
      return;
    }
    checks_only_until_ = now + std::min(config_.plan.hole_punch, kChecksOnlyBound);
    return;
  }
  if (stages_.empty()) {
    open(now, std::nullopt);
    return;
  }
  // Checks need no common start either: a check that reaches the peer
  // before it has sent is lost, the peer's own check gets through the hole
  // ours opened and triggers our answer and check at once.
  start_checks(now);
  if (config_.open_early) {
    // Usable at once over the relay; the stages go on behind it.
    info_.strategy = std::string(punch::to_string(stages_.front().kind));
    open_channel(now, std::nullopt);
    initial_punching_ = true;
  }
  start_stage(now);
}

punch::StrategyParams PeerSessionMachine::strategy_params() const {
  punch::StrategyParams params;
  params.peer_address = session_.peer_observed.address;
  params.session_id = session_.session_id;
  params.key = session_.session_key;
  // As the rendezvous told us: every probe and datagram is sealed in our direction.
  params.role = session_.role == rendezvous::Role::Caller ? wire::SessionRole::Caller : wire::SessionRole::Callee;
  params.send_interval = config_.send_interval;
  params.many_sockets = config_.sockets;
  // The peer's host candidates are checked by CandidateChecks, not here.
  return params;
}

void PeerSessionMachine::start_stage(TimePoint now) {
  const auto& stage = stages_[stage_];
  const std::string kind(punch::to_string(stage.kind));
  progress(SessionProgress::Kind::kStrategyStarted, "strategy: " + kind + ": " + stage.why, kind);
  if (strategy_) probes_rejected_ += strategy_->result().rejected;  // the previous stage's
  auto params = strategy_params();
  params.probe_budget = stage.probe_budget;
  params.time_budget = stage.time_budget;
  strategy_ = punch::make_strategy(stage.kind, stage.local, stage.peer, params, rng_, stage.start);
  sockets_used_ = std::max(sockets_used_, strategy_->socket_count());
  next_progress_ = std::max(now, stage.start) + config_.progress_interval;
  on_strategy_events(now);  // relay-only strategies are done at once
}

void PeerSessionMachine::on_strategy_events(TimePoint now) {
  while ((phase_ == Phase::Punching || initial_punching_) && strategy_) {
    auto e = strategy_->poll_event();
    if (!e) return;
    const auto& stage = stages_[stage_];
    const std::string kind(punch::to_string(stage.kind));
    const auto& r = strategy_->result();
    if (const auto* c = std::get_if<punch::punch_event::Connected>(&*e)) {
      progress(SessionProgress::Kind::kStrategyFinished,
               "punch: " + kind + " connected to " + c->peer.to_string() + " after " +
                   fixed(to_ms(since_start(now, stage.start)), 1) + " ms, " + std::to_string(r.probes_sent) + " probes",
               kind);
      probes_total_ += r.probes_sent;
      connected_stage_ = stage;
      path_candidate_ = classify_path(c->peer, session_.peer_observed, peer_host_);
      if (initial_punching_) {
        initial_punching_ = false;
        ever_direct_ = true;
        time_to_direct_ = now - paired_at_;
        first_punch_.strategy = kind;
        note_first_punch(c->at, true);
        channel_->on_punched(now, punch::DirectPath{c->socket, c->peer});
        service_channel(now);
        return;
      }
      open(now, *c);
      return;
    }
    const auto& stopped = std::get<punch::punch_event::Stopped>(*e);
    progress(SessionProgress::Kind::kStrategyFinished,
             "punch: " + kind + " stopped: " + punch::to_string(stopped.reason) + " after " +
                 fixed(to_ms(since_start(now, stage.start)), 1) + " ms, " + std::to_string(r.probes_sent) + " probes",
             kind);
    probes_total_ += r.probes_sent;
    stop_reason_ = punch::to_string(stopped.reason);
    info_.strategy = kind;
    if (++stage_ >= stages_.size()) {
      stage_ = stages_.size() - 1;
      if (initial_punching_) {
        initial_punching_ = false;
        first_punch_.strategy = kind;
        note_first_punch(now, false);
        plan_ended(now);
        return;
      }
      open(now, std::nullopt);
      return;
    }
    start_stage(now);
  }
}

// --- candidate checks

void PeerSessionMachine::start_checks(TimePoint start) {
  if (pairs_.empty()) return;
  if (checks_) checks_sent_ += checks_->checks_sent();
  auto c = config_.checks;
  c.session_id = session_.session_id;
  c.key = session_.session_key;
  c.role = session_.role == rendezvous::Role::Caller ? wire::SessionRole::Caller : wire::SessionRole::Callee;
  checks_ = std::make_unique<CandidateChecks>(c, pairs_, rng_, start);
}

// The strategy's probes stop: a checked pair carries the session.
void PeerSessionMachine::stop_strategy() {
  if (!strategy_) return;
  probes_total_ += strategy_->result().probes_sent;
  probes_rejected_ += strategy_->result().rejected;
  strategy_.reset();
}

void PeerSessionMachine::on_checks(TimePoint now) {
  while (checks_) {
    const auto pair = checks_->poll_valid();
    if (!pair) return;
    const punch::DirectPath path{pair->socket, pair->remote.endpoint};
    const std::string what = "connected to " + pair->remote.endpoint.to_string() + " (" +
                             std::string(to_string(pair->remote.type)) + " " +
                             std::string(family_name(pair->remote.endpoint.address)) + " candidate)";
    if (phase_ == Phase::Punching && !initial_punching_) {
      progress(SessionProgress::Kind::kStrategyFinished, "check: " + what, "check", pair->remote.endpoint.to_string());
      stop_strategy();
      path_candidate_ = pair->remote;
      open(now, punch::punch_event::Connected{pair->socket, pair->remote.endpoint, now});
      continue;
    }
    if (phase_ != Phase::Open) return;
    const bool better = !path_candidate_ || channel_->route() != punch::Route::Direct ||
                        pair->remote.priority > path_candidate_->priority;
    if (!better) continue;
    progress(SessionProgress::Kind::kStrategyFinished, "check: " + what + ": a better path, data moves there", "check",
             pair->remote.endpoint.to_string());
    if (initial_punching_) {
      initial_punching_ = false;
      stop_strategy();
    }
    if (!ever_direct_) {
      ever_direct_ = true;
      time_to_direct_ = now - paired_at_;
      first_punch_.strategy = "check";
      note_first_punch(now, true);
    }
    path_candidate_ = pair->remote;
    channel_->on_better_path(now, path);
  }
}

// --- the open session

void PeerSessionMachine::open(TimePoint now, std::optional<punch::punch_event::Connected> connected) {
  const bool direct = connected.has_value();
  if (!stages_.empty()) info_.strategy = std::string(punch::to_string(stages_[stage_].kind));
  if (direct && path_candidate_ && !strategy_) info_.strategy = "check";  // a checked pair, not the strategy
  if (info_.strategy.empty()) info_.strategy = "relay";
  info_.stop_reason = direct ? std::string() : stop_reason_;
  info_.probes_sent = probes_total_;
  // Counted from when this side began (punch_began()); a forced relay is
  // ready before the start: never negative.
  info_.time_to_connect = micros((direct ? connected->at : now) - punch_began());
  next_progress_.reset();
  ever_direct_ = direct;
  if (direct) time_to_direct_ = connected->at - paired_at_;
  first_punch_.strategy = info_.strategy;
  note_first_punch(direct ? connected->at : now, direct);
  open_channel(now, connected);
  if (!direct) plan_ended(now);
}

TimePoint PeerSessionMachine::punch_began() const {
  return stages_.empty()  ? session_.start_at
         : pairs_.empty() ? stages_.front().start
                          : std::min(stages_.front().start, paired_at_);
}

void PeerSessionMachine::note_first_punch(TimePoint at, bool connected) {
  first_punch_.stop_reason = connected ? std::string() : stop_reason_;
  first_punch_.probes = probes_total_;
  first_punch_.took = std::max(Duration::zero(), at - punch_began());
}

// The plan is over and the session is on the relay: the caller tries again
// later (an upgrade), if there was anything to try.
void PeerSessionMachine::plan_ended(TimePoint now) {
  if (!config_.caller || stages_.empty() || config_.upgrade_retry <= Duration::zero()) return;
  upgrade_backoff_ = config_.upgrade_retry;
  upgrade_at_ = now + upgrade_backoff_;
}

void PeerSessionMachine::open_channel(TimePoint now, const std::optional<punch::punch_event::Connected>& connected) {
  const bool direct = connected.has_value();
  info_.time_to_first_byte = micros(now - paired_at_);

  punch::SessionChannelConfig cc;
  cc.session_id = session_.session_id;
  cc.key = session_.session_key;
  cc.direct = direct;
  cc.caller = session_.role == rendezvous::Role::Caller;
  cc.keepalive = config_.keepalive_enabled;
  cc.keepalive_config = config_.keepalive;
  // The path lives as long as the shorter-lived of the two NAT mappings.
  std::uint32_t idle_ms = 0;
  for (std::uint32_t ms : {config_.client.info.idle_timeout_ms, session_.peer_info.idle_timeout_ms})
    if (ms > 0 && (idle_ms == 0 || ms < idle_ms)) idle_ms = ms;
  if (idle_ms > 0) cc.keepalive_config.idle_timeout = milliseconds(idle_ms);
  // Re-punches repeat the stage that connected, or, for a session that was
  // never direct, the plan's first one (upgrades).
  cc.repunch = config_.repunch && (connected_stage_.has_value() || !stages_.empty());
  cc.repunch_lead = config_.repunch_lead;
  // A refresh is one round trip to the server: well within the lead.
  cc.observe_wait = seconds(1);
  if (direct) {
    cc.peer_endpoint = connected->peer;
    cc.socket = connected->socket;
  }
  // The callee follows the caller to a path the caller proves.
  cc.follow_peer = !cc.caller;
  cc.seed = rng_.next_u64();
  cc.max_payload = kMaxSessionPayload;
  channel_ = std::make_unique<punch::SessionChannel>(cc, now);
  observations_seen_ = client_.observations();
  if (auto o = client_.observed_endpoint()) channel_->on_observed(now, *o);
  phase_ = Phase::Open;
  route_ = direct ? SessionRoute::kDirect : SessionRoute::kRelay;
  path_ = channel_->path();
  events_.push_back(session_event::Established{route_, info_.strategy});
  for (auto& e : early_) {
    if (e.relayed)
      channel_->on_relay(now, e.bytes);
    else if (direct)
      channel_->on_direct(now, e.socket, e.from, e.bytes);
  }
  early_.clear();
  service_channel(now);
}

void PeerSessionMachine::note_route(TimePoint now) {
  const auto route = channel_->route() == punch::Route::Direct ? SessionRoute::kDirect : SessionRoute::kRelay;
  const auto path = channel_->path();
  if (route == route_ && (route == SessionRoute::kRelay || path == path_)) return;
  if (route == SessionRoute::kRelay) {
    path_candidate_.reset();
    // The pairs get checked again, beside the re-punch.
    if (checks_ && !checks_->running()) start_checks(now);
  } else if (path && (!path_candidate_ || path_candidate_->endpoint != path->peer)) {
    // A re-punch or the callee following the caller: name the new path.
    auto it = std::find_if(pairs_.begin(), pairs_.end(),
                           [&](const CandidatePair& p) { return p.remote.endpoint == path->peer; });
    path_candidate_ = it != pairs_.end() ? it->remote : classify_path(path->peer, session_.peer_observed, peer_host_);
  }
  route_ = route;
  path_ = path;
  events_.push_back(session_event::RouteChanged{route, route == SessionRoute::kDirect ? path : std::nullopt});
}

void PeerSessionMachine::start_repunch(TimePoint now) {
  (void)now;
  // The stage that worked before, aimed at where the peer says it is now
  // (its NAT may have rebound), bounded like the first hole punch.
  const Stage& s = connected_stage_ ? *connected_stage_ : stages_.front();
  std::optional<Endpoint> last_seen;
  if (auto path = channel_->path()) last_seen = path->peer;
  const auto aim = punch::aim_repunch(s.local, s.peer, client_.observed_endpoint(), channel_->peer_reported_endpoint(),
                                      last_seen, session_.peer_observed.address);
  auto params = repunch_params(strategy_params(), config_.plan.hole_punch, config_.plan.probe_budget);
  params.peer_address = aim.peer_address;
  if (strategy_) probes_rejected_ += strategy_->result().rejected;
  strategy_ = punch::make_strategy(s.kind, aim.local, aim.peer, params, rng_, order_->start);
  sockets_used_ = std::max(sockets_used_, strategy_->socket_count());
  punching_epoch_ = order_->epoch;
  order_.reset();
}

void PeerSessionMachine::service_channel(TimePoint now) {
  if (phase_ != Phase::Open) return;
  pump_turn(now);
  // The server answered a registration or refresh: where it sees us now.
  if (client_.observations() != observations_seen_) {
    observations_seen_ = client_.observations();
    if (auto o = client_.observed_endpoint()) channel_->on_observed(now, *o);
  }
  if (auto due = channel_->next_deadline(); due && *due <= now) channel_->on_timer(now);
  if (checks_) {
    if (auto due = checks_->next_deadline(); due && *due <= now) checks_->on_timer(now);
    on_checks(now);
  }
  if (channel_->poll_refresh_request()) client_.refresh_now(now);
  // A relayed session's next try at the direct path (the caller proposes).
  if (upgrade_at_ && now >= *upgrade_at_ && !initial_punching_ && !punching_epoch_) {
    upgrade_at_.reset();
    if (channel_->route() == punch::Route::Relay) channel_->propose_upgrade(now);
  }
  // Re-punching: the channel orders, the strategy runs from the order's start.
  if (!punching_epoch_ && !initial_punching_) {
    if (auto o = channel_->poll_repunch()) order_ = o;
    if (order_ && now >= order_->start) start_repunch(now);
  }
  if (initial_punching_) {
    if (auto due = strategy_->next_deadline(); due && *due <= now) strategy_->on_timer(now);
    on_strategy_events(now);  // may go direct (then back here) or end the plan
    if (phase_ != Phase::Open) return;
  } else if (punching_epoch_ && strategy_) {
    if (auto due = strategy_->next_deadline(); due && *due <= now) strategy_->on_timer(now);
    while (auto e = strategy_->poll_event()) {
      std::optional<punch::DirectPath> path;
      if (const auto* c = std::get_if<punch::punch_event::Connected>(&*e)) path = punch::DirectPath{c->socket, c->peer};
      repunch_probes_ += strategy_->result().probes_sent;
      channel_->on_repunch_finished(now, *punching_epoch_, path);
      punching_epoch_.reset();
      if (path) {
        if (!time_to_direct_) time_to_direct_ = now - paired_at_;
        upgrade_backoff_ = Duration::zero();
      } else if (config_.caller && config_.upgrade_retry > Duration::zero() &&
                 channel_->route() == punch::Route::Relay && !channel_->repunching()) {
        // An upgrade failed, or the re-punches after a lost path ran out:
        // the caller tries again later, twice as late each time.
        upgrade_backoff_ = upgrade_backoff_ > Duration::zero()
                               ? std::min<Duration>(upgrade_backoff_ * 2, std::chrono::minutes(10))
                               : config_.upgrade_retry;
        upgrade_at_ = now + upgrade_backoff_;
      }
      break;
    }
  } else if (strategy_ && !strategy_->done()) {
    // The first punch's strategy still answers a peer that missed our
    // last handshake message.
    if (auto due = strategy_->next_deadline(); due && *due <= now) strategy_->on_timer(now);
    while (strategy_->poll_event()) {
    }
  }
  while (auto t = channel_->poll_transmit()) {
    if (t->path == punch::ChannelPath::Direct)
      outbox_.push_back(Transmit{t->socket, t->to, DatagramBytes(std::move(t->bytes))});
    else
      relay_out(now, t->bytes);
  }
  queue_client(now);
  while (auto p = channel_->poll_received()) events_.push_back(session_event::DataReceived{std::move(*p)});
  note_route(now);
  if (channel_->counters().peer_closed && !peer_closed_told_) {
    peer_closed_told_ = true;
    if (initial_punching_) {
      // The peer left while our first punch ran (its own ended first):
      // there is no one to move direct with; stop probing a closed session.
      initial_punching_ = false;
      stop_strategy();
      stop_reason_ = "the peer closed the session";
      first_punch_.strategy = std::string(punch::to_string(stages_[stage_].kind));
      note_first_punch(now, false);
    }
    events_.push_back(session_event::PeerClosed{});
  }
}

// --- the TURN relay route

void PeerSessionMachine::start_turn(TimePoint now) {
  std::vector<turn::ClientConfig> servers;
  if (config_.turn)
    servers.push_back(*config_.turn);
  else if (config_.use_offered_turn)
    if (const auto& offer = client_.turn_offer())
      servers = offered_turn_servers(offer->servers, config_.turn_transport);
  if (servers.empty()) return;
  // The user's server with a secret: credentials minted now, and again
  // for each new allocation (short-lived, never stale).
  if (config_.turn && config_.turn_secret)
    if (auto minted = mint_turn_credentials(now)) servers.front().credentials = std::move(*minted);
  turn_ = std::make_unique<TurnRoute>(
      std::move(servers), rng_.next_u64(), now,
      [this](TimePoint at, const turn::ClientConfig& server) { return fresh_turn_credentials(at, server); });
  // A peer without a TURN route of its own sends to our relayed address
  // from its UDP socket: let the addresses the rendezvous saw through.
  const auto family = turn_->config().server.address.is_v4();
  std::vector<IpAddress> peer_addresses{session_.peer_observed.address};
  for (const auto& host : session_.peer_info.local_endpoints) peer_addresses.push_back(host.address);
  std::size_t permitted = 0;
  for (const auto& address : peer_addresses) {
    if (address.is_unspecified() || address.is_v4() != family || permitted >= kMaxPeerPermissions) continue;
    turn_->permit_peer(now, address);
    ++permitted;
  }
  const std::string transport(turn::to_string(turn_->config().transport));
  progress(SessionProgress::Kind::kStrategyStarted,
           turn_->ranking() ? "relay: ranking the " + std::to_string(turn_->servers().size()) +
                                  " TURN servers the rendezvous offers (" + transport + ")"
                            : "relay: allocating on the TURN server " + turn_->server_text() + " (" + transport + ")",
           "turn");
}

std::optional<turn::Credentials> PeerSessionMachine::mint_turn_credentials(TimePoint now) const {
  const auto& s = *config_.turn_secret;
  const std::int64_t unix_now = s.unix_at_start + std::chrono::duration_cast<seconds>(now - s.start).count();
  auto minted = turn::mint_rest_credentials(s.secret, "natpunch", unix_now, s.ttl);
  if (!minted) return std::nullopt;
  return minted->credentials;
}

std::optional<turn::Credentials> PeerSessionMachine::fresh_turn_credentials(TimePoint now,
                                                                            const turn::ClientConfig& server) {
  if (config_.turn) return config_.turn_secret ? mint_turn_credentials(now) : std::nullopt;
  // An offered relay: the rendezvous's latest offer (it offers again as
  // the registration refreshes). Credentials near their end: ask for a
  // refresh now, so that the next allocation has fresh ones.
  const auto& offer = client_.turn_offer();
  if (!offer) return std::nullopt;
  if (offer->expires - now < kOfferFreshness) client_.refresh_now(now);
  for (auto& c : offered_turn_servers(offer->servers, server.transport))
    if (c.server == server.server) return std::move(c.credentials);
  return std::nullopt;
}

void PeerSessionMachine::on_turn_link_failed(TimePoint now, SocketId socket, std::string reason) {
  if (!turn_) return;
  turn_->on_link_failed(now, socket, std::move(reason));
  pump_turn(now);
}

void PeerSessionMachine::on_turn_connection_closed(TimePoint now, SocketId socket) {
  if (!turn_) return;
  turn_->on_connection_closed(now, socket);
  pump_turn(now);
  if (phase_ == Phase::Open) service_channel(now);
}

void PeerSessionMachine::pump_turn(TimePoint now) {
  if (phase_ == Phase::Closed || phase_ == Phase::Failed) return;
  if (turn_) {
    if (auto note = turn_->poll_note()) progress(SessionProgress::Kind::kStrategyStarted, *note, "turn");
    if (auto why = turn_->poll_failure())
      progress(SessionProgress::Kind::kWarning,
               "warning: TURN relay failed: " + *why + "; relaying through the rendezvous server " + info_.server);
    if (auto why = turn_->poll_lost())
      progress(SessionProgress::Kind::kWarning,
               turn_->usable() ? "warning: TURN allocation expiring: " + *why
                               : "warning: TURN allocation lost: " + *why + " (the rendezvous server " + info_.server +
                                     " relays meanwhile)");
    // What came through the allocation; authentic only if the channel says so.
    while (auto p = turn_->poll_received()) {
      if (phase_ == Phase::Open) {
        if (channel_->on_relay(now, p->datagram.payload)) turn_->on_heard(now, p->datagram.from, p->socket);
      } else if (phase_ == Phase::Punching && early_.size() < kMaxEarly) {
        early_.push_back({true, 0, {}, std::move(p->datagram.payload)});
      }
    }
    // Said again once a new allocation carries the route.
    if (turn_told_ && !turn_->usable() && turn_->replacing()) turn_told_ = false;
  }
  if (phase_ != Phase::Open) return;
  while (auto c = channel_->poll_peer_relay_candidate()) {
    if (turn_ && turn_->candidate() == *c) {
      // Our own relayed address echoed: the peer reaches us through it.
      turn_->set_peer_candidate(now, *c);
      continue;
    }
    peer_relayed_ = *c;
    if (turn_ && !turn_->failed())
      turn_->set_peer_candidate(now, *c);
    else if (peer_turn_)
      peer_turn_->set_relayed(now, *c);
  }
  // One-sided: no TURN route of our own (or it failed), but the peer has
  // one and our UDP works (a side registered over TCP/TLS has none).
  if (!peer_turn_ && peer_relayed_ && (!turn_ || turn_->failed()) && info_.rendezvous_transport == "udp")
    peer_turn_ = std::make_unique<PeerTurnPath>(*peer_relayed_, now);
  if (turn_) {
    while (auto a = turn_->poll_announcement(now)) {
      const auto sealed = channel_->seal_relay_candidate(a->relayed);
      if (a->over_rendezvous) client_.send_relay(now, session_.session_id, sealed);
      if (a->through_turn) turn_->send_probe(now, sealed);
    }
  }
  if (peer_turn_) {
    if (auto due = peer_turn_->next_deadline(); due && *due <= now) peer_turn_->on_timer(now);
    if (auto why = peer_turn_->poll_lost()) {
      peer_turn_told_ = false;
      progress(SessionProgress::Kind::kWarning,
               "warning: " + *why + "; relaying through the rendezvous server " + info_.server);
    }
    while (peer_turn_->poll_probe(now))
      outbox_.push_back(Transmit{0, peer_turn_->relayed(),
                                 DatagramBytes(channel_->seal_relay_candidate(peer_turn_->relayed()))});
  }
  queue_client(now);
  if (!turn_told_ && turn_ && turn_->usable()) {
    turn_told_ = true;
    progress(SessionProgress::Kind::kStrategyFinished,
             "relay: " + turn_relay_label() + " carries the relayed traffic (relayed address " +
                 turn_->candidate()->to_string() + ", the peer's " + turn_->relay()->peer()->to_string() + ")",
             "turn");
  }
  if (!peer_turn_told_ && peer_turn_ && peer_turn_->usable() && (!turn_ || !turn_->usable())) {
    peer_turn_told_ = true;
    progress(SessionProgress::Kind::kStrategyFinished,
             "relay: " + peer_turn_->label() + " carries the relayed traffic (from our UDP socket " +
                 (observed_ ? "seen as " + observed_->to_string() : std::string("0")) + ")",
             "turn");
  }
}

std::string PeerSessionMachine::turn_relay_label() const {
  if (turn_ && turn_->usable()) return turn_->label() + (turn_->one_sided() ? " (one-sided)" : "");
  if (peer_turn_ && peer_turn_->usable()) return peer_turn_->label();
  return {};
}

void PeerSessionMachine::relay_out(TimePoint now, std::span<const std::uint8_t> bytes) {
  if (turn_ && turn_->usable() && turn_->send(now, bytes)) return;
  if (peer_turn_ && peer_turn_->usable()) {
    outbox_.push_back(Transmit{0, peer_turn_->relayed(), DatagramBytes(bytes)});
    peer_turn_->on_sent();
    return;
  }
  client_.send_relay(now, session_.session_id, bytes);
}

// --- the application

bool PeerSessionMachine::send(TimePoint now, std::span<const std::uint8_t> payload) {
  if (phase_ != Phase::Open) return false;
  if (!channel_->send(now, payload)) return false;
  service_channel(now);
  return true;
}

void PeerSessionMachine::close(TimePoint now) {
  if (phase_ == Phase::Closed) return;
  if (phase_ == Phase::Open) {
    channel_->close(now);
    service_channel(now);
  }
  if (turn_) turn_->close(now);
  if (phase_ != Phase::Failed) {
    client_.close(now);
    queue_client(now);
  }
  phase_ = Phase::Closed;
  events_.push_back(session_event::Closed{});
}

void PeerSessionMachine::on_network_changed(TimePoint now, std::vector<Endpoint> host) {
  if (host.size() > rendezvous::kMaxLocalEndpoints) host.resize(rendezvous::kMaxLocalEndpoints);
  config_.client.info.local_endpoints = std::move(host);
  if (phase_ == Phase::Closed || phase_ == Phase::Failed) return;
  progress(SessionProgress::Kind::kWarning, "network changed: refreshing the registration and re-checking the paths");
  if (client_.registered()) client_.refresh_now(now);
  queue_client(now);
  if (phase_ != Phase::Open) return;
  channel_->on_network_changed(now);
  if (!initial_punching_ && !punching_epoch_) start_checks(now);
  service_channel(now);
}

void PeerSessionMachine::interrupt(TimePoint now) {
  switch (phase_) {
    case Phase::Registering:
      fail(now, ErrorKind::kInterrupted, "interrupted while registering at " + info_.server);
      break;
    case Phase::WaitingForSession:
      fail(now, ErrorKind::kInterrupted,
           config_.caller ? "interrupted while waiting for the peer" : "interrupted while waiting for a caller");
      break;
    case Phase::Punching: {
      const auto probes = probes_total_ + (strategy_ ? strategy_->result().probes_sent : 0);
      fail(now, ErrorKind::kInterrupted, "interrupted while punching (" + std::to_string(probes) + " probes sent)");
      break;
    }
    default: break;
  }
}

SessionStats PeerSessionMachine::stats() const {
  SessionStats s;
  if (!channel_) return s;
  const auto& c = channel_->counters();
  s.route = channel_->route() == punch::Route::Direct ? SessionRoute::kDirect : SessionRoute::kRelay;
  if (auto path = channel_->path(); path && s.route == SessionRoute::kDirect) {
    s.peer_endpoint = path->peer.to_string();
    s.local_socket = path->socket;
  }
  s.datagrams_sent = c.datagrams_sent;
  s.bytes_sent = c.bytes_sent;
  s.datagrams_received = c.datagrams_received;
  s.bytes_received = c.bytes_received;
  s.sent_direct = c.sent_direct;
  s.sent_relay = c.sent_relay;
  s.received_direct = c.received_direct;
  s.received_relay = c.received_relay;
  s.sent_lost = c.sent_lost;
  s.received_lost = c.received_lost;
  s.duplicates_dropped = c.duplicates_dropped;
  s.keepalives_sent = c.keepalives_sent;
  s.path_switches = c.path_switches;
  s.path_challenges = c.path_challenges;
  s.rejected = c.rejected;
  s.probes_rejected = probes_rejected_ + (strategy_ ? strategy_->result().rejected : 0);
  s.peer_endpoint_changes = c.peer_endpoint_changes;
  s.peer_endpoints_ignored = c.endpoints_ignored;
  s.keepalive_replies = c.keepalive_replies;
  s.keepalive_interval = std::chrono::duration_cast<std::chrono::milliseconds>(channel_->keepalive_interval());
  if (c.rtt) s.rtt = std::chrono::duration_cast<std::chrono::microseconds>(*c.rtt);
  s.path_deaths = c.path_deaths;
  s.repunches = c.repunches;
  s.repunches_succeeded = c.repunches_succeeded;
  s.repunch_probes = repunch_probes_ + (punching_epoch_ && strategy_ ? strategy_->result().probes_sent : 0);
  if (time_to_direct_) s.time_to_direct = micros(*time_to_direct_);
  s.peer_closed = c.peer_closed;
  if (s.route == SessionRoute::kRelay) s.relay = turn_relay_label();
  if (turn_) {
    s.sent_turn = turn_->counters().sent;
    s.received_turn = turn_->counters().received;
  }
  if (peer_turn_) {
    s.sent_turn += peer_turn_->counters().sent;
    s.received_turn += peer_turn_->counters().received;
  }
  if (s.route == SessionRoute::kDirect && path_candidate_) {
    s.candidate_type = std::string(to_string(path_candidate_->type));
    s.address_family = std::string(family_name(path_candidate_->endpoint.address));
  } else {
    // The relay: the TURN server's relayed address when TURN carries it, else the rendezvous's.
    s.candidate_type = std::string(to_string(CandidateType::kRelay));
    auto turn_candidate = turn_ && turn_->usable() ? turn_->candidate() : std::nullopt;
    if (!turn_candidate && peer_turn_ && peer_turn_->usable()) turn_candidate = peer_turn_->relayed();
    s.address_family = std::string(family_name(turn_candidate ? turn_candidate->address : client_.server().address));
  }
  s.checks_sent = checks_sent_ + (checks_ ? checks_->checks_sent() : 0);
  s.upgrading = !ever_direct_ && !peer_closed_told_ && (initial_punching_ || (checks_ && checks_->running()));
  s.strategy = first_punch_.strategy.empty() ? info_.strategy : first_punch_.strategy;
  s.stop_reason = s.upgrading || ever_direct_ ? std::string() : first_punch_.stop_reason;
  s.probes_sent = first_punch_.probes + (initial_punching_ && strategy_ ? strategy_->result().probes_sent : 0);
  if (first_punch_.took && !s.upgrading) s.time_to_connect = micros(*first_punch_.took);
  s.time_to_connect_from = punch_began() == paired_at_ ? "pairing" : "common start";
  return s;
}

}  // namespace natpunch::session

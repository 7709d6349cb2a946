#include "rendezvous/client.hpp"

#include <algorithm>
#include <type_traits>

#include "core/bytes.hpp"

namespace natpunch::rendezvous {
namespace {

void consider(std::optional<TimePoint>& earliest, TimePoint t) {
  if (!earliest || t < *earliest) earliest = t;
}

}  // namespace

AcceptPolicy accept_all() {
  return [](const PublicKey&) { return true; };
}

AcceptPolicy accept_from(std::vector<PublicKey> allowed) {
  return [allowed = std::move(allowed)](const PublicKey& caller) {
    return std::find(allowed.begin(), allowed.end(), caller) != allowed.end();
  };
}

Client::Client(ClientConfig config, RandomBytes random) : config_(std::move(config)), random_(std::move(random)) {
  // A restarted client must not reuse the request ids of its previous life:
  // the server would answer them with that life's sessions.
  std::array<std::uint8_t, 4> b{};
  random_(b);
  next_request_id_ = 1 + (load_be32(b.data()) >> 1);
  instance_ = config_.instance;
  if (instance_ == 0) {
    std::array<std::uint8_t, 8> i{};
    random_(i);
    instance_ = load_be64(i.data());
  }
}

void Client::start(TimePoint now) {
  if (!closed_) begin_registration(now);
}

void Client::switch_server(TimePoint now, const Endpoint& server) {
  config_.server = server;
  if (!closed_) begin_registration(now);
}

void Client::close(TimePoint) {
  if (closed_) return;
  if (phase_ == Phase::Registered) send_authenticated(Unregister{});
  closed_ = true;
  phase_ = Phase::Idle;
  connects_.clear();
  accepts_.clear();
  undecided_.clear();
}

Client::Retransmit Client::first_retransmit(TimePoint now) const {
  return Retransmit{now + config_.initial_retransmit, config_.initial_retransmit};
}

void Client::back_off(Retransmit& r, TimePoint now) {
  r.interval = std::min<Duration>(r.interval * 2, config_.max_retransmit);
  r.next = now + r.interval;
  ++counters_.retransmissions;
}

void Client::begin_registration(TimePoint now) {
  phase_ = Phase::AwaitChallenge;
  random_(nonce_);
  key_mismatch_reported_ = false;
  keys_.reset();
  prove_bytes_.clear();
  registration_id_ = 0;
  sent_sequence_ = 0;
  received_ = ReplayWindow{};
  refresh_unanswered_ = 0;
  registration_retransmit_ = first_retransmit(now);
  send_register();
}

void Client::send_register() {
  Register r;
  r.identity = config_.identity.public_key;
  r.client_nonce = nonce_;
  outbox_.push_back({0, config_.server, DatagramBytes(encode(r))});
}

std::uint32_t Client::connect(TimePoint now, const PublicKey& peer) {
  const std::uint32_t id = next_request_id_++;
  if (next_request_id_ == 0) next_request_id_ = 1;
  if (closed_) {
    events_.push_back(client_event::ConnectFailed{id, ErrorCode::NotRegistered});
    return id;
  }
  PendingConnect c{peer, now + config_.connect_timeout, first_retransmit(now)};
  connects_[id] = c;
  if (registered()) send_connect(id, c);  // otherwise sent once registered
  return id;
}

void Client::accept(TimePoint now, std::uint64_t invitation_id) {
  auto it = undecided_.find(invitation_id);
  if (it == undecided_.end()) return;
  undecided_.erase(it);
  decide(now, invitation_id, {}, true);
}

void Client::reject(TimePoint now, std::uint64_t invitation_id) {
  auto it = undecided_.find(invitation_id);
  if (it == undecided_.end()) return;
  undecided_.erase(it);
  decide(now, invitation_id, {}, false);
}

void Client::decide(TimePoint now, std::uint64_t invitation_id, const PublicKey& caller, bool accept) {
  accepts_[invitation_id] = PendingAccept{caller, accept, now + config_.connect_timeout, first_retransmit(now)};
  if (registered()) send_answer(invitation_id, accept);
}

bool Client::send_relay(TimePoint, std::uint64_t session_id, std::span<const std::uint8_t> payload) {
  if (!registered() || !sessions_.contains(session_id) || payload.size() > kMaxRelayPayload) return false;
  RelayData d;
  d.session_id = session_id;
  d.payload.assign(payload.begin(), payload.end());
  send_authenticated(std::move(d));
  return true;
}

void Client::send_connect(std::uint32_t request_id, const PendingConnect& c) {
  ConnectRequest m;
  m.request_id = request_id;
  m.peer = c.peer;
  send_authenticated(m);
}

void Client::send_answer(std::uint64_t invitation_id, bool accept) {
  if (accept) {
    Accept m;
    m.invitation_id = invitation_id;
    send_authenticated(m);
  } else {
    Reject m;
    m.invitation_id = invitation_id;
    send_authenticated(m);
  }
}

template <class T>
void Client::send_authenticated(T message) {
  if (!keys_) return;
  message.auth.registration_id = registration_id_;
  message.auth.sequence = ++sent_sequence_;
  auto bytes = encode(message);
  seal(bytes, keys_->client_to_server);
  outbox_.push_back({0, config_.server, DatagramBytes(std::move(bytes))});
}

std::optional<natpunch::Transmit> Client::poll_transmit(TimePoint) { return take_front(outbox_); }

std::optional<ClientEvent> Client::poll_event() {
  if (events_.empty()) return std::nullopt;
  ClientEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

std::optional<TimePoint> Client::next_deadline() const {
  std::optional<TimePoint> t;
  switch (phase_) {
    case Phase::Idle: return std::nullopt;
    case Phase::AwaitChallenge:
    case Phase::AwaitRegistered: consider(t, registration_retransmit_.next); break;
    case Phase::Registered:
      consider(t, refresh_unanswered_ > 0 ? refresh_retransmit_.next : next_refresh_);
      if (config_.keepalive_interval.count() > 0) consider(t, next_keepalive_);
      for (const auto& [id, c] : connects_) consider(t, std::min(c.deadline, c.retransmit.next));
      for (const auto& [id, a] : accepts_)
        if (a.accepted) consider(t, std::min(a.deadline, a.retransmit.next));
      for (const auto& [id, r] : resumes_) consider(t, std::min(r.deadline, r.retransmit.next));
      break;
  }
  // Connects made before registration still time out.
  for (const auto& [id, c] : connects_) consider(t, c.deadline);
  return t;
}

void Client::on_timer(TimePoint now) {
  for (auto it = connects_.begin(); it != connects_.end();) {
    if (it->second.deadline <= now) {
      events_.push_back(client_event::ConnectFailed{
          it->first, it->second.peer_missing ? ErrorCode::UnknownPeer : ErrorCode::Timeout});
      it = connects_.erase(it);
    } else {
      ++it;
    }
  }
  std::erase_if(accepts_, [&](const auto& entry) { return entry.second.deadline <= now; });
  std::erase_if(resumes_, [&](const auto& entry) { return entry.second.deadline <= now; });

  switch (phase_) {
    case Phase::Idle: return;
    case Phase::AwaitChallenge:
      if (registration_retransmit_.next <= now) {
        back_off(registration_retransmit_, now);
        send_register();
      }
      return;
    case Phase::AwaitRegistered:
      if (registration_retransmit_.next <= now) {
        // Cookies expire: after a few tries ask for a fresh challenge.
        if (registration_retransmit_.interval >= config_.max_retransmit) {
          begin_registration(now);
          return;
        }
        back_off(registration_retransmit_, now);
        outbox_.push_back({0, config_.server, DatagramBytes(std::span<const std::uint8_t>(prove_bytes_))});
      }
      return;
    case Phase::Registered: break;
  }

  if (refresh_unanswered_ == 0 && next_refresh_ <= now) {
    refresh_unanswered_ = 1;
    refresh_retransmit_ = first_retransmit(now);
    send_authenticated(Refresh{});
  } else if (refresh_unanswered_ > 0 && refresh_retransmit_.next <= now) {
    if (refresh_unanswered_ >= config_.refresh_attempts) {
      events_.push_back(client_event::RegistrationLost{std::nullopt});
      begin_registration(now);
      return;
    }
    ++refresh_unanswered_;
    back_off(refresh_retransmit_, now);
    send_authenticated(Refresh{});
  }
  if (config_.keepalive_interval.count() > 0 && next_keepalive_ <= now) {
    next_keepalive_ = now + config_.keepalive_interval;
    send_authenticated(Keepalive{});
  }
  for (auto& [id, c] : connects_) {
    if (c.retransmit.next <= now) {
      if (c.peer_missing)
        c.retransmit.next = now + config_.unknown_peer_retry;  // a steady poll, not a backoff
      else
        back_off(c.retransmit, now);
      send_connect(id, c);
    }
  }
  for (auto& [id, a] : accepts_) {
    if (a.accepted && a.retransmit.next <= now) {
      back_off(a.retransmit, now);
      send_answer(id, true);
    }
  }
  for (auto& [id, r] : resumes_) {
    if (r.retransmit.next <= now) {
      back_off(r.retransmit, now);
      send_resume(id);
    }
  }
}

void Client::refresh_now(TimePoint now) {
  if (phase_ != Phase::Registered || refresh_unanswered_ > 0) return;
  next_refresh_ = now;
  on_timer(now);
}

bool Client::on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes) {
  if (socket != 0 || from != config_.server || !looks_like_rendezvous(bytes)) return false;
  auto decoded = decode(bytes);
  if (!decoded) {
    ++counters_.dropped_malformed;
    return true;
  }
  const Message& m = decoded.value();
  if (const auto* c = std::get_if<Challenge>(&m)) {
    on_challenge(now, *c);
  } else if (const auto* r = std::get_if<Refused>(&m)) {
    on_refused(now, *r);
  } else if (const auto* p = std::get_if<PathChallenge>(&m)) {
    on_path_challenge(now, *p);
  } else if (is_authenticated(type_of(m))) {
    on_authenticated(now, m, bytes);
  }
  return true;
}

void Client::on_challenge(TimePoint now, const Challenge& c) {
  if (phase_ != Phase::AwaitChallenge || c.client_nonce != nonce_) return;
  if (config_.pinned_server_key && c.server_key != *config_.pinned_server_key) {
    // Silence would look like a dead server; this is either a wrong pin or
    // an attack. Retransmitted Challenges of one attempt count once.
    ++counters_.server_key_mismatches;
    if (!key_mismatch_reported_) events_.push_back(client_event::ServerKeyMismatch{c.server_key});
    key_mismatch_reported_ = true;
    return;
  }
  // A fresh share per Prove: this registration's keys do not follow from
  // the identity's key (a stolen one does not open recorded traffic).
  const KeyShare share = KeyShare::generate(random_);
  keys_ = derive_client_keys(config_.identity, share, c);
  if (!keys_) return;
  Prove p;
  p.key_share = share.public_key;
  p.identity = config_.identity.public_key;
  p.client_nonce = nonce_;
  p.issued_at_ms = c.issued_at_ms;
  p.cookie = c.cookie;
  p.puzzle_bits = c.puzzle_bits;
  if (c.puzzle_bits > 0) {
    const auto solved = solve_puzzle(c.cookie, p.identity, c.puzzle_bits);
    p.puzzle_solution = solved.solution;
    counters_.puzzle_hashes += solved.hashes;
  }
  p.flags = static_cast<std::uint8_t>((config_.listening ? kProveListening : 0) |
                                      (config_.single_session ? kProveSingleSession : 0));
  p.instance = instance_;
  p.info = config_.info;
  prove_bytes_ = encode(p);
  sign_prove(prove_bytes_, config_.identity, c.server_key);
  phase_ = Phase::AwaitRegistered;
  registration_retransmit_ = first_retransmit(now);
  outbox_.push_back({0, config_.server, DatagramBytes(std::span<const std::uint8_t>(prove_bytes_))});
}

void Client::on_refused(TimePoint now, const Refused& r) {
  if (phase_ == Phase::AwaitRegistered) {
    // Answers our Prove only if it echoes our nonce.
    if (!std::equal(nonce_.begin(), nonce_.end(), r.echo.begin())) return;
    if (r.code == ErrorCode::ServerFull || r.code == ErrorCode::TooManyRegistrations ||
        r.code == ErrorCode::SourceFull) {
      events_.push_back(client_event::RegistrationRefused{r.code});
      phase_ = Phase::AwaitChallenge;  // retry later with the usual backoff
      registration_retransmit_.interval = config_.max_retransmit;
      registration_retransmit_.next = now + config_.max_retransmit;
    } else {
      begin_registration(now);
    }
    return;
  }
  if (phase_ != Phase::Registered || r.code != ErrorCode::NotRegistered) return;
  // Must name our registration and a sequence we sent: an off-path attacker
  // cannot make us drop a live registration.
  const std::uint64_t id = load_be64(r.echo.data());
  const std::uint64_t sequence = load_be64(r.echo.data() + 8);
  if (id != registration_id_ || sequence == 0 || sequence > sent_sequence_) return;
  events_.push_back(client_event::RegistrationLost{ErrorCode::NotRegistered});
  begin_registration(now);
}

void Client::on_path_challenge(TimePoint now, const PathChallenge& c) {
  // Unauthenticated (it must be smaller than what provoked it): anyone may
  // send one, so it is answered at most once per token, and at most every
  // 100 ms; the answer goes to the server only and proves nothing to a
  // forger.
  if (phase_ != Phase::Registered || closed_) return;
  if (c.token == answered_token_ || (answered_token_ != 0 && now - answered_at_ < milliseconds(100))) return;
  answered_token_ = c.token;
  answered_at_ = now;
  ++counters_.path_responses;
  PathResponse r;
  r.token = c.token;
  send_authenticated(r);
}

void Client::on_authenticated(TimePoint now, const Message& m, std::span<const std::uint8_t> bytes) {
  if (!keys_ || (phase_ != Phase::Registered && phase_ != Phase::AwaitRegistered)) return;
  const AuthHeader& auth = std::visit(
      [](const auto& msg) -> const AuthHeader& {
        if constexpr (requires { msg.auth; }) {
          return msg.auth;
        } else {
          static const AuthHeader kNone{};
          return kNone;
        }
      },
      m);
  const bool id_ok = phase_ == Phase::AwaitRegistered || auth.registration_id == registration_id_;
  if (!id_ok || !verify_tag(bytes, keys_->server_to_client) || !received_.accept(auth.sequence)) {
    ++counters_.dropped_unauthenticated;
    return;
  }
  if (phase_ == Phase::AwaitRegistered) {
    const auto* r = std::get_if<Registered>(&m);
    if (r == nullptr) return;
    registration_id_ = auth.registration_id;
    on_registered(now, *r);
    return;
  }
  if (const auto* r = std::get_if<Registered>(&m)) {
    on_registered(now, *r);
  } else if (const auto* i = std::get_if<IncomingRequest>(&m)) {
    on_incoming(now, *i);
  } else if (const auto* s = std::get_if<SessionInfo>(&m)) {
    on_session_info(now, *s);
  } else if (const auto* d = std::get_if<RelayData>(&m)) {
    if (sessions_.contains(d->session_id)) events_.push_back(client_event::RelayReceived{d->session_id, d->payload});
  } else if (const auto* e = std::get_if<Error>(&m)) {
    on_error(now, *e);
  } else if (const auto* t = std::get_if<TurnServers>(&m)) {
    on_turn_servers(now, *t);
  } else if (const auto* resumed = std::get_if<RelayResumed>(&m)) {
    if (resumes_.erase(resumed->session_id) > 0) events_.push_back(client_event::RelayResumed{resumed->session_id});
  }
}

void Client::on_turn_servers(TimePoint now, TurnServers m) {
  crypt_turn_passwords(m, keys_->seal, m.auth.sequence);
  turn_offer_ = client_event::TurnServersOffered{std::move(m.servers), now + seconds(m.valid_for_s)};
  events_.push_back(*turn_offer_);
}

void Client::on_registered(TimePoint now, const Registered& m) {
  const bool first = phase_ != Phase::Registered;
  phase_ = Phase::Registered;
  observed_ = m.observed;
  ++observations_;
  refresh_interval_ = milliseconds(std::max<std::uint32_t>(m.refresh_interval_ms, 1000));
  next_refresh_ = now + refresh_interval_;
  next_keepalive_ = now + config_.keepalive_interval;
  refresh_unanswered_ = 0;
  if (!first) return;
  ++counters_.registrations;
  events_.push_back(client_event::Registered{m.observed});
  // Registered again (the server restarted, or we moved to another node):
  // the relay of our sessions runs through here from now on.
  if (ever_registered_) resume_sessions(now);
  ever_registered_ = true;
  // What waited for the registration (or was in flight when the server
  // forgot us) goes out now.
  for (auto& [id, c] : connects_) {
    c.retransmit = first_retransmit(now);
    send_connect(id, c);
  }
  for (auto& [id, a] : accepts_) {
    a.retransmit = first_retransmit(now);
    send_answer(id, a.accepted);
  }
}

void Client::resume_sessions(TimePoint now) {
  std::vector<const ClientSession*> newest;
  for (const auto& [id, s] : sessions_) newest.push_back(&s);
  std::sort(newest.begin(), newest.end(),
            [](const ClientSession* a, const ClientSession* b) { return a->start_at > b->start_at; });
  if (newest.size() > kMaxResumes) newest.resize(kMaxResumes);
  for (const ClientSession* s : newest) {
    resumes_[s->session_id] = PendingResume{now + kResumeFor, first_retransmit(now)};
    send_resume(s->session_id);
  }
}

void Client::send_resume(std::uint64_t session_id) {
  const ClientSession& s = sessions_.at(session_id);
  RelayResume m;
  m.session_id = session_id;
  m.peer = s.peer;
  m.token = relay_resume_token(s.session_key, session_id);
  send_authenticated(m);
}

void Client::on_incoming(TimePoint now, const IncomingRequest& m) {
  if (auto it = accepts_.find(m.invitation_id); it != accepts_.end()) {
    send_answer(m.invitation_id, it->second.accepted);  // our answer was lost
    return;
  }
  if (undecided_.contains(m.invitation_id)) return;
  // A single-session registration takes one request (the server offers it
  // no more; this only guards against a confused server).
  if (config_.single_session &&
      (std::any_of(accepts_.begin(), accepts_.end(), [](const auto& a) { return a.second.accepted; }) ||
       std::any_of(sessions_.begin(), sessions_.end(), [](const auto& s) { return s.second.role == Role::Callee; }))) {
    decide(now, m.invitation_id, m.caller, false);
    return;
  }
  client_event::IncomingRequest event{m.invitation_id, m.caller, std::nullopt};
  if (config_.accept_policy) {
    event.accepted = config_.accept_policy(m.caller);
    decide(now, m.invitation_id, m.caller, *event.accepted);
  } else {
    undecided_.insert(m.invitation_id);
  }
  events_.push_back(event);
}

void Client::on_session_info(TimePoint now, const SessionInfo& m) {
  if (sessions_.contains(m.session_id)) return;  // a retransmitted copy
  if (m.role == Role::Caller) {
    auto it = connects_.find(static_cast<std::uint32_t>(m.correlation_id));
    if (m.correlation_id > 0xffffffffu || it == connects_.end() || it->second.peer != m.peer) return;
    connects_.erase(it);
  } else {
    auto it = accepts_.find(m.correlation_id);
    if (it == accepts_.end() || !it->second.accepted) return;
    accepts_.erase(it);
  }
  ClientSession s;
  s.session_id = m.session_id;
  s.session_key = crypt_session_key(m.sealed_session_key, keys_->seal, m.auth.sequence);
  s.start_at = now + milliseconds(m.start_delay_ms);
  s.role = m.role;
  s.correlation_id = m.correlation_id;
  s.peer = m.peer;
  s.peer_observed = m.peer_observed;
  s.peer_info = m.peer_info;
  sessions_[s.session_id] = s;
  events_.push_back(client_event::SessionReady{std::move(s)});
}

void Client::on_error(TimePoint now, const Error& m) {
  switch (m.code) {
    case ErrorCode::NoSuchSession:
    case ErrorCode::TooLarge:
    case ErrorCode::RelayQuotaExceeded:
      events_.push_back(client_event::RelayRefused{m.correlation_id, m.code});
      return;
    case ErrorCode::UnknownRequest:
      accepts_.erase(m.correlation_id);
      return;
    default: break;
  }
  // Errors about a connect carry its request id; the callee side's
  // (UnknownPeer / ServerFull after an accept) carry the invitation id.
  if (m.correlation_id <= 0xffffffffu) {
    if (auto it = connects_.find(static_cast<std::uint32_t>(m.correlation_id)); it != connects_.end()) {
      // (Until the deadline: on_timer then fails it with UnknownPeer.)
      if (m.code == ErrorCode::UnknownPeer && config_.unknown_peer_retry > Duration::zero() &&
          now < it->second.deadline) {
        // The peer may register any moment (or free a busy registration).
        if (!it->second.peer_missing || it->second.retransmit.next > now + config_.unknown_peer_retry)
          it->second.retransmit.next = now + config_.unknown_peer_retry;
        it->second.peer_missing = true;
        events_.push_back(client_event::PeerNotRegistered{it->first, it->second.peer});
        return;
      }
      connects_.erase(it);
      events_.push_back(client_event::ConnectFailed{static_cast<std::uint32_t>(m.correlation_id), m.code});
      return;
    }
  }
  accepts_.erase(m.correlation_id);
}

}  // namespace natpunch::rendezvous

#include "rendezvous/server.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <type_traits>

namespace natpunch::rendezvous {
namespace {

constexpr Duration kSweepInterval = seconds(1);
constexpr std::size_t kChallengeSize = kHeaderSize + kNonceSize + 8 + kCookieSize + 32;

std::uint64_t to_ms(TimePoint t) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count());
}

std::uint32_t clamp_ms(Duration d) {
  const auto ms = std::chrono::duration_cast<milliseconds>(d).count();
  return static_cast<std::uint32_t>(std::clamp<long long>(ms, 0, 0xffffffffLL));
}

std::array<std::uint8_t, 16> echo_of(const AuthHeader& h) {
  std::array<std::uint8_t, 16> e{};
  for (int i = 0; i < 8; ++i) {
    e[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(h.registration_id >> (56 - 8 * i));
    e[static_cast<std::size_t>(8 + i)] = static_cast<std::uint8_t>(h.sequence >> (56 - 8 * i));
  }
  return e;
}

bool is_client_to_server(MessageType t) {
  switch (t) {
    case MessageType::Register:
    case MessageType::Prove:
    case MessageType::Refresh:
    case MessageType::Keepalive:
    case MessageType::ConnectRequest:
    case MessageType::Accept:
    case MessageType::Reject:
    case MessageType::RelayData:
    case MessageType::Unregister: return true;
    default: return false;
  }
}

}  // namespace

std::string_view to_string(ServerEvent::Kind kind) {
  switch (kind) {
    case ServerEvent::Kind::Registered: return "registered";
    case ServerEvent::Kind::Expired: return "expired";
    case ServerEvent::Kind::SessionCreated: return "session-created";
    case ServerEvent::Kind::Rejected: return "rejected";
    case ServerEvent::Kind::RelayQuotaExceeded: return "relay-quota-exceeded";
  }
  return "unknown";
}

std::size_t Server::KeyHash::operator()(const PublicKey& k) const noexcept {
  // Keys are uniformly random public keys chosen by their owners; an
  // attacker can grind them, but every one costs a signed registration.
  std::uint64_t h = 0;
  std::memcpy(&h, k.data(), sizeof h);
  return static_cast<std::size_t>(h);
}

Server::Server(ServerConfig config, RandomBytes random, TimePoint now)
    : config_(std::move(config)), random_(std::move(random)) {
  const Identity identity = config_.identity ? *config_.identity : Identity::generate(random_);
  kx_ = KxKeyPair::from_identity(identity);
  random_(cookie_secret_);
  if (config_.rate_limit) limiter_.emplace(*config_.rate_limit, config_.hash_seed);
  next_sweep_ = now + kSweepInterval;
}

std::uint64_t Server::random_u64() {
  std::array<std::uint8_t, 8> b{};
  std::uint64_t v = 0;
  do {
    random_(b);
    std::memcpy(&v, b.data(), sizeof v);
  } while (v == 0);  // 0 means "none" on the wire
  return v;
}

std::optional<Endpoint> Server::observed_endpoint(const PublicKey& identity) const {
  auto it = identities_.find(identity);
  if (it == identities_.end()) return std::nullopt;
  const Registration* newest = nullptr;
  for (auto instance : it->second.instances) {
    auto r = registrations_.find(Slot{identity, instance});
    if (r != registrations_.end() && (newest == nullptr || r->second.order > newest->order)) newest = &r->second;
  }
  if (newest == nullptr) return std::nullopt;
  return newest->observed;
}

std::size_t Server::registration_count(const PublicKey& identity) const {
  auto it = identities_.find(identity);
  return it == identities_.end() ? 0 : it->second.instances.size();
}

Server::Registration* Server::find(const Slot& slot) {
  auto it = registrations_.find(slot);
  return it == registrations_.end() ? nullptr : &it->second;
}

Server::Registration* Server::find_by_id(std::uint64_t id) {
  auto it = registration_ids_.find(id);
  return it == registration_ids_.end() ? nullptr : find(it->second);
}

Server::IdentityState* Server::identity_state(const PublicKey& identity) {
  auto it = identities_.find(identity);
  return it == identities_.end() ? nullptr : &it->second;
}

Server::Registration* Server::route_request(const PublicKey& identity) {
  IdentityState* ids = identity_state(identity);
  if (ids == nullptr) return nullptr;
  Registration* best = nullptr;
  for (auto instance : ids->instances) {
    Registration* r = find(Slot{identity, instance});
    if (r == nullptr || !r->listening || r->closed || (r->single_session && r->taken)) continue;
    if (best == nullptr || r->order > best->order) best = r;
  }
  return best;
}

bool Server::evict_stale(TimePoint now, IdentityState& ids, const PublicKey& identity) {
  const Duration silent_limit = 2 * config_.refresh_interval;
  for (auto instance : ids.instances) {
    Registration* r = find(Slot{identity, instance});
    if (r == nullptr) continue;
    // An unregistered one stays until its cookie expired, so its Prove
    // cannot be replayed into a new registration.
    const TimePoint cookie_expires = TimePoint(milliseconds(r->issued_at_ms)) + config_.challenge_lifetime;
    if ((r->closed && cookie_expires <= now) || now - r->last_heard > silent_limit) {
      emit(ServerEvent::Kind::Expired, r->identity, {}, r->observed);
      erase_registration(Slot{identity, instance});  // may erase `ids` too: not used after this
      return true;
    }
  }
  return false;
}

void Server::emit(ServerEvent::Kind kind, const PublicKey& identity, const PublicKey& peer, Endpoint endpoint,
                  std::uint64_t session_id) {
  if (config_.on_event) config_.on_event(ServerEvent{kind, identity, peer, endpoint, session_id});
}

std::vector<Transmit> Server::handle(TimePoint now, std::span<const std::uint8_t> datagram, const Endpoint& from) {
  std::vector<Transmit> out;
  ++counters_.received;
  if (now >= next_sweep_) sweep(now);
  auto decoded = decode(datagram);
  if (!decoded) {
    ++counters_.dropped_malformed;
    return out;
  }
  const Message& message = decoded.value();
  const MessageType type = type_of(message);
  if (!is_client_to_server(type)) {
    ++counters_.dropped_wrong_direction;
    return out;
  }
  // Relay data has per-session limits instead: a busy relay must not lock
  // its own users out of signalling.
  if (type != MessageType::RelayData && limiter_ && !limiter_->allow(now, from.address)) {
    ++counters_.dropped_rate_limited;
    return out;
  }
  if (const auto* m = std::get_if<Register>(&message)) {
    on_register(now, *m, datagram.size(), from, out);
  } else if (const auto* p = std::get_if<Prove>(&message)) {
    on_prove(now, *p, datagram, from, out);
  } else {
    on_authenticated(now, message, datagram, from, out);
  }
  return out;
}

void Server::on_register(TimePoint now, const Register& m, std::size_t size, const Endpoint& from,
                         std::vector<Transmit>& out) {
  if (size < kChallengeSize) {
    ++counters_.dropped_small_register;
    return;
  }
  Challenge c;
  c.client_nonce = m.client_nonce;
  c.issued_at_ms = to_ms(now);
  c.cookie = make_cookie(cookie_secret_, m.identity, m.client_nonce, c.issued_at_ms, from);
  c.server_key = kx_.public_key;
  ++counters_.challenges_sent;
  out.push_back({from, encode(c)});
}

void Server::on_prove(TimePoint now, const Prove& m, std::span<const std::uint8_t> bytes, const Endpoint& from,
                      std::vector<Transmit>& out) {
  const std::uint64_t now_ms = to_ms(now);
  const auto lifetime_ms = static_cast<std::uint64_t>(std::chrono::duration_cast<milliseconds>(config_.challenge_lifetime).count());
  const Cookie expected = make_cookie(cookie_secret_, m.identity, m.client_nonce, m.issued_at_ms, from);
  const Slot slot{m.identity, m.instance};
  Registration* existing = find(slot);
  const bool fresh = m.issued_at_ms <= now_ms && now_ms - m.issued_at_ms <= lifetime_ms;
  // A cookie is single-use per registration: it must be newer than the one
  // that made the current registration of this instance, so replaying a
  // captured Prove (even from the same address within the lifetime) cannot
  // reset the keys. (A replay cannot name another instance: it is signed.)
  const bool unused = existing == nullptr || m.issued_at_ms > existing->issued_at_ms;
  if (expected != m.cookie || !fresh || !unused) {
    send_refused(from, ErrorCode::ChallengeExpired, m.client_nonce, out);
    return;
  }
  if (!verify_prove(bytes, m.identity, kx_.public_key)) {
    ++counters_.dropped_bad_signature;
    return;
  }
  if (existing == nullptr) {
    if (IdentityState* ids = identity_state(m.identity);
        ids && ids->instances.size() >= config_.limits.max_registrations_per_identity &&
        !evict_stale(now, *ids, m.identity)) {
      send_refused(from, ErrorCode::TooManyRegistrations, m.client_nonce, out);
      return;
    }
    if (registrations_.size() >= config_.limits.max_registrations) {
      sweep(now);
      if (registrations_.size() >= config_.limits.max_registrations) {
        send_refused(from, ErrorCode::ServerFull, m.client_nonce, out);
        return;
      }
    }
  }
  auto keys = derive_server_keys(kx_, m);
  if (!keys) {
    ++counters_.dropped_bad_signature;
    return;
  }
  const bool taken = existing && existing->taken;
  const std::uint64_t order = existing ? existing->order : ++next_order_;
  if (existing) registration_ids_.erase(existing->id);
  auto [ids_it, new_identity] = identities_.try_emplace(m.identity);
  IdentityState& ids = ids_it->second;
  if (new_identity) {
    const double burst = config_.relay.burst_seconds;
    ids.relay_bytes = TokenBucket(config_.relay.identity_bytes_per_second,
                                  std::max(config_.relay.identity_bytes_per_second * burst, double(kMaxRelayPayload)),
                                  now);
    ids.relay_packets = TokenBucket(config_.relay.identity_packets_per_second,
                                    std::max(config_.relay.identity_packets_per_second * burst, 1.0), now);
  }
  if (!existing) ids.instances.push_back(m.instance);
  Registration& r = registrations_[slot];
  r = Registration{};
  r.identity = m.identity;
  r.instance = m.instance;
  r.id = random_u64();
  r.order = order;
  r.keys = *keys;
  r.observed = from;
  r.info = m.info;
  r.expires = now + config_.registration_lifetime;
  r.last_heard = now;
  r.issued_at_ms = m.issued_at_ms;
  r.listening = (m.flags & kProveListening) != 0;
  r.single_session = (m.flags & kProveSingleSession) != 0;
  r.taken = taken;
  registration_ids_[r.id] = slot;
  ++counters_.registrations;
  emit(ServerEvent::Kind::Registered, r.identity, {}, from);

  Registered reply;
  reply.observed = from;
  reply.refresh_interval_ms = clamp_ms(config_.refresh_interval);
  reply.lifetime_ms = clamp_ms(config_.registration_lifetime);
  out.push_back(authenticated(r, reply));
}

void Server::on_authenticated(TimePoint now, const Message& message, std::span<const std::uint8_t> bytes,
                              const Endpoint& from, std::vector<Transmit>& out) {
  const AuthHeader& auth = std::visit(
      [](const auto& m) -> const AuthHeader& {
        if constexpr (requires { m.auth; }) {
          return m.auth;
        } else {
          static const AuthHeader kNone{};
          return kNone;  // unreachable: only authenticated types get here
        }
      },
      message);
  Registration* r = find_by_id(auth.registration_id);
  if (r == nullptr) {
    // Relay data skipped the source limiter in handle(); a refusal is still
    // a reply to an unauthenticated datagram, so it is limited like one.
    if (std::holds_alternative<RelayData>(message) && limiter_ && !limiter_->allow(now, from.address)) {
      ++counters_.dropped_rate_limited;
      return;
    }
    // Typically a server restart: tell the client to register again.
    send_refused(from, ErrorCode::NotRegistered, echo_of(auth), out);
    return;
  }
  if (!verify_tag(bytes, r->keys.client_to_server)) {
    ++counters_.dropped_bad_mac;
    return;
  }
  if (!r->received.accept(auth.sequence)) {
    ++counters_.dropped_replayed;
    return;
  }
  if (std::holds_alternative<Unregister>(message)) {
    // Gone at once for requests; the entry itself stays until its cookie
    // expired, so a captured Prove cannot bring it back.
    const TimePoint cookie_expires = TimePoint(milliseconds(r->issued_at_ms)) + config_.challenge_lifetime;
    // A caller still waiting for this registration's answer hears at once
    // that the peer is gone (and may ask again: another registration).
    std::vector<std::uint64_t> orphaned;
    for (const auto& [id, p] : pending_)
      if (p.callee == r->slot() && p.state == RequestState::Waiting) orphaned.push_back(id);
    for (auto id : orphaned) {
      const PendingRequest p = pending_.at(id);
      erase_pending(id);
      if (Registration* caller = find(p.caller)) send_error(*caller, ErrorCode::UnknownPeer, p.request_id, out);
    }
    if (cookie_expires <= now) {
      erase_registration(r->slot());
    } else {
      r->closed = true;
      r->listening = false;
      r->expires = cookie_expires;
    }
    return;
  }
  // Authenticated and fresh: this is where the client is now (NAT rebinding
  // or a move to another network).
  r->observed = from;
  r->last_heard = now;
  if (!r->closed) r->expires = now + config_.registration_lifetime;

  if (std::holds_alternative<Refresh>(message)) {
    Registered reply;
    reply.observed = from;
    reply.refresh_interval_ms = clamp_ms(config_.refresh_interval);
    reply.lifetime_ms = clamp_ms(config_.registration_lifetime);
    out.push_back(authenticated(*r, reply));
  } else if (const auto* c = std::get_if<ConnectRequest>(&message)) {
    on_connect(now, *r, *c, out);
  } else if (const auto* a = std::get_if<Accept>(&message)) {
    on_answer(now, *r, a->invitation_id, true, out);
  } else if (const auto* j = std::get_if<Reject>(&message)) {
    on_answer(now, *r, j->invitation_id, false, out);
  } else if (const auto* d = std::get_if<RelayData>(&message)) {
    on_relay(now, *r, *d, out);
  }
  // Keepalive: nothing more to do.
}

void Server::on_connect(TimePoint now, Registration& caller, const ConnectRequest& m, std::vector<Transmit>& out) {
  ++counters_.connect_requests;
  // Request ids are the caller registration's own (each client numbers its
  // requests): keyed by registration, not by identity.
  const auto key = std::make_pair(caller.slot(), m.request_id);
  if (auto it = pending_by_caller_.find(key); it != pending_by_caller_.end()) {
    // A retransmission: answer from the request's state.
    PendingRequest& p = pending_.at(it->second);
    if (p.state == RequestState::Rejected) {
      send_error(caller, ErrorCode::Rejected, m.request_id, out);
    } else if (p.state == RequestState::Accepted) {
      if (auto s = sessions_.find(p.session_id); s != sessions_.end()) send_session_info(now, s->second, Role::Caller, out);
    } else if (Registration* callee = find(p.callee)) {
      IncomingRequest notify;
      notify.invitation_id = p.invitation_id;
      notify.caller = caller.identity;
      out.push_back(authenticated(*callee, notify));
    }
    return;
  }
  // Not registered, or none of its registrations listens right now (a busy
  // listener is about to add one): the caller may ask again.
  Registration* callee = m.peer == caller.identity ? nullptr : route_request(m.peer);
  if (callee == nullptr) {
    send_error(caller, ErrorCode::UnknownPeer, m.request_id, out);
    return;
  }
  IdentityState* caller_ids = identity_state(caller.identity);
  if (caller_ids == nullptr || pending_.size() >= config_.limits.max_pending_requests ||
      caller_ids->pending_requests >= config_.limits.max_pending_per_identity) {
    send_error(caller, ErrorCode::TooManyPending, m.request_id, out);
    return;
  }
  PendingRequest p;
  p.caller = caller.slot();
  p.request_id = m.request_id;
  p.callee = callee->slot();
  p.invitation_id = random_u64();
  p.expires = now + config_.request_timeout;
  pending_by_caller_[key] = p.invitation_id;
  pending_[p.invitation_id] = p;
  ++caller_ids->pending_requests;
  callee->taken = true;

  IncomingRequest notify;
  notify.invitation_id = p.invitation_id;
  notify.caller = caller.identity;
  out.push_back(authenticated(*callee, notify));
}

void Server::release(const Slot& callee) {
  if (Registration* r = find(callee)) r->taken = false;
}

void Server::on_answer(TimePoint now, Registration& callee, std::uint64_t invitation_id, bool accept,
                       std::vector<Transmit>& out) {
  auto it = pending_.find(invitation_id);
  // Only the invited registration may answer; anyone else learns nothing
  // about the request.
  if (it == pending_.end() || it->second.callee != callee.slot()) {
    send_error(callee, ErrorCode::UnknownRequest, invitation_id, out);
    return;
  }
  PendingRequest& p = it->second;
  Registration* caller = find(p.caller);
  if (p.state == RequestState::Accepted) {  // our SessionInfo was lost
    if (auto s = sessions_.find(p.session_id); s != sessions_.end()) send_session_info(now, s->second, Role::Callee, out);
    return;
  }
  if (p.state == RequestState::Rejected) return;
  // Answered: no longer counts against the caller's pending cap, and lingers
  // only to answer retransmissions.
  if (IdentityState* c = identity_state(p.caller.identity); c && c->pending_requests > 0) --c->pending_requests;
  p.expires = std::min(p.expires, now + config_.answered_request_linger);
  if (!accept) {
    p.state = RequestState::Rejected;
    release(p.callee);
    emit(ServerEvent::Kind::Rejected, p.caller.identity, p.callee.identity);
    if (caller) send_error(*caller, ErrorCode::Rejected, p.request_id, out);
    return;
  }
  if (caller == nullptr) {
    p.state = RequestState::Rejected;
    release(p.callee);
    send_error(callee, ErrorCode::UnknownPeer, invitation_id, out);
    return;
  }
  if (sessions_.size() >= config_.limits.max_sessions) {
    send_error(callee, ErrorCode::ServerFull, invitation_id, out);
    send_error(*caller, ErrorCode::ServerFull, p.request_id, out);
    p.state = RequestState::Rejected;
    release(p.callee);
    return;
  }
  Session s;
  do {
    s.id = random_u64();
  } while (sessions_.contains(s.id));
  random_(s.key);
  s.caller = p.caller;
  s.callee = p.callee;
  s.request_id = p.request_id;
  s.invitation_id = p.invitation_id;
  s.start_at = now + config_.start_delay;
  s.last_activity = now;
  const double burst = config_.relay.burst_seconds;
  s.bytes = TokenBucket(config_.relay.session_bytes_per_second,
                        std::max(config_.relay.session_bytes_per_second * burst, double(kMaxRelayPayload)), now);
  s.packets = TokenBucket(config_.relay.session_packets_per_second,
                          std::max(config_.relay.session_packets_per_second * burst, 1.0), now);
  p.state = RequestState::Accepted;
  p.session_id = s.id;
  const Session& stored = sessions_[s.id] = s;
  ++counters_.sessions_created;
  emit(ServerEvent::Kind::SessionCreated, s.caller.identity, s.callee.identity, {}, s.id);
  send_session_info(now, stored, Role::Caller, out);
  send_session_info(now, stored, Role::Callee, out);
}

void Server::on_relay(TimePoint now, Registration& sender, const RelayData& m, std::vector<Transmit>& out) {
  auto it = sessions_.find(m.session_id);
  // Only the two registrations the session was made for (an identity's other
  // registrations are other sockets, other sessions).
  if (it == sessions_.end() || (it->second.caller != sender.slot() && it->second.callee != sender.slot())) {
    send_error(sender, ErrorCode::NoSuchSession, m.session_id, out);
    return;
  }
  Session& s = it->second;
  if (m.payload.size() > config_.relay.max_payload) {
    send_error(sender, ErrorCode::TooLarge, m.session_id, out);
    return;
  }
  Registration* receiver = find(s.caller == sender.slot() ? s.callee : s.caller);
  IdentityState* ids = identity_state(sender.identity);
  if (receiver == nullptr || ids == nullptr) {
    send_error(sender, ErrorCode::UnknownPeer, m.session_id, out);
    return;
  }
  const auto size = static_cast<double>(m.payload.size());
  if (s.relayed_bytes + m.payload.size() > config_.relay.session_total_bytes) {
    ++counters_.relay_dropped_quota;
    if (!s.quota_reported) {  // once: the answer to a flood must not be a flood
      s.quota_reported = true;
      emit(ServerEvent::Kind::RelayQuotaExceeded, s.caller.identity, s.callee.identity, {}, s.id);
      send_error(sender, ErrorCode::RelayQuotaExceeded, m.session_id, out);
    }
    return;
  }
  // Rates per session and per identity (all its registrations together).
  if (!s.bytes.can_take(now, size) || !s.packets.can_take(now, 1) || !ids->relay_bytes.can_take(now, size) ||
      !ids->relay_packets.can_take(now, 1)) {
    ++counters_.relay_dropped_rate;
    return;
  }
  s.bytes.take(now, size);
  s.packets.take(now, 1);
  ids->relay_bytes.take(now, size);
  ids->relay_packets.take(now, 1);
  s.relayed_bytes += m.payload.size();
  s.last_activity = now;
  ++counters_.relay_packets;
  counters_.relay_bytes += m.payload.size();
  RelayData forward;
  forward.session_id = m.session_id;
  forward.payload = m.payload;
  out.push_back(authenticated(*receiver, std::move(forward)));
}

void Server::send_session_info(TimePoint now, const Session& s, Role role, std::vector<Transmit>& out) {
  Registration* self = find(role == Role::Caller ? s.caller : s.callee);
  const Registration* peer = find(role == Role::Caller ? s.callee : s.caller);
  if (self == nullptr) return;
  if (peer == nullptr) {
    send_error(*self, ErrorCode::UnknownPeer, role == Role::Caller ? s.request_id : s.invitation_id, out);
    return;
  }
  SessionInfo info;
  info.session_id = s.id;
  info.sealed_session_key = s.key;  // authenticated() encrypts it
  info.start_delay_ms = s.start_at > now ? clamp_ms(s.start_at - now) : 0;
  info.role = role;
  info.correlation_id = role == Role::Caller ? s.request_id : s.invitation_id;
  info.peer = peer->identity;
  info.peer_observed = peer->observed;
  info.peer_info = peer->info;
  out.push_back(authenticated(*self, std::move(info)));
}

void Server::send_error(Registration& to, ErrorCode code, std::uint64_t correlation, std::vector<Transmit>& out) {
  Error e;
  e.code = code;
  e.correlation_id = correlation;
  ++counters_.errors_sent;
  out.push_back(authenticated(to, e));
}

void Server::send_refused(const Endpoint& to, ErrorCode code, std::span<const std::uint8_t> echo,
                          std::vector<Transmit>& out) {
  Refused r;
  r.code = code;
  std::copy_n(echo.begin(), std::min(echo.size(), r.echo.size()), r.echo.begin());
  ++counters_.refused_sent;
  out.push_back({to, encode(r)});
}

template <class T>
Transmit Server::authenticated(Registration& to, T message) {
  message.auth.registration_id = to.id;
  message.auth.sequence = ++to.sent_sequence;
  if constexpr (std::is_same_v<T, SessionInfo>)
    message.sealed_session_key = crypt_session_key(message.sealed_session_key, to.keys.seal, message.auth.sequence);
  auto bytes = encode(message);
  seal(bytes, to.keys.server_to_client);
  return Transmit{to.observed, std::move(bytes)};
}

void Server::erase_registration(const Slot& slot) {
  auto it = registrations_.find(slot);
  if (it == registrations_.end()) return;
  registration_ids_.erase(it->second.id);
  registrations_.erase(it);
  auto ids = identities_.find(slot.identity);
  if (ids == identities_.end()) return;
  std::erase(ids->second.instances, slot.instance);
  if (ids->second.instances.empty()) identities_.erase(ids);
}

void Server::erase_pending(std::uint64_t invitation_id) {
  auto it = pending_.find(invitation_id);
  if (it == pending_.end()) return;
  const PendingRequest& p = it->second;
  pending_by_caller_.erase({p.caller, p.request_id});
  if (p.state == RequestState::Waiting) {
    // Never answered: the callee's registration may be offered another.
    release(p.callee);
    if (IdentityState* caller = identity_state(p.caller.identity); caller && caller->pending_requests > 0)
      --caller->pending_requests;
  }
  pending_.erase(it);
}

void Server::on_timer(TimePoint now) {
  if (now >= next_sweep_) sweep(now);
}

void Server::sweep(TimePoint now) {
  next_sweep_ = now + kSweepInterval;
  std::vector<Slot> gone;
  for (const auto& [slot, r] : registrations_)
    if (r.expires <= now) gone.push_back(slot);
  for (const auto& slot : gone) {
    if (const Registration* r = find(slot); r && !r->closed) emit(ServerEvent::Kind::Expired, slot.identity, {}, r->observed);
    erase_registration(slot);
  }
  std::vector<std::uint64_t> expired;
  for (const auto& [id, p] : pending_)
    if (p.expires <= now) expired.push_back(id);
  for (auto id : expired) erase_pending(id);
  std::erase_if(sessions_, [&](const auto& entry) {
    const Session& s = entry.second;
    return s.last_activity + config_.session_idle_timeout <= now;
  });
}

}  // namespace natpunch::rendezvous

#include "rendezvous/server.hpp"

#include "core/bytes.hpp"
#include "turn/rest_credentials.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "core/bytes.hpp"
#include "core/splitmix.hpp"
#include "rendezvous/server_cluster_state.hpp"

namespace natpunch::rendezvous {
namespace {

constexpr std::size_t kChallengeSize = kHeaderSize + kNonceSize + 8 + kCookieSize + 32 + 1;
// The smallest share of a table a source is allowed, however small the table.
constexpr std::size_t kMinShare = 16;

std::uint64_t to_ms(TimePoint t) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count());
}

std::uint32_t clamp_ms(Duration d) {
  const auto ms = std::chrono::duration_cast<milliseconds>(d).count();
  return static_cast<std::uint32_t>(std::clamp<long long>(ms, 0, 0xffffffffLL));
}

std::array<std::uint8_t, 16> echo_of(const AuthHeader& h) {
  std::array<std::uint8_t, 16> e{};
  store_be64(e.data(), h.registration_id);
  store_be64(e.data() + 8, h.sequence);
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
    case MessageType::Unregister:
    case MessageType::PathResponse:
    case MessageType::RelayResume: return true;
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

NatInfo Server::info_of(const Registration& r) {
  NatInfo info;
  ByteReader reader(r.info.view());
  (void)read_nat_info_field(reader, info);  // encoded by us from a decoded Prove: always valid
  return info;
}

Server::Session Server::session_for(TimePoint now, const PendingRequest& p) {
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
  new_session_buckets(s, now);
  return s;
}

void Server::new_session_buckets(Session& s, TimePoint now) const {
  s.bytes = LeanBucket(session_bytes_rate_, now);
  s.packets = LeanBucket(session_packets_rate_, now);
}

Server::Server(ServerConfig config, RandomBytes random, TimePoint now)
    : config_(std::move(config)),
      random_(std::move(random)),
      used_cookies_(config_.used_cookie_capacity),
      registrations_(splitmix64(config_.hash_seed ^ 4)) {
  const Identity identity = config_.identity ? *config_.identity : Identity::generate(random_);
  kx_ = KxKeyPair::from_identity(identity);
  random_(cookie_secret_);
  if (config_.rate_limit) limiter_.emplace(*config_.rate_limit, config_.hash_seed);
  if (config_.admission.verifications)
    verifications_.emplace(*config_.admission.verifications, splitmix64(config_.hash_seed ^ 1));
  if (config_.path_challenge_limit) path_limiter_.emplace(*config_.path_challenge_limit, splitmix64(config_.hash_seed ^ 2));
  shares_ = decltype(shares_)(16, SourceKeyHash{splitmix64(config_.hash_seed ^ 3)});
  verifications_total_ = TokenBucket(config_.admission.verifications_per_second,
                                     std::max(config_.admission.verifications_burst, 1.0), now);
  const double burst = config_.relay.burst_seconds;
  relay_total_bytes_ = TokenBucket(config_.relay.total_bytes_per_second,
                                   std::max(config_.relay.total_bytes_per_second * burst, double(kMaxRelayPayload)), now);
  relay_total_packets_ = TokenBucket(config_.relay.total_packets_per_second,
                                     std::max(config_.relay.total_packets_per_second * burst, 1.0), now);
  signalling_rate_ = {config_.signalling_per_second, std::max(config_.signalling_burst, 1.0)};
  answers_rate_ = {config_.answers_per_second, std::max(config_.answers_burst, 1.0)};
  identity_bytes_rate_ = {config_.relay.identity_bytes_per_second,
                          std::max(config_.relay.identity_bytes_per_second * burst, double(kMaxRelayPayload))};
  identity_packets_rate_ = {config_.relay.identity_packets_per_second,
                            std::max(config_.relay.identity_packets_per_second * burst, 1.0)};
  session_bytes_rate_ = {config_.relay.session_bytes_per_second,
                         std::max(config_.relay.session_bytes_per_second * burst, double(kMaxRelayPayload))};
  session_packets_rate_ = {config_.relay.session_packets_per_second,
                           std::max(config_.relay.session_packets_per_second * burst, 1.0)};
  if (config_.cluster) init_cluster(now);
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

std::uint32_t Server::random_tag() {
  const std::uint64_t v = random_u64();
  const auto tag = static_cast<std::uint32_t>(v ^ (v >> 32));
  return tag != 0 ? tag : 1;
}

std::optional<Endpoint> Server::observed_endpoint(const PublicKey& identity) const {
  const Registration* newest = nullptr;
  registrations_.for_each_of(identity, [&](const Registration& r) {
    if (newest == nullptr || r.order > newest->order) newest = &r;
  });
  if (newest == nullptr) return std::nullopt;
  return newest->observed;
}

std::size_t Server::registration_count(const PublicKey& identity) const {
  return registrations_.count(identity);
}

Server::Registration* Server::find(const Slot& slot) {
  return registrations_.find(slot.identity, slot.instance);
}

Server::Registration* Server::find_by_id(std::uint64_t id) {
  return registrations_.find_by_id(id);
}

Server::IdentityState* Server::identity_state(const PublicKey& identity) {
  return registrations_.find_identity(identity);
}

Server::Registration* Server::route_request(const PublicKey& identity) {
  Registration* best = nullptr;
  registrations_.for_each_of(identity, [&](Registration& r) {
    if (!r.listening || r.closed || (r.single_session && r.taken)) return;
    if (best == nullptr || r.order > best->order) best = &r;
  });
  return best;
}

namespace {
// An unregistered one stays until its cookie expired, so its Prove cannot
// be replayed into a new registration; a silent one may make room.
template <class R>
bool is_stale(const R& r, TimePoint now, Duration challenge_lifetime, Duration silent_limit) {
  const TimePoint cookie_expires = TimePoint(milliseconds(r.issued_at_ms)) + challenge_lifetime;
  return (r.closed && cookie_expires <= now) || now - r.last_heard > silent_limit;
}
}  // namespace

bool Server::has_stale(TimePoint now, const PublicKey& identity) const {
  bool stale = false;
  registrations_.for_each_of(identity, [&](const Registration& r) {
    stale = stale || is_stale(r, now, config_.challenge_lifetime, 2 * config_.refresh_interval);
  });
  return stale;
}

bool Server::evict_stale(TimePoint now, const PublicKey& identity) {
  const Duration silent_limit = 2 * config_.refresh_interval;
  Registration* stale = nullptr;
  registrations_.for_each_of(identity, [&](Registration& r) {
    if (stale == nullptr && is_stale(r, now, config_.challenge_lifetime, silent_limit)) stale = &r;
  });
  if (stale == nullptr) return false;
  emit(ServerEvent::Kind::Expired, stale->identity, {}, stale->observed);
  erase_registration(stale->slot());
  return true;
}

void Server::emit(ServerEvent::Kind kind, const PublicKey& identity, const PublicKey& peer, Endpoint endpoint,
                  std::uint64_t session_id) {
  if (config_.on_event) config_.on_event(ServerEvent{kind, identity, peer, endpoint, session_id});
}

std::vector<Transmit> Server::handle(TimePoint now, std::span<const std::uint8_t> datagram, const Endpoint& from,
                                     std::uint64_t stream) {
  std::vector<Transmit> out;
  in_stream_ = stream;
  struct Reset {
    std::uint64_t& s;
    ~Reset() { s = 0; }
  } reset{in_stream_};
  ++counters_.received;
  expire(now);
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
  // What comes without a registration is charged to its source; the rest
  // to its registration once the MAC proves it (on_authenticated), so that
  // nobody sharing -- or forging -- a client's address can spend its budget.
  // A Prove with a valid cookie comes from where the cookie went (within
  // seconds): it is charged to the signature-check budget instead, so a
  // client on a flooded address needs luck once (its Register), not twice.
  if (const auto* m = std::get_if<Register>(&message)) {
    if (limiter_ && !limiter_->allow(now, from)) {
      ++counters_.dropped_rate_limited;
      return out;
    }
    on_register(now, *m, datagram.size(), from, out);
    return out;
  }
  if (const auto* p = std::get_if<Prove>(&message)) {
    on_prove(now, *p, datagram, from, out);
    return out;
  }
  on_authenticated(now, message, datagram, from, out);
  return out;
}

std::size_t Server::share_cap(std::size_t table, double fraction) const {
  // Small tables (tests, tiny deployments) are not split into crumbs.
  return std::max<std::size_t>(kMinShare, static_cast<std::size_t>(static_cast<double>(table) * fraction));
}

const Server::SourceShare* Server::find_share(const SourceKey& key) const {
  auto it = shares_.find(key);
  return it == shares_.end() ? nullptr : &it->second;
}

void Server::release_share(const SourceKey& key, bool registration) {
  auto it = shares_.find(key);
  if (it == shares_.end()) return;
  auto& count = registration ? it->second.registrations : it->second.pending;
  if (count > 0) --count;
  if (it->second.registrations == 0 && it->second.pending == 0) shares_.erase(it);
}

std::size_t Server::registrations_from(const IpAddress& address) const {
  const SourceShare* s = find_share(subscriber_key(address));
  return s ? s->registrations : 0;
}

std::size_t Server::pending_from(const IpAddress& address) const {
  const SourceShare* s = find_share(subscriber_key(address));
  return s ? s->pending : 0;
}

std::uint8_t Server::puzzle_bits(const IpAddress& from) const {
  const auto& a = config_.admission;
  const double occupancy =
      static_cast<double>(registrations_.size()) / static_cast<double>(std::max<std::size_t>(1, config_.limits.max_registrations));
  if (occupancy < a.puzzle_from || a.max_puzzle_bits == 0) return 0;
  const double span = std::max(1e-9, 1.0 - a.puzzle_from);
  const double t = std::min(1.0, (occupancy - a.puzzle_from) / span);
  double bits = a.min_puzzle_bits + t * (a.max_puzzle_bits - a.min_puzzle_bits);
  if (const SourceShare* network = find_share(network_key(from)))
    bits += std::floor(std::log2(1.0 + network->registrations / 64.0));
  return static_cast<std::uint8_t>(std::clamp<double>(std::lround(bits), 1, kMaxPuzzleBits));
}

std::optional<ErrorCode> Server::admission_refusal(TimePoint now, const PublicKey& identity,
                                                   const Endpoint& from) const {
  const std::size_t held = registrations_.count(identity);
  const bool known = held > 0;
  bool frees_one = false;
  if (known && held >= config_.limits.max_registrations_per_identity) {
    if (!has_stale(now, identity)) return ErrorCode::TooManyRegistrations;
    frees_one = true;
  }
  const std::size_t max = config_.limits.max_registrations;
  const std::size_t after = registrations_.size() + (frees_one ? 0 : 1);
  if (after > max) return ErrorCode::ServerFull;
  const auto kept = static_cast<std::size_t>((1.0 - config_.admission.newcomers_up_to) * static_cast<double>(max));
  if (!known && after > max - std::min(kept, max)) return ErrorCode::ServerFull;
  const SourceShare* address = find_share(subscriber_key(from.address));
  const SourceShare* network = find_share(network_key(from.address));
  if ((address && address->registrations >=
                      share_cap(config_.limits.max_registrations, config_.limits.registrations_per_address)) ||
      (network && network->registrations >=
                      share_cap(config_.limits.max_registrations, config_.limits.registrations_per_network)))
    return ErrorCode::SourceFull;
  return std::nullopt;
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
  // Identities already registered (a listener's next socket, a client
  // re-registering) never pay the puzzle.
  c.puzzle_bits = registrations_.count(m.identity) > 0 ? 0 : puzzle_bits(from.address);
  c.cookie = make_cookie(cookie_secret_, m.identity, m.client_nonce, c.issued_at_ms, from, c.puzzle_bits);
  c.server_key = kx_.public_key;
  ++counters_.challenges_sent;
  out.push_back({from, encode(c), in_stream_});
}

void Server::on_prove(TimePoint now, const Prove& m, std::span<const std::uint8_t> bytes, const Endpoint& from,
                      std::vector<Transmit>& out) {
  const std::uint64_t now_ms = to_ms(now);
  const auto lifetime_ms = static_cast<std::uint64_t>(std::chrono::duration_cast<milliseconds>(config_.challenge_lifetime).count());
  const Cookie expected = make_cookie(cookie_secret_, m.identity, m.client_nonce, m.issued_at_ms, from, m.puzzle_bits);
  const Slot slot{m.identity, m.instance};
  Registration* existing = find(slot);
  const bool fresh = m.issued_at_ms <= now_ms && now_ms - m.issued_at_ms <= lifetime_ms;
  if (expected != m.cookie || !fresh) {
    // Nothing proves the source: limited like any unauthenticated datagram.
    if (limiter_ && !limiter_->allow(now, from)) {
      ++counters_.dropped_rate_limited;
      return;
    }
    send_refused(from, ErrorCode::ChallengeExpired, m.client_nonce, out);
    return;
  }
  // The Prove that made this registration, again: its Registered was lost.
  // Answered (to the proven endpoint only) without a second signature check.
  if (existing && !existing->closed &&
      std::equal(existing->cookie_head.begin(), existing->cookie_head.end(), m.cookie.begin()) &&
      existing->issued_at_ms == m.issued_at_ms) {
    if (existing->observed == from && existing->stream == in_stream_ && may_answer_again(now, *existing))
      send_registered(now, *existing, from, true, out);
    return;
  }
  // A cookie must be newer than the one that made the current registration
  // of this instance, so replaying a captured Prove (even from the same
  // address within the lifetime) cannot reset the keys. (A replay cannot
  // name another instance: it is signed.)
  if (existing && m.issued_at_ms <= existing->issued_at_ms) {
    send_refused(from, ErrorCode::ChallengeExpired, m.client_nonce, out);
    return;
  }
  // Everything cheap before the signature check (~100 us).
  if (!puzzle_solved(m.cookie, m.identity, m.puzzle_solution, m.puzzle_bits)) {
    ++counters_.dropped_bad_puzzle;
    send_refused(from, ErrorCode::ChallengeExpired, m.client_nonce, out);
    return;
  }
  if (existing == nullptr) {
    if (auto refusal = admission_refusal(now, m.identity, from)) {
      ++counters_.refused_admission;
      send_refused(from, *refusal, m.client_nonce, out);
      return;
    }
    if (clustered() && over_cluster_limit(m.identity, m.instance)) {
      ++counters_.refused_admission;
      send_refused(from, ErrorCode::TooManyRegistrations, m.client_nonce, out);
      return;
    }
  }
  // One signature check per cookie, and a budget of them per source.
  if (used_cookies_.spent(m.cookie, now)) {
    ++counters_.dropped_cookie_spent;
    send_refused(from, ErrorCode::ChallengeExpired, m.client_nonce, out);
    return;
  }
  if ((verifications_ && !verifications_->allow(now, from)) || !verifications_total_.take(now, 1)) {
    ++counters_.dropped_verification_budget;
    return;  // the client retransmits; the cookie is not spent
  }
  used_cookies_.spend(m.cookie, now, TimePoint(milliseconds(m.issued_at_ms)) + config_.challenge_lifetime + seconds(1));
  if (!verify_prove(bytes, m.identity, kx_.public_key)) {
    ++counters_.dropped_bad_signature;
    return;
  }
  auto keys = derive_server_keys(kx_, m);
  if (!keys) {
    ++counters_.dropped_bad_signature;
    return;
  }
  if (existing == nullptr) {
    // admission_refusal() found a stale registration to make room.
    if (registrations_.count(m.identity) >= config_.limits.max_registrations_per_identity)
      evict_stale(now, m.identity);
  }
  const bool taken = existing && existing->taken;
  const std::uint64_t order = existing ? existing->order : ++next_order_;
  const IpAddress registered_from = existing ? existing->registered_from : from.address;
  Registration* record = existing;
  if (existing) {
    // The same record, under a new id: the old id (and its keys) are gone.
    const std::uint64_t old_id = existing->id;
    path_checks_.erase(old_id);
    *existing = Registration{};
    existing->identity = m.identity;
    existing->instance = m.instance;
    existing->id = (std::uint64_t{random_tag()} << 32) | (old_id & 0xffffffffu);
  } else {
    record = &registrations_.insert(m.identity, m.instance, random_tag());
    ++share(subscriber_key(registered_from)).registrations;
    ++share(network_key(registered_from)).registrations;
  }
  Registration& r = *record;
  r.order = order;
  r.keys = *keys;
  r.observed = from;
  r.stream = in_stream_;
  std::vector<std::uint8_t> info;
  ByteWriter info_writer(info);
  write_nat_info_field(info_writer, m.info);
  r.info.assign(info);
  r.expires = now + config_.registration_lifetime;
  r.last_heard = now;
  r.issued_at_ms = m.issued_at_ms;
  std::copy_n(m.cookie.begin(), r.cookie_head.size(), r.cookie_head.begin());
  r.registered_from = registered_from;
  r.signalling = LeanBucket(signalling_rate_, now);
  r.answers = LeanBucket(answers_rate_, now);
  r.listening = (m.flags & kProveListening) != 0;
  r.single_session = (m.flags & kProveSingleSession) != 0;
  r.taken = taken;
  registration_timers_.push({r.expires, r.id});
  ++counters_.registrations;
  emit(ServerEvent::Kind::Registered, r.identity, {}, from);
  if (clustered()) cluster_announce(now, r, true);
  send_registered(now, r, from, true, out);
}

void Server::send_registered(TimePoint now, Registration& r, const Endpoint& observed, bool fresh,
                             std::vector<Transmit>& out) {
  Registered reply;
  reply.observed = observed;
  reply.refresh_interval_ms = clamp_ms(config_.refresh_interval);
  reply.lifetime_ms = clamp_ms(config_.registration_lifetime);
  out.push_back(authenticated(r, reply));
  const TurnOfferConfig& turn = config_.turn;
  if (turn.relays.empty()) return;
  // Offered again once the last offer is reoffer_interval old -- or half
  // its credentials' lifetime, so that a peer refreshing its registration
  // always holds credentials for a new allocation (issue 20).
  const Duration reoffer = std::min<Duration>(turn.reoffer_interval, turn.credential_lifetime / 2);
  if (!fresh && r.turn_offered_ever && now - r.turn_offered < reoffer) return;
  const std::int64_t unix_now =
      turn.unix_at_start + std::chrono::duration_cast<std::chrono::seconds>(now - turn.start).count();
  // The REST id names the identity (coturn logs it; quotas count it).
  const std::string id = to_hex(std::span(r.identity).first(8));
  TurnServers offer;
  offer.valid_for_s = static_cast<std::uint32_t>(turn.credential_lifetime.count());
  for (const TurnRelayConfig& relay : turn.relays) {
    if (offer.servers.size() == kMaxTurnServers) break;
    const auto minted = turn::mint_rest_credentials(relay.secret, id, unix_now, turn.credential_lifetime);
    if (!minted) continue;
    offer.servers.push_back(TurnServer{relay.address, relay.transports, relay.tls_port, relay.name,
                                       minted->credentials.username, minted->credentials.password});
  }
  if (offer.servers.empty()) return;
  r.turn_offered = now;
  r.turn_offered_ever = true;
  out.push_back(authenticated(r, offer));
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
    // A refusal is a reply to an unauthenticated datagram: limited per source.
    if (limiter_ && !limiter_->allow(now, from)) {
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
  // Relay data has its own limits: a busy relay must not lock its own
  // users out of signalling.
  if (!std::holds_alternative<RelayData>(message) && !r->signalling.take(now, 1, signalling_rate_)) {
    ++counters_.dropped_rate_limited;
    return;
  }
  if (std::holds_alternative<Unregister>(message)) {
    // Gone at once for requests; the entry itself stays until its cookie
    // expired, so a captured Prove cannot bring it back.
    const TimePoint cookie_expires = TimePoint(milliseconds(r->issued_at_ms)) + config_.challenge_lifetime;
    orphan_requests(now, *r, out);
    if (clustered()) cluster_release(*r);
    if (cookie_expires <= now) {
      erase_registration(r->slot());
    } else {
      r->closed = true;
      r->listening = false;
      r->expires = cookie_expires;
      registration_timers_.push({r->expires, r->id});
    }
    return;
  }
  // Authenticated and fresh: the registration is alive. Whether the client
  // receives at `from` is another question (a forged source, or its NAT
  // rebound): answers keep going to the proven endpoint until the client
  // answers a PathChallenge at the new one.
  r->last_heard = now;
  if (!r->closed) r->expires = now + config_.registration_lifetime;
  // Its home keeps the record while the client keeps the registration.
  if (clustered() && !r->closed && now - r->announced >= config_.registration_lifetime / 2)
    cluster_announce(now, *r, false);
  if (const auto* p = std::get_if<PathResponse>(&message)) {
    on_path_response(*r, p->token, now, from, out);
    return;
  }
  if (from != r->observed || in_stream_ != r->stream) challenge_path(now, *r, from, out);

  if (std::holds_alternative<Refresh>(message)) {
    send_registered(now, *r, from, false, out);
  } else if (const auto* c = std::get_if<ConnectRequest>(&message)) {
    on_connect(now, *r, *c, out);
  } else if (const auto* a = std::get_if<Accept>(&message)) {
    on_answer(now, *r, a->invitation_id, true, out);
  } else if (const auto* j = std::get_if<Reject>(&message)) {
    on_answer(now, *r, j->invitation_id, false, out);
  } else if (const auto* d = std::get_if<RelayData>(&message)) {
    on_relay(now, *r, *d, out);
  } else if (const auto* resume = std::get_if<RelayResume>(&message)) {
    on_relay_resume(now, *r, *resume, out);
  }
  // Keepalive: nothing more to do.
}

void Server::challenge_path(TimePoint now, Registration& r, const Endpoint& from, std::vector<Transmit>& out) {
  auto check = path_checks_.find(r.id);
  if (check != path_checks_.end() && check->second.candidate == from && check->second.stream == in_stream_ &&
      now - check->second.challenged < config_.path_challenge_interval)
    return;
  if (path_limiter_ && !path_limiter_->allow(now, from)) return;
  PathCheck& c = path_checks_[r.id];
  c.candidate = from;
  c.stream = in_stream_;
  c.token = random_u64();
  c.challenged = now;
  ++counters_.path_challenges_sent;
  out.push_back({from, encode(PathChallenge{c.token}), in_stream_});
}

void Server::on_path_response(Registration& r, std::uint64_t token, TimePoint now, const Endpoint& from,
                              std::vector<Transmit>& out) {
  auto check = path_checks_.find(r.id);
  if (check == path_checks_.end() || check->second.candidate != from || check->second.stream != in_stream_ ||
      token != check->second.token || now - check->second.challenged > config_.path_challenge_lifetime)
    return;
  r.observed = from;
  r.stream = in_stream_;
  path_checks_.erase(check);
  ++counters_.paths_validated;
  // The client learns where it is now (what a refresh it sent from here,
  // answered at the old endpoint, would have told it).
  send_registered(now, r, from, false, out);
}

void Server::orphan_requests(TimePoint now, const Registration& r, std::vector<Transmit>& out) {
  // A caller still waiting for this registration's answer hears at once
  // that the peer is gone (and may ask again: another registration).
  std::vector<std::uint64_t> orphaned;
  for (auto [it, end] = pending_by_callee_.equal_range(r.slot()); it != end; ++it)
    if (auto p = pending_.find(it->second); p != pending_.end() && p->second.state == RequestState::Waiting)
      orphaned.push_back(it->second);
  for (auto id : orphaned) {
    const PendingRequest p = pending_.at(id);
    erase_pending(id);
    if (p.origin != 0) {
      cluster_send(now, p.origin, cluster::NotFound{p.invitation_id}, out);
    } else if (Registration* caller = find(p.caller)) {
      send_error(now, *caller, ErrorCode::UnknownPeer, p.request_id, out);
    }
  }
}

bool Server::may_answer_again(TimePoint now, Registration& to) {
  if (to.answers.take(now, 1, answers_rate_)) return true;
  ++counters_.answers_suppressed;
  return false;
}

void Server::on_connect(TimePoint now, Registration& caller, const ConnectRequest& m, std::vector<Transmit>& out) {
  ++counters_.connect_requests;
  // Request ids are the caller registration's own (each client numbers its
  // requests): keyed by registration, not by identity.
  const auto key = std::make_pair(caller.slot(), m.request_id);
  if (auto it = pending_by_caller_.find(key); it != pending_by_caller_.end()) {
    // A retransmission: answer from the request's state.
    PendingRequest& p = pending_.at(it->second);
    if (p.remote_callee && p.state == RequestState::Waiting) {
      // The callee's node answers from the request's state.
      if (may_answer_again(now, caller)) route_remote(now, p, out);
      return;
    }
    if (p.state == RequestState::Rejected) {
      send_error(now, caller, ErrorCode::Rejected, m.request_id, out);
    } else if (p.state == RequestState::Accepted) {
      if (auto s = sessions_.find(p.session_id); s != sessions_.end() && may_answer_again(now, caller))
        send_session_info(now, s->second, Role::Caller, out);
    } else if (Registration* callee = find(p.callee); callee && may_answer_again(now, caller)) {
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
  // None here: another node of the cluster may have one.
  const bool remote = callee == nullptr && m.peer != caller.identity && has_peers();
  if (callee == nullptr && !remote) {
    send_error(now, caller, ErrorCode::UnknownPeer, m.request_id, out);
    return;
  }
  // Requests are charged to the caller's identity and to the address and
  // network it registered from, so that nobody fills the table for all.
  IdentityState* caller_ids = identity_state(caller.identity);
  const SourceShare* address = find_share(caller.address_key());
  const SourceShare* network = find_share(caller.network_key());
  const auto& limits = config_.limits;
  if (caller_ids == nullptr || pending_.size() >= limits.max_pending_requests ||
      caller_ids->pending_requests >= limits.max_pending_per_identity ||
      (address && address->pending >= share_cap(limits.max_pending_requests, limits.pending_per_address)) ||
      (network && network->pending >= share_cap(limits.max_pending_requests, limits.pending_per_network))) {
    send_error(now, caller, ErrorCode::TooManyPending, m.request_id, out);
    return;
  }
  PendingRequest p;
  p.caller = caller.slot();
  p.request_id = m.request_id;
  p.address_key = caller.address_key();
  p.network_key = caller.network_key();
  p.callee = remote ? Slot{m.peer, 0} : callee->slot();
  p.remote_callee = remote;
  do {
    p.invitation_id = random_u64();
  } while (pending_.contains(p.invitation_id));
  p.expires = now + config_.request_timeout;
  pending_by_caller_[key] = p.invitation_id;
  if (!remote) pending_by_callee_.emplace(p.callee, p.invitation_id);
  pending_[p.invitation_id] = p;
  pending_timers_.push({p.expires, p.invitation_id});
  ++share(p.address_key).pending;
  ++share(p.network_key).pending;
  ++caller_ids->pending_requests;
  if (remote) {
    route_remote(now, p, out);
    return;
  }
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
    send_error(now, callee, ErrorCode::UnknownRequest, invitation_id, out);
    return;
  }
  PendingRequest& p = it->second;
  if (p.origin != 0) {
    answer_remote_caller(now, callee, p, accept, out);
    return;
  }
  Registration* caller = find(p.caller);
  if (p.state == RequestState::Accepted) {  // our SessionInfo was lost
    if (auto s = sessions_.find(p.session_id); s != sessions_.end() && may_answer_again(now, callee))
      send_session_info(now, s->second, Role::Callee, out);
    return;
  }
  if (p.state == RequestState::Rejected) return;
  // Answered: no longer counts against the caller's pending cap, and lingers
  // only to answer retransmissions.
  if (IdentityState* c = identity_state(p.caller.identity); c && c->pending_requests > 0) --c->pending_requests;
  if (now + config_.answered_request_linger < p.expires) {
    p.expires = now + config_.answered_request_linger;
    pending_timers_.push({p.expires, p.invitation_id});
  }
  if (!accept) {
    p.state = RequestState::Rejected;
    release(p.callee);
    emit(ServerEvent::Kind::Rejected, p.caller.identity, p.callee.identity);
    if (caller) send_error(now, *caller, ErrorCode::Rejected, p.request_id, out);
    return;
  }
  if (caller == nullptr) {
    p.state = RequestState::Rejected;
    release(p.callee);
    send_error(now, callee, ErrorCode::UnknownPeer, invitation_id, out);
    return;
  }
  if (sessions_.size() >= config_.limits.max_sessions) {
    send_error(now, callee, ErrorCode::ServerFull, invitation_id, out);
    send_error(now, *caller, ErrorCode::ServerFull, p.request_id, out);
    p.state = RequestState::Rejected;
    release(p.callee);
    return;
  }
  Session s = session_for(now, p);
  p.state = RequestState::Accepted;
  p.session_id = s.id;
  const Session& stored = sessions_[s.id] = s;
  session_timers_.push({s.last_activity + config_.session_idle_timeout, s.id});
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
    send_error(now, sender, ErrorCode::NoSuchSession, m.session_id, out);
    return;
  }
  Session& s = it->second;
  if (m.payload.size() > config_.relay.max_payload) {
    send_error(now, sender, ErrorCode::TooLarge, m.session_id, out);
    return;
  }
  Registration* receiver = s.remote_node != 0 ? nullptr : find(s.caller == sender.slot() ? s.callee : s.caller);
  if (receiver == nullptr && s.remote_node == 0) {
    send_error(now, sender, ErrorCode::UnknownPeer, m.session_id, out);
    return;
  }
  const auto size = static_cast<double>(m.payload.size());
  if (s.relayed_bytes + m.payload.size() > config_.relay.session_total_bytes) {
    ++counters_.relay_dropped_quota;
    if (!s.quota_reported) {  // once: the answer to a flood must not be a flood
      s.quota_reported = true;
      emit(ServerEvent::Kind::RelayQuotaExceeded, s.caller.identity, s.callee.identity, {}, s.id);
      send_error(now, sender, ErrorCode::RelayQuotaExceeded, m.session_id, out);
    }
    return;
  }
  // Rates per session and per identity (all its registrations together;
  // an identity's buckets exist from its first relayed packet on: a full
  // bucket then is what one made at registration would hold by now).
  auto [relay_state, first_relay] = identity_relay_.try_emplace(sender.identity);
  IdentityRelay* ids = &relay_state->second;
  if (first_relay) *ids = IdentityRelay{LeanBucket(identity_bytes_rate_, now), LeanBucket(identity_packets_rate_, now)};
  if (!s.bytes.can_take(now, size, session_bytes_rate_) || !s.packets.can_take(now, 1, session_packets_rate_) ||
      !ids->bytes.can_take(now, size, identity_bytes_rate_) ||
      !ids->packets.can_take(now, 1, identity_packets_rate_)) {
    ++counters_.relay_dropped_rate;
    return;
  }
  // ... per sender address (all identities registered from it), and for
  // the whole server.
  SourceShare& address = share(sender.address_key());
  if (!address.relay_started) {
    const double burst = config_.relay.burst_seconds;
    address.relay_bytes = TokenBucket(config_.relay.address_bytes_per_second,
                                      std::max(config_.relay.address_bytes_per_second * burst, double(kMaxRelayPayload)), now);
    address.relay_packets = TokenBucket(config_.relay.address_packets_per_second,
                                        std::max(config_.relay.address_packets_per_second * burst, 1.0), now);
    address.relay_started = true;
  }
  if (!address.relay_bytes.can_take(now, size) || !address.relay_packets.can_take(now, 1) ||
      !relay_total_bytes_.can_take(now, size) || !relay_total_packets_.can_take(now, 1)) {
    ++counters_.relay_dropped_budget;
    return;
  }
  s.bytes.take(now, size, session_bytes_rate_);
  s.packets.take(now, 1, session_packets_rate_);
  ids->bytes.take(now, size, identity_bytes_rate_);
  ids->packets.take(now, 1, identity_packets_rate_);
  address.relay_bytes.take(now, size);
  address.relay_packets.take(now, 1);
  relay_total_bytes_.take(now, size);
  relay_total_packets_.take(now, 1);
  s.relayed_bytes += m.payload.size();
  s.last_activity = now;
  ++counters_.relay_packets;
  counters_.relay_bytes += m.payload.size();
  if (s.remote_node != 0) {
    cluster_send(now, s.remote_node, cluster::Relay{m.session_id, m.payload}, out);
    return;
  }
  RelayData forward;
  forward.session_id = m.session_id;
  forward.payload = m.payload;
  out.push_back(authenticated(*receiver, std::move(forward)));
}

void Server::send_session_info(TimePoint now, const Session& s, Role role, std::vector<Transmit>& out) {
  Registration* self = find(role == Role::Caller ? s.caller : s.callee);
  if (self == nullptr) return;
  if (s.remote_peer) {  // the other peer is at another node: what its node told us
    SessionInfo info;
    info.session_id = s.id;
    info.sealed_session_key = s.key;
    info.start_delay_ms = s.start_at > now ? clamp_ms(s.start_at - now) : 0;
    info.role = role;
    info.correlation_id = role == Role::Caller ? s.request_id : s.invitation_id;
    info.peer = s.remote_peer->identity;
    info.peer_observed = s.remote_peer->observed;
    info.peer_info = s.remote_peer->info;
    out.push_back(authenticated(*self, std::move(info)));
    return;
  }
  const Registration* peer = find(role == Role::Caller ? s.callee : s.caller);
  if (peer == nullptr) {
    send_error(now, *self, ErrorCode::UnknownPeer, role == Role::Caller ? s.request_id : s.invitation_id, out);
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
  info.peer_info = info_of(*peer);
  out.push_back(authenticated(*self, std::move(info)));
}

void Server::send_error(TimePoint now, Registration& to, ErrorCode code, std::uint64_t correlation,
                        std::vector<Transmit>& out) {
  // A flood of mistakes is not answered one for one.
  if (!may_answer_again(now, to)) return;
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
  out.push_back({to, encode(r), in_stream_});  // always to the source being answered
}

template <class T>
Transmit Server::authenticated(Registration& to, T message) {
  message.auth.registration_id = to.id;
  message.auth.sequence = ++to.sent_sequence;
  if constexpr (std::is_same_v<T, SessionInfo>)
    message.sealed_session_key = crypt_session_key(message.sealed_session_key, to.keys.seal, message.auth.sequence);
  if constexpr (std::is_same_v<T, TurnServers>) crypt_turn_passwords(message, to.keys.seal, message.auth.sequence);
  auto bytes = encode(message);
  seal(bytes, to.keys.server_to_client);
  return Transmit{to.observed, std::move(bytes), to.stream};
}

// Used by the cluster half of the server (server_cluster.cpp) too.
template Transmit Server::authenticated<IncomingRequest>(Registration&, IncomingRequest);
template Transmit Server::authenticated<RelayData>(Registration&, RelayData);
template Transmit Server::authenticated<RelayResumed>(Registration&, RelayResumed);

void Server::erase_registration(const Slot& slot) {
  Registration* r = find(slot);
  if (r == nullptr) return;
  if (clustered() && !r->closed) cluster_release(*r);
  path_checks_.erase(r->id);
  release_share(r->address_key(), true);
  release_share(r->network_key(), true);
  registrations_.erase(*r);
  if (registrations_.count(slot.identity) == 0) identity_relay_.erase(slot.identity);
}

void Server::erase_pending(std::uint64_t invitation_id) {
  auto it = pending_.find(invitation_id);
  if (it == pending_.end()) return;
  const PendingRequest& p = it->second;
  pending_by_caller_.erase({p.caller, p.request_id});
  for (auto [c, end] = pending_by_callee_.equal_range(p.callee); c != end; ++c)
    if (c->second == invitation_id) {
      pending_by_callee_.erase(c);
      break;
    }
  if (p.charged) {
    release_share(p.address_key, false);
    release_share(p.network_key, false);
  }
  if (p.state == RequestState::Waiting) {
    // Never answered: the callee's registration may be offered another.
    if (!p.remote_callee) release(p.callee);
    if (IdentityState* caller = p.origin != 0 ? nullptr : identity_state(p.caller.identity);
        caller && caller->pending_requests > 0)
      --caller->pending_requests;
  }
  pending_.erase(it);
}

void Server::on_timer(TimePoint now) {
  expire(now);
  if (clustered()) {
    std::vector<Transmit> out;  // cluster ticks send nothing to clients, but the helpers take a sink
    cluster_tick(now, out);
    resend_resume_halves(now, out);
  } else {
    resend_resumes_at_.reset();  // only a node whose peer node left has halves of its own
  }
}

std::optional<TimePoint> Server::next_deadline() const {
  std::optional<TimePoint> next = cluster_deadline();
  for (const auto* q : {&resuming_expiry_, &meeting_expiry_})
    if (!q->empty() && (!next || q->front().first < *next)) next = q->front().first;
  if (resend_resumes_at_ && (!next || *resend_resumes_at_ < *next)) next = resend_resumes_at_;
  for (const TimerQueue* q : {&registration_timers_, &pending_timers_, &session_timers_})
    if (!q->empty() && (!next || q->top().at < *next)) next = q->top().at;
  return next;
}

void Server::expire(TimePoint now) {
  expire_resumes(now);
  while (!registration_timers_.empty() && registration_timers_.top().at <= now) {
    const Timer t = registration_timers_.top();
    registration_timers_.pop();
    Registration* r = find_by_id(t.id);
    if (r == nullptr) continue;  // re-registered or gone
    if (r->expires > now) {  // refreshed since
      registration_timers_.push({r->expires, t.id});
      continue;
    }
    if (!r->closed) emit(ServerEvent::Kind::Expired, r->identity, {}, r->observed);
    erase_registration(r->slot());
  }
  while (!pending_timers_.empty() && pending_timers_.top().at <= now) {
    const Timer t = pending_timers_.top();
    pending_timers_.pop();
    auto p = pending_.find(t.id);
    if (p == pending_.end()) continue;
    if (p->second.expires > now) {
      pending_timers_.push({p->second.expires, t.id});
      continue;
    }
    erase_pending(t.id);
  }
  while (!session_timers_.empty() && session_timers_.top().at <= now) {
    const Timer t = session_timers_.top();
    session_timers_.pop();
    auto s = sessions_.find(t.id);
    if (s == sessions_.end()) continue;
    const TimePoint idle_until = s->second.last_activity + config_.session_idle_timeout;
    if (idle_until > now) {
      session_timers_.push({idle_until, t.id});
      continue;
    }
    sessions_.erase(s);
  }
}

}  // namespace natpunch::rendezvous

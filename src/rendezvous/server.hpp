#pragma once
// The rendezvous + relay server as a sans-IO machine: handle(now, datagram,
// from) returns the datagrams to send; on_timer(now) expires state.
//
// What it guarantees (tests/unit/rendezvous_*_test.cpp check each):
// - an identity registers only by signing the server's fresh challenge with
//   its Ed25519 key; a replayed or foreign Prove fails (a cookie must be
//   newer than the one of that instance's current registration, and an
//   unregistered instance is kept until its cookie expired);
// - every later message is MAC'd under per-registration keys and passes a
//   replay window; only then is the sender's observed endpoint updated, so
//   a spoofed or replayed datagram cannot move an identity's endpoint;
// - neither side of a connect learns the other's endpoints until the callee
//   accepts; then both get SessionInfo (fresh session id and key, encrypted)
//   with the same start delay;
// - relay data is forwarded only between the two registrations a session
//   was made for (not an identity's other registrations),
//   within per-session and per-identity byte and packet rates and a
//   per-session byte budget;
// - bounded memory: fixed caps on registrations (in all and per identity),
//   pending requests and sessions; unauthenticated datagrams create no state
//   (the challenge is a stateless cookie) except a slot in the fixed-size
//   per-source limiter;
// - no amplification: an unauthenticated request never gets a reply larger
//   than itself.
//
// Several registrations per identity: each Prove names an instance (the
// client's choice, one per socket); a Prove for a new instance adds a
// registration with its own keys and endpoint, up to
// max_registrations_per_identity (a stale one -- silent for two refresh
// intervals, or unregistered with an expired cookie -- makes room;
// otherwise TooManyRegistrations). A ConnectRequest goes to ONE of the
// callee's registrations: the newest that listens (Prove flag) and is free.
// A "single-session" registration (flag) is offered at most one request at
// a time and none once it accepted one: a listener keeps a fresh
// registration per caller, each session on its own socket. Relay rates and
// the pending-request cap stay per identity.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/endpoint.hpp"
#include "core/time.hpp"
#include "rendezvous/crypto.hpp"
#include "rendezvous/messages.hpp"
#include "rendezvous/replay_window.hpp"
#include "rendezvous/token_bucket.hpp"
#include "rendezvous/transmit.hpp"
#include "stun/source_rate_limiter.hpp"

namespace natpunch::rendezvous {

struct ServerLimits {
  std::size_t max_registrations = 100'000;
  std::size_t max_pending_requests = 10'000;
  std::size_t max_pending_per_identity = 16;  // unanswered ones
  std::size_t max_registrations_per_identity = 16;  // concurrent (one per socket)
  std::size_t max_sessions = 100'000;
};

struct RelayLimits {
  double session_bytes_per_second = 256.0 * 1024;
  double session_packets_per_second = 500;
  double identity_bytes_per_second = 512.0 * 1024;
  double identity_packets_per_second = 1000;
  // Bucket depth, as seconds of the rate.
  double burst_seconds = 1.0;
  // Total bytes a session may relay over its lifetime.
  std::uint64_t session_total_bytes = 256ull * 1024 * 1024;
  std::size_t max_payload = kMaxRelayPayload;
};

struct ServerEvent {
  enum class Kind { Registered, Expired, SessionCreated, Rejected, RelayQuotaExceeded };
  Kind kind = Kind::Registered;
  PublicKey identity{};
  PublicKey peer{};
  Endpoint endpoint;
  std::uint64_t session_id = 0;
};
std::string_view to_string(ServerEvent::Kind kind);

struct ServerConfig {
  ServerLimits limits;
  RelayLimits relay;
  // Per source address, for everything but relay data (which has its own
  // limits). nullopt disables it (tests).
  std::optional<stun::RateLimitConfig> rate_limit = stun::RateLimitConfig{};
  Duration registration_lifetime = seconds(120);
  Duration refresh_interval = seconds(30);
  Duration challenge_lifetime = seconds(10);
  Duration request_timeout = seconds(30);
  // How long an answered request is remembered, to answer retransmissions.
  Duration answered_request_linger = seconds(15);
  Duration session_idle_timeout = seconds(300);
  // The common start time handed to both peers, as a delay from sending.
  Duration start_delay = milliseconds(500);
  std::uint64_t hash_seed = 0;
  // Long-term key, so clients can pin the server; a fresh one when absent.
  std::optional<Identity> identity;
  std::function<void(const ServerEvent&)> on_event;
};

struct ServerCounters {
  std::uint64_t received = 0;
  std::uint64_t dropped_malformed = 0;
  std::uint64_t dropped_rate_limited = 0;
  std::uint64_t dropped_wrong_direction = 0;  // a server->client type sent to the server
  std::uint64_t dropped_small_register = 0;   // unpadded Register: answering would amplify
  std::uint64_t dropped_bad_signature = 0;
  std::uint64_t dropped_bad_mac = 0;
  std::uint64_t dropped_replayed = 0;
  std::uint64_t challenges_sent = 0;
  std::uint64_t registrations = 0;
  std::uint64_t refused_sent = 0;
  std::uint64_t errors_sent = 0;
  std::uint64_t connect_requests = 0;
  std::uint64_t sessions_created = 0;
  std::uint64_t relay_packets = 0;
  std::uint64_t relay_bytes = 0;
  std::uint64_t relay_dropped_rate = 0;
  std::uint64_t relay_dropped_quota = 0;
};

class Server {
 public:
  Server(ServerConfig config, RandomBytes random, TimePoint now);

  std::vector<Transmit> handle(TimePoint now, std::span<const std::uint8_t> datagram, const Endpoint& from);
  void on_timer(TimePoint now);
  std::optional<TimePoint> next_deadline() const { return next_sweep_; }

  // The X25519 key clients see in every Challenge (pin it with the client's
  // pinned_server_key).
  const PublicKey& server_key() const { return kx_.public_key; }
  const ServerCounters& counters() const { return counters_; }
  const ServerConfig& config() const { return config_; }
  std::size_t registration_count() const { return registrations_.size(); }
  std::size_t registration_count(const PublicKey& identity) const;
  std::size_t pending_count() const { return pending_.size(); }
  std::size_t session_count() const { return sessions_.size(); }
  std::size_t tracked_sources() const { return limiter_ ? limiter_->tracked() : 0; }
  // The endpoint the server currently believes `identity` is at (its newest
  // registration's).
  std::optional<Endpoint> observed_endpoint(const PublicKey& identity) const;

 private:
  struct KeyHash {
    std::size_t operator()(const PublicKey& k) const noexcept;
  };
  // One registration: an identity's instance (one client socket).
  struct Slot {
    PublicKey identity{};
    std::uint64_t instance = 0;
    auto operator<=>(const Slot&) const = default;
  };
  struct Registration {
    PublicKey identity{};
    std::uint64_t instance = 0;
    std::uint64_t id = 0;
    std::uint64_t order = 0;  // creation order: the newest listening one gets requests
    RegistrationKeys keys;
    Endpoint observed;
    NatInfo info;
    TimePoint expires{};
    TimePoint last_heard{};
    std::uint64_t issued_at_ms = 0;
    ReplayWindow received;
    std::uint64_t sent_sequence = 0;
    bool listening = true;
    bool single_session = false;
    bool taken = false;   // single-session: has a request waiting or accepted
    bool closed = false;  // unregistered; kept until its cookie expired (replays)
    Slot slot() const { return {identity, instance}; }
  };
  // What an identity's registrations share.
  struct IdentityState {
    std::vector<std::uint64_t> instances;
    TokenBucket relay_bytes;
    TokenBucket relay_packets;
    std::size_t pending_requests = 0;
  };
  enum class RequestState { Waiting, Accepted, Rejected };
  struct PendingRequest {
    Slot caller{};
    std::uint32_t request_id = 0;
    Slot callee{};
    std::uint64_t invitation_id = 0;
    TimePoint expires{};
    RequestState state = RequestState::Waiting;
    std::uint64_t session_id = 0;
  };
  struct Session {
    std::uint64_t id = 0;
    Key key{};
    Slot caller{};
    Slot callee{};
    std::uint32_t request_id = 0;
    std::uint64_t invitation_id = 0;
    TimePoint start_at{};
    TimePoint last_activity{};
    TokenBucket bytes;
    TokenBucket packets;
    std::uint64_t relayed_bytes = 0;
    bool quota_reported = false;
  };

  void on_register(TimePoint now, const Register& m, std::size_t size, const Endpoint& from, std::vector<Transmit>& out);
  void on_prove(TimePoint now, const Prove& m, std::span<const std::uint8_t> bytes, const Endpoint& from,
                std::vector<Transmit>& out);
  void on_authenticated(TimePoint now, const Message& m, std::span<const std::uint8_t> bytes, const Endpoint& from,
                        std::vector<Transmit>& out);
  void on_connect(TimePoint now, Registration& caller, const ConnectRequest& m, std::vector<Transmit>& out);
  void on_answer(TimePoint now, Registration& callee, std::uint64_t invitation_id, bool accept,
                 std::vector<Transmit>& out);
  void on_relay(TimePoint now, Registration& sender, const RelayData& m, std::vector<Transmit>& out);

  void send_session_info(TimePoint now, const Session& s, Role role, std::vector<Transmit>& out);
  void send_error(Registration& to, ErrorCode code, std::uint64_t correlation, std::vector<Transmit>& out);
  void send_refused(const Endpoint& to, ErrorCode code, std::span<const std::uint8_t> echo,
                    std::vector<Transmit>& out);
  template <class T>
  Transmit authenticated(Registration& to, T message);

  Registration* find(const Slot& slot);
  Registration* find_by_id(std::uint64_t id);
  IdentityState* identity_state(const PublicKey& identity);
  // The registration a new request for `identity` goes to, if any.
  Registration* route_request(const PublicKey& identity);
  // Makes room for one more registration of `ids`; false when none is stale.
  bool evict_stale(TimePoint now, IdentityState& ids, const PublicKey& identity);
  void erase_registration(const Slot& slot);
  void release(const Slot& callee);
  void erase_pending(std::uint64_t invitation_id);
  void sweep(TimePoint now);
  void emit(ServerEvent::Kind kind, const PublicKey& identity, const PublicKey& peer = {}, Endpoint endpoint = {},
            std::uint64_t session_id = 0);
  std::uint64_t random_u64();

  ServerConfig config_;
  RandomBytes random_;
  KxKeyPair kx_;
  Key cookie_secret_{};
  std::optional<stun::SourceRateLimiter> limiter_;
  ServerCounters counters_;
  std::map<Slot, Registration> registrations_;
  std::unordered_map<std::uint64_t, Slot> registration_ids_;
  std::unordered_map<PublicKey, IdentityState, KeyHash> identities_;
  std::uint64_t next_order_ = 0;
  std::unordered_map<std::uint64_t, PendingRequest> pending_;             // by invitation id
  std::map<std::pair<Slot, std::uint32_t>, std::uint64_t> pending_by_caller_;
  std::unordered_map<std::uint64_t, Session> sessions_;
  TimePoint next_sweep_{};
};

}  // namespace natpunch::rendezvous

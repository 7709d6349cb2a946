#pragma once
// The rendezvous client as a sans-IO machine of the contract
// (core/transmit.hpp: on_datagram / poll_transmit / next_deadline /
// on_timer / poll_event), so io::run_machine, the simulator and tests run it.
//
// It registers (Register -> Challenge -> Prove -> Registered) with
// exponential-backoff retransmission, solving the server's puzzle when the
// Challenge asks for one (synchronously: up to 2^kMaxPuzzleBits hashes,
// only while the server's table is filling up), refreshes before the
// registration expires, and registers again by itself when the server
// forgets it (a restart: the server answers NotRegistered, or refreshes go
// unanswered). It answers the server's PathChallenges (after a NAT
// rebinding) so that the server follows it to its new endpoint.
// connect() asks for a session with a peer identity and retransmits until
// SessionInfo or an error arrives; incoming requests are decided by the
// accept policy (or by the application through accept()/reject()).
// Relay data is sent and received through the server within a session.
#include <array>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <variant>
#include <vector>

#include "core/endpoint.hpp"
#include "core/time.hpp"
#include "rendezvous/crypto.hpp"
#include "rendezvous/messages.hpp"
#include "rendezvous/replay_window.hpp"
#include "core/transmit.hpp"

namespace natpunch::rendezvous {

using AcceptPolicy = std::function<bool(const PublicKey& caller)>;
AcceptPolicy accept_all();
AcceptPolicy accept_from(std::vector<PublicKey> allowed);

struct ClientConfig {
  Endpoint server;
  // Other addresses of the same rendezvous service (the nodes of a
  // cluster, or every A/AAAA record of its name). The client machine
  // only talks to `server`; the driver moves it to the next of these with
  // switch_server() when `server` stops answering
  // (rendezvous/failover_client.hpp).
  std::vector<Endpoint> alternate_servers;
  Identity identity;
  NatInfo info;
  // When set, a Challenge carrying another server key is not answered
  // (the client keeps waiting for the pinned server) and reported as
  // client_event::ServerKeyMismatch.
  std::optional<PublicKey> pinned_server_key;
  Duration initial_retransmit = milliseconds(250);
  Duration max_retransmit = seconds(4);
  // How long connect() (and an accepted request) waits for SessionInfo.
  Duration connect_timeout = seconds(10);
  // Unanswered refreshes (each retransmitted with backoff) before the
  // client assumes the server lost it and registers again.
  int refresh_attempts = 4;
  // Keepalives towards the server between refreshes (NATs with short idle
  // timeouts); zero: only refreshes.
  Duration keepalive_interval{0};
  // nullptr: every incoming request is left to accept()/reject().
  AcceptPolicy accept_policy;
  // Whether the server may offer this registration incoming requests (a
  // caller-only registration of an identity that also listens elsewhere
  // sets false), and whether it takes at most one (server.hpp).
  bool listening = true;
  bool single_session = false;
  // Names this registration among the identity's others (one per socket);
  // 0: a random one per Client.
  std::uint64_t instance = 0;
  // When the server answers a connect with UnknownPeer (the peer has not
  // registered yet, or all its registrations are busy), ask again this
  // often until connect_timeout; zero: fail at once.
  Duration unknown_peer_retry{0};
};

// Everything a peer needs to start punching.
struct ClientSession {
  std::uint64_t session_id = 0;
  Key session_key{};
  TimePoint start_at{};  // local time: receive time + the server's delay
  Role role = Role::Caller;
  std::uint64_t correlation_id = 0;  // request id (caller) / invitation id (callee)
  PublicKey peer{};
  Endpoint peer_observed;
  NatInfo peer_info;
};

namespace client_event {
struct Registered {
  Endpoint observed;
};
// The registration is gone (server restart, no answers): registering again.
struct RegistrationLost {
  std::optional<ErrorCode> reason;  // nullopt: refreshes went unanswered
};
struct IncomingRequest {
  std::uint64_t invitation_id = 0;
  PublicKey caller{};
  std::optional<bool> accepted;  // decided by the policy; nullopt: call accept()/reject()
};
struct SessionReady {
  ClientSession session;
};
struct ConnectFailed {
  std::uint32_t request_id = 0;
  ErrorCode code = ErrorCode::Timeout;
};
// The server does not know the peer yet (unknown_peer_retry): asking again.
struct PeerNotRegistered {
  std::uint32_t request_id = 0;
  PublicKey peer{};
};
// The server refused the registration (ServerFull, TooManyRegistrations):
// retrying with backoff.
struct RegistrationRefused {
  ErrorCode code = ErrorCode::ServerFull;
};
// A Challenge for our registration carried another server key than the
// pinned one: a wrong pin, or someone between us and the server (a possible
// attack). Not answered; reported once per registration attempt.
struct ServerKeyMismatch {
  PublicKey offered{};
};
struct RelayReceived {
  std::uint64_t session_id = 0;
  std::vector<std::uint8_t> payload;
};
// TURN relays the server offers, with credentials (passwords decrypted):
// sent after registering and again as the credentials age.
struct TurnServersOffered {
  std::vector<TurnServer> servers;
  TimePoint expires{};  // local time the credentials stop working
};
struct RelayRefused {
  std::uint64_t session_id = 0;
  ErrorCode code = ErrorCode::NoSuchSession;
};
// After registering again (the server restarted, or this client moved to
// another node because its node died), the client asks for its sessions'
// relay through where it is now (RelayResume); the server said the relay
// runs again.
struct RelayResumed {
  std::uint64_t session_id = 0;
};
}  // namespace client_event

using ClientEvent = std::variant<client_event::Registered, client_event::RegistrationLost,
                                 client_event::IncomingRequest, client_event::SessionReady,
                                 client_event::ConnectFailed, client_event::RelayReceived, client_event::RelayRefused,
                                 client_event::PeerNotRegistered, client_event::RegistrationRefused,
                                 client_event::ServerKeyMismatch, client_event::TurnServersOffered,
                                 client_event::RelayResumed>;

struct ClientCounters {
  std::uint64_t registrations = 0;
  std::uint64_t retransmissions = 0;
  std::uint64_t dropped_malformed = 0;
  std::uint64_t dropped_unauthenticated = 0;  // bad MAC, replay, wrong registration
  std::uint64_t server_key_mismatches = 0;    // Challenges carrying another key than the pinned one
  std::uint64_t puzzle_hashes = 0;            // work spent on registration puzzles
  std::uint64_t path_responses = 0;
};

class Client {
 public:
  Client(ClientConfig config, RandomBytes random);

  void start(TimePoint now);
  // Returns the request id that SessionReady / ConnectFailed will carry.
  std::uint32_t connect(TimePoint now, const PublicKey& peer);
  void accept(TimePoint now, std::uint64_t invitation_id);
  // Ends the registration at the server (Unregister) and goes idle: no
  // retransmissions, refreshes or events after this.
  void close(TimePoint now);
  std::uint64_t instance() const { return instance_; }
  void reject(TimePoint now, std::uint64_t invitation_id);
  // False when not registered, the session is unknown or the payload too large.
  bool send_relay(TimePoint now, std::uint64_t session_id, std::span<const std::uint8_t> payload);

  // The machine contract (core/transmit.hpp): everything goes out of and
  // comes in on socket 0.
  std::optional<natpunch::Transmit> poll_transmit(TimePoint now);
  std::optional<TimePoint> next_deadline() const;
  void on_timer(TimePoint now);
  // False when the datagram is not a rendezvous message from the server on
  // socket 0 (the caller may own other protocols on the same socket).
  bool on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes);
  std::optional<ClientEvent> poll_event();

  bool registered() const { return phase_ == Phase::Registered; }
  // The server it talks to now.
  const Endpoint& server() const { return config_.server; }
  // Registers at `server` from now on (a failover to another node of the
  // service): registration starts over there; connects and accepts in
  // flight are sent again once registered; sessions are not touched.
  void switch_server(TimePoint now, const Endpoint& server);
  std::optional<Endpoint> observed_endpoint() const { return observed_; }
  // Whether the next Prove tells the server (and so a peer) that this side
  // only relays (NatInfo::relay_only): a client whose UDP is blocked.
  void set_relay_only(bool relay_only) { config_.info.relay_only = relay_only; }
  // Refreshes the registration now (its answer renews observed_endpoint():
  // after a NAT rebinding, the new external port); nothing when not
  // registered or a refresh is already in flight.
  void refresh_now(TimePoint now);
  // Counts the server's Registered answers (registration and refreshes):
  // it grows each time observed_endpoint() is fresh.
  std::uint64_t observations() const { return observations_; }
  const PublicKey& identity() const { return config_.identity.public_key; }
  const std::optional<PublicKey>& pinned_server_key() const { return config_.pinned_server_key; }
  const ClientCounters& counters() const { return counters_; }
  // The latest TURN offer (nullopt: none yet, or the server has no TURN relays).
  const std::optional<client_event::TurnServersOffered>& turn_offer() const { return turn_offer_; }
  // Never done: a registration lives until the application drops the client.
  bool done() const { return false; }

 private:
  enum class Phase { Idle, AwaitChallenge, AwaitRegistered, Registered };
  struct Retransmit {
    TimePoint next{};
    Duration interval{};
  };
  struct PendingConnect {
    PublicKey peer{};
    TimePoint deadline{};
    Retransmit retransmit;
    bool peer_missing = false;  // the last answer was UnknownPeer: retrying
  };
  struct PendingAccept {
    PublicKey caller{};
    bool accepted = false;
    TimePoint deadline{};
    Retransmit retransmit;
  };
  struct PendingResume {
    TimePoint deadline{};
    Retransmit retransmit;
  };
  // Sessions whose relay is asked for again after a re-registration: the
  // newest this many, each for at most kResumeFor.
  static constexpr std::size_t kMaxResumes = 16;
  static constexpr Duration kResumeFor = seconds(60);
  void resume_sessions(TimePoint now);
  void send_resume(std::uint64_t session_id);

  void begin_registration(TimePoint now);
  void send_register();
  void on_challenge(TimePoint now, const Challenge& c);
  void on_refused(TimePoint now, const Refused& r);
  void on_path_challenge(TimePoint now, const PathChallenge& c);
  void on_authenticated(TimePoint now, const Message& m, std::span<const std::uint8_t> bytes);
  void on_registered(TimePoint now, const Registered& m);
  void on_turn_servers(TimePoint now, TurnServers m);
  void on_incoming(TimePoint now, const IncomingRequest& m);
  void on_session_info(TimePoint now, const SessionInfo& m);
  void on_error(TimePoint now, const Error& m);
  void decide(TimePoint now, std::uint64_t invitation_id, const PublicKey& caller, bool accept);
  void send_connect(std::uint32_t request_id, const PendingConnect& c);
  void send_answer(std::uint64_t invitation_id, bool accept);
  template <class T>
  void send_authenticated(T message);
  Retransmit first_retransmit(TimePoint now) const;
  void back_off(Retransmit& r, TimePoint now);

  ClientConfig config_;
  RandomBytes random_;
  std::uint64_t instance_ = 0;
  bool closed_ = false;
  bool key_mismatch_reported_ = false;  // for this registration attempt (its nonce)
  Phase phase_ = Phase::Idle;
  Nonce nonce_{};
  Retransmit registration_retransmit_;
  std::vector<std::uint8_t> prove_bytes_;
  std::optional<RegistrationKeys> keys_;
  std::uint64_t registration_id_ = 0;
  std::uint64_t sent_sequence_ = 0;
  ReplayWindow received_;
  std::optional<Endpoint> observed_;
  std::uint64_t observations_ = 0;
  std::optional<client_event::TurnServersOffered> turn_offer_;
  // The last PathChallenge answered: a forged flood of them makes the
  // client answer at most once per token and interval.
  std::uint64_t answered_token_ = 0;
  TimePoint answered_at_{};
  Duration refresh_interval_ = seconds(30);
  TimePoint next_refresh_{};
  int refresh_unanswered_ = 0;
  Retransmit refresh_retransmit_;
  TimePoint next_keepalive_{};
  std::uint32_t next_request_id_ = 1;
  std::map<std::uint32_t, PendingConnect> connects_;
  std::map<std::uint64_t, PendingAccept> accepts_;
  std::set<std::uint64_t> undecided_;
  std::map<std::uint64_t, ClientSession> sessions_;
  bool ever_registered_ = false;
  std::map<std::uint64_t, PendingResume> resumes_;
  std::deque<natpunch::Transmit> outbox_;
  std::deque<ClientEvent> events_;
  ClientCounters counters_;
};

}  // namespace natpunch::rendezvous

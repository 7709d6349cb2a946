#pragma once
// The rendezvous + relay server as a sans-IO machine: handle(now, datagram,
// from) returns the datagrams to send; on_timer(now) expires state.
//
// What it guarantees (tests/unit/rendezvous_*_test.cpp check each):
// - an identity registers only by signing the server's fresh challenge with
//   its Ed25519 key; a replayed or foreign Prove fails (a cookie must be
//   newer than the one of that instance's current registration, is good
//   for one signature check, and an unregistered instance is kept until its
//   cookie expired); signature checks are budgeted per source;
// - admission: a source (IPv4 address / IPv6 /64, and its /24 or /48) may
//   hold only a share of the registration and pending-request tables; once
//   the registration table is half full a new identity must solve a puzzle
//   that grows with the occupancy, and the last few percent are kept for
//   identities already registered; a registration's own refreshes are
//   never refused;
// - every later message is MAC'd under per-registration keys and passes a
//   replay window; it is charged to its registration (signalling rate), not
//   to its source address. A registration's endpoint moves only after the
//   client answered a PathChallenge sent there, so a spoofed, replayed or
//   even authenticated datagram from a forged source cannot point the
//   server's answers or the relay at anyone;
// - neither side of a connect learns the other's endpoints until the callee
//   accepts; then both get SessionInfo (fresh session id and key, encrypted)
//   with the same start delay;
// - relay data is forwarded only between the two registrations a session
//   was made for (not an identity's other registrations), within rates per
//   session, per identity, per sender address and for the whole server, and
//   a per-session byte budget;
// - bounded memory: fixed caps on registrations (in all and per identity),
//   pending requests and sessions; unauthenticated datagrams create no state
//   (the challenge is a stateless cookie) except slots in fixed-size tables
//   (source limiters, spent cookies); expiry runs from timer queues, never
//   a scan of a table;
// - no amplification: an unauthenticated request, or an authenticated one
//   from an endpoint the registration has not proved, never gets a reply
//   larger than itself; errors and repeated answers are budgeted per
//   registration.
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
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include <deque>
#include <queue>

#include "core/endpoint.hpp"
#include "core/source_key.hpp"
#include "core/time.hpp"
#include "rendezvous/cluster_directory.hpp"
#include "rendezvous/cluster_membership.hpp"
#include "rendezvous/cluster_messages.hpp"
#include "rendezvous/crypto.hpp"
#include "rendezvous/messages.hpp"
#include "rendezvous/registration_table.hpp"
#include "rendezvous/replay_window.hpp"
#include "rendezvous/small_bytes.hpp"
#include "rendezvous/token_bucket.hpp"
#include "rendezvous/transmit.hpp"
#include "rendezvous/used_cookies.hpp"
#include "stun/source_rate_limiter.hpp"

namespace natpunch::rendezvous {

struct ServerLimits {
  std::size_t max_registrations = 100'000;
  // Requests waiting for an answer, and answered ones kept to answer
  // retransmissions (answered_request_linger).
  std::size_t max_pending_requests = 100'000;
  std::size_t max_pending_per_identity = 16;  // unanswered ones
  std::size_t max_registrations_per_identity = 16;  // concurrent (one per socket)
  std::size_t max_sessions = 100'000;
  // The share of each table one source may hold: its subscriber (IPv4
  // address, IPv6 /64) and its network (IPv4 /24, IPv6 /48), as fractions
  // of the table (at least one entry). A registration is charged to the
  // address it registered from, a request to its caller's.
  double registrations_per_address = 1.0 / 64;
  double registrations_per_network = 1.0 / 16;
  double pending_per_address = 1.0 / 128;
  double pending_per_network = 1.0 / 32;
};

// Who may register while the table fills up.
struct AdmissionLimits {
  // From this occupancy on, a new identity (one holding no registration)
  // must solve a puzzle of min_puzzle_bits, growing linearly to
  // max_puzzle_bits when the table is full (about 2^bits hashes each), plus
  // log2(1 + registrations of its network / 64) bits: a network that
  // already holds many pays exponentially more.
  double puzzle_from = 0.5;
  std::uint8_t min_puzzle_bits = 8;
  std::uint8_t max_puzzle_bits = 20;
  // New identities may fill the table only this far; the rest is kept for
  // identities already registered (a listener's next socket).
  double newcomers_up_to = 0.95;
  // Signature checks (Proves that pass the cookie, puzzle and admission
  // checks), per source port and per source address. nullopt: unlimited.
  std::optional<stun::RateLimitConfig> verifications = stun::RateLimitConfig{
      .requests_per_second = 2,
      .burst = 4,
      .address_requests_per_second = 100,
      .address_burst = 500,
      .reserved_per_second = 0.5,
      .reserved_burst = 2,
  };
  // ... and for the whole server (each check costs ~100-150 us of CPU):
  // attackers on many addresses spend at most this share of a core.
  double verifications_per_second = 2000;
  double verifications_burst = 4000;
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
  // All sessions whose sender registered from one address (IPv6: /64):
  // one abuser cannot spend the whole server's budget.
  double address_bytes_per_second = 8.0 * 1024 * 1024;
  double address_packets_per_second = 10'000;
  // The whole server: the most it relays, whoever asks.
  double total_bytes_per_second = 100.0 * 1024 * 1024;
  double total_packets_per_second = 100'000;
};

// TURN relays (coturn with use-auth-secret, or any server of the TURN REST
// API) handed to every registered client with credentials minted from the
// relay's shared secret: the client needs no account, the relay no list of
// users. Empty: nothing is offered (the built-in relay only).
struct TurnRelayConfig {
  Endpoint address;                  // UDP and TCP
  std::uint8_t transports = kTurnUdp | kTurnTcp;
  std::uint16_t tls_port = 0;        // with kTurnTls
  std::string name;                  // the name its TLS certificate carries (may be empty)
  std::string secret;                // its static-auth-secret
};
struct TurnOfferConfig {
  std::vector<TurnRelayConfig> relays;  // at most kMaxTurnServers
  std::chrono::seconds credential_lifetime{3600};
  // Offered again with a registration's Registered answers once the last
  // offer is this old, or half credential_lifetime if that is less (so a
  // lost one is repeated, and the credentials a peer holds never expire).
  Duration reoffer_interval = seconds(300);
  // The REST usernames carry a Unix time; the server reads no clock: Unix
  // time at `start` on the steady clock `now` is measured on.
  std::int64_t unix_at_start = 0;
  TimePoint start{};
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

// A node of a cluster of rendezvous servers (issue 21): nodes talk over a
// message bus (NATS, src/io/nats_link.*) through the server's cluster
// inbox and outbox (handle_cluster / poll_cluster).
//
// - Membership and homes: cluster_membership.hpp. Every registration is
//   announced to its identity's home node (batched for announce_delay),
//   renewed there every half registration lifetime while its client keeps
//   refreshing, and withdrawn when it ends: soft state, nothing to recover
//   after a restart. The home keeps the cluster-wide count per identity
//   (cluster_directory.hpp) and evicts what goes over the limit.
// - A connect for an identity with no free listening registration here
//   goes to its home (Route), which passes it to the node of the newest
//   listening registration (Offer); that node invites its callee as if the
//   caller were local and, on Accept, makes the session (id, key, start
//   delay) and sends it back (SessionMade). The caller's node tells the
//   caller. Retransmissions of the caller drive the cluster messages'
//   (Offer again; the callee's node answers from the request's state).
// - Relay between peers at two nodes passes over the bus; each node
//   charges its own client's sends to its usual budgets (session,
//   identity, address, server) and the receiving node charges the
//   session's and its server's budgets again, so a session's rates and
//   byte budget hold whichever node a packet enters.
// - Alone (no other node heard from: the bus is down, or a single node),
//   the node serves its own registrations exactly as without a cluster.
// - Relay handover (server_relay_handover.cpp): when the node relaying a
//   session dies, its clients register elsewhere and send RelayResume
//   (token from the session key); a surviving node whose session's other
//   side was at the dead node does the same for its own client. Both
//   halves meet at the home of the token, which tells each side's node
//   where the other side is; the relay then runs between the new nodes
//   (or within one). Without a cluster the same happens within the node
//   (both peers re-register after a restart). A resumed session starts a
//   fresh byte budget; its rates hold as for any session.
struct ClusterConfig {
  ClusterKey key{};
  NodeId node_id = 0;  // 0: a random one
  MembershipConfig membership;
  // Held / Released records wait this long to share a message.
  Duration announce_delay = milliseconds(20);
  std::uint16_t udp_port = 0;  // said in Hello, for operators
  std::size_t max_directory_records = 4'000'000;
};

// A message for the bus: to one node, or (to == 0) to every node.
struct ClusterTransmit {
  NodeId to = 0;
  std::vector<std::uint8_t> bytes;
};

struct ClusterCounters {
  std::uint64_t received = 0;
  std::uint64_t sent = 0;
  std::uint64_t dropped_malformed = 0;    // not sealed with our key, or a bad body
  std::uint64_t dropped_replayed = 0;
  std::uint64_t dropped_misdirected = 0;  // for another node, or our own
  std::uint64_t dropped_unexpected = 0;   // well-formed, about nothing we know
  std::uint64_t members_joined = 0;
  std::uint64_t members_left = 0;
  std::uint64_t announced = 0;            // registration records sent to their homes
  std::uint64_t routes = 0;               // connects passed to another node
  std::uint64_t offers = 0;               // connects from another node offered to a callee here
  std::uint64_t remote_sessions = 0;      // sessions whose other peer is at another node
  std::uint64_t relay_forwarded = 0;      // relay packets to or from another node
  std::uint64_t relay_forwarded_bytes = 0;
  std::uint64_t evictions = 0;            // registrations ended because their home said so
  std::uint64_t resume_halves = 0;        // relay handover halves received as the meeting node
  std::uint64_t resume_matches = 0;       // ... paired with the other party's
};

struct ServerConfig {
  ServerLimits limits;
  AdmissionLimits admission;
  RelayLimits relay;
  // Per source (port, under an address budget) for what arrives without a
  // registration: Register, Prove, and messages naming an unknown
  // registration. nullopt disables it (tests).
  std::optional<stun::RateLimitConfig> rate_limit = stun::RateLimitConfig{};
  // Per registration: its authenticated signalling (everything but relay
  // data), and the errors and repeated answers it may be sent.
  double signalling_per_second = 20;
  double signalling_burst = 40;
  double answers_per_second = 10;
  double answers_burst = 20;
  // PathChallenges: at most one per registration per interval, and per
  // destination (port and address) through a limiter of its own.
  Duration path_challenge_interval = seconds(1);
  Duration path_challenge_lifetime = seconds(10);
  std::optional<stun::RateLimitConfig> path_challenge_limit = stun::RateLimitConfig{
      .requests_per_second = 2,
      .burst = 4,
      .address_requests_per_second = 50,
      .address_burst = 100,
      .reserved_per_second = 0,
      .reserved_burst = 0,
  };
  // Spent cookies remembered at once.
  std::size_t used_cookie_capacity = 65'536;
  // Relay handover: how long a party's half waits for the other's.
  Duration resume_lifetime = seconds(60);
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
  TurnOfferConfig turn;
  std::function<void(const ServerEvent&)> on_event;
  // Set: this server is a node of a cluster (see ClusterConfig).
  std::optional<ClusterConfig> cluster;
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
  std::uint64_t dropped_bad_puzzle = 0;
  std::uint64_t dropped_cookie_spent = 0;          // a second Prove with one cookie
  std::uint64_t dropped_verification_budget = 0;   // the source's signature checks are used up
  std::uint64_t refused_admission = 0;             // server full, source share full, too many per identity
  std::uint64_t answers_suppressed = 0;            // errors / repeated answers over a registration's budget
  std::uint64_t path_challenges_sent = 0;
  std::uint64_t paths_validated = 0;
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
  std::uint64_t relay_dropped_budget = 0;  // the sender's address or the whole server over its rate
  std::uint64_t relay_resumed = 0;         // sessions whose relay a party resumed here (handover)
};

class Server {
 public:
  Server(ServerConfig config, RandomBytes random, TimePoint now);

  // `stream`: the driver's number of the stream connection (TCP or TLS,
  // its frames: rendezvous/stream_framing.hpp) the message came over, 0
  // for UDP. A stream is a source like any other (`from` is its peer's
  // address and port); answers to it carry its number, and a registration
  // made over it is answered there until the client proves another path.
  std::vector<Transmit> handle(TimePoint now, std::span<const std::uint8_t> datagram, const Endpoint& from,
                               std::uint64_t stream = 0);
  void on_timer(TimePoint now);
  std::optional<TimePoint> next_deadline() const;
  ~Server();

  // Cluster mode (config.cluster): a message from the bus, as received.
  // Returns the datagrams it makes this node send its clients.
  std::vector<Transmit> handle_cluster(TimePoint now, std::span<const std::uint8_t> message);
  // What to publish on the bus (after every handle / handle_cluster /
  // on_timer).
  std::vector<ClusterTransmit> poll_cluster();
  // A clean stop: says Goodbye, so the others stop routing here at once.
  void leave_cluster(TimePoint now);
  NodeId node_id() const;
  // Other nodes heard from lately (0 when alone or not clustered).
  std::size_t cluster_members() const;
  const ClusterCounters& cluster_counters() const;
  std::size_t directory_records() const;

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
  // The puzzle a new identity registering now from `from` must solve (0:
  // none): by the table's occupancy, plus one bit per doubling of the
  // registrations its network (/24, /48) already holds, in units of 64.
  std::uint8_t puzzle_bits(const IpAddress& from) const;
  // Registrations / requests charged to `address`'s subscriber share.
  std::size_t registrations_from(const IpAddress& address) const;
  std::size_t pending_from(const IpAddress& address) const;
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
    std::uint64_t id = 0;     // given by the table (registration_table.hpp)
    std::uint64_t order = 0;  // creation order: the newest listening one gets requests
    RegistrationKeys keys;
    Endpoint observed;
    IpAddress registered_from;  // the shares it is charged to (address_key(), network_key())
    std::uint64_t stream = 0;  // the stream `observed` is reached over (0: UDP)
    // Its NatInfo as the wire carries it (a third of the decoded size;
    // decoded only for the few SessionInfos that tell it), inline.
    SmallBytes<38> info;
    TimePoint expires{};
    TimePoint last_heard{};
    std::uint64_t issued_at_ms = 0;
    ReplayWindow received;
    std::uint64_t sent_sequence = 0;
    // The first half of the cookie that made it, so a retransmitted Prove
    // is answered again (the whole cookie was checked before this compares).
    std::array<std::uint8_t, 16> cookie_head{};
    LeanBucket signalling;
    LeanBucket answers;
    TimePoint announced{};     // cluster: last told its home
    TimePoint turn_offered{};  // when TurnServers last went out (with turn_offered_ever)
    bool turn_offered_ever = false;
    bool listening = true;
    bool single_session = false;
    bool taken = false;   // single-session: has a request waiting or accepted
    bool closed = false;  // unregistered; kept until its cookie expired (replays)
    Slot slot() const { return {identity, instance}; }
    SourceKey address_key() const { return subscriber_key(registered_from); }
    SourceKey network_key() const { return natpunch::network_key(registered_from); }
  };
  // An endpoint a registration's authenticated messages came from that it
  // has not proved yet, and the token of the PathChallenge sent there
  // (rare: kept beside the registrations, by registration id).
  struct PathCheck {
    Endpoint candidate;
    std::uint64_t stream = 0;  // the stream it came over (0: UDP)
    std::uint64_t token = 0;
    TimePoint challenged{};
  };
  // What an identity's registrations share: the table's index entry
  // (count, unanswered requests) and, once it relays, its relay buckets.
  using IdentityState = RegistrationTable<Registration>::IdentityEntry;
  struct IdentityRelay {
    LeanBucket bytes;
    LeanBucket packets;
  };
  enum class RequestState { Waiting, Accepted, Rejected };
  struct PendingRequest {
    Slot caller{};
    std::uint32_t request_id = 0;
    SourceKey address_key{};  // the caller's shares
    SourceKey network_key{};
    Slot callee{};
    std::uint64_t invitation_id = 0;
    TimePoint expires{};
    RequestState state = RequestState::Waiting;
    std::uint64_t session_id = 0;
    bool charged = true;  // counts against the caller's shares (a local caller)
    // Cluster: a callee at another node (caller's side: the node that
    // offered it, once known), or a caller at another node (callee's side:
    // its node and what the callee's SessionInfo tells about it).
    bool remote_callee = false;
    NodeId holder = 0;
    NodeId origin = 0;
    std::shared_ptr<const cluster::PeerCard> remote_caller;
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
    LeanBucket bytes;
    LeanBucket packets;
    std::uint64_t relayed_bytes = 0;
    bool quota_reported = false;
    // Cluster: the other peer is at node remote_node (caller_remote says
    // which side); its slot here is {identity, 0}.
    NodeId remote_node = 0;
    bool caller_remote = false;
    std::shared_ptr<const cluster::PeerCard> remote_peer;
    // Resumed here after a handover: the parties' token (this node never
    // learnt the key).
    std::optional<Key> resume_token;
  };
  // Relay handover (server_relay_handover.cpp): a party here whose
  // session's relay is being resumed, until the other party's half is
  // found; and, at the meeting node, the halves that arrived.
  using ResumeKey = std::pair<std::uint64_t, PublicKey>;  // session id, the party's identity
  struct Resuming {
    Slot slot{};
    PublicKey peer{};
    Key token{};
    TimePoint expires{};
    TimePoint sent{};
    bool client_asked = false;  // its client sent RelayResume (answer it); else this node's own
  };
  struct MeetingHalf {
    PublicKey peer{};
    Key token{};
    NodeId node = 0;
    TimePoint expires{};
  };

  void on_register(TimePoint now, const Register& m, std::size_t size, const Endpoint& from, std::vector<Transmit>& out);
  void on_prove(TimePoint now, const Prove& m, std::span<const std::uint8_t> bytes, const Endpoint& from,
                std::vector<Transmit>& out);
  void on_authenticated(TimePoint now, const Message& m, std::span<const std::uint8_t> bytes, const Endpoint& from,
                        std::vector<Transmit>& out);
  void on_connect(TimePoint now, Registration& caller, const ConnectRequest& m, std::vector<Transmit>& out);
  // Registered, and TurnServers when configured and due (`fresh`: a new
  // registration, or one that may have lost the last offer).
  void send_registered(TimePoint now, Registration& r, const Endpoint& observed, bool fresh,
                       std::vector<Transmit>& out);
  void on_answer(TimePoint now, Registration& callee, std::uint64_t invitation_id, bool accept,
                 std::vector<Transmit>& out);
  void on_relay(TimePoint now, Registration& sender, const RelayData& m, std::vector<Transmit>& out);

  void on_path_response(Registration& r, std::uint64_t token, TimePoint now, const Endpoint& from,
                        std::vector<Transmit>& out);
  void challenge_path(TimePoint now, Registration& r, const Endpoint& from, std::vector<Transmit>& out);
  // Why a Prove for a new registration would be refused (nothing changes).
  std::optional<ErrorCode> admission_refusal(TimePoint now, const PublicKey& identity, const Endpoint& from) const;
  bool has_stale(TimePoint now, const PublicKey& identity) const;
  // Repeated answers (SessionInfo, IncomingRequest) within `to`'s answer budget.
  bool may_answer_again(TimePoint now, Registration& to);

  void send_session_info(TimePoint now, const Session& s, Role role, std::vector<Transmit>& out);
  void send_error(TimePoint now, Registration& to, ErrorCode code, std::uint64_t correlation,
                  std::vector<Transmit>& out);
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
  bool evict_stale(TimePoint now, const PublicKey& identity);
  void erase_registration(const Slot& slot);
  void release(const Slot& callee);
  void erase_pending(std::uint64_t invitation_id);
  // Runs the timers due by `now`.
  void expire(TimePoint now);
  void emit(ServerEvent::Kind kind, const PublicKey& identity, const PublicKey& peer = {}, Endpoint endpoint = {},
            std::uint64_t session_id = 0);
  std::uint64_t random_u64();
  // The random half of a registration id (never 0).
  std::uint32_t random_tag();
  // Ends a waiting request for `r` (it unregistered or was evicted): its
  // callers hear UnknownPeer at once.
  void orphan_requests(TimePoint now, const Registration& r, std::vector<Transmit>& out);

  // Cluster (server_cluster.cpp).
  struct ClusterState;
  void init_cluster(TimePoint now);
  std::optional<TimePoint> cluster_deadline() const;
  bool clustered() const { return cluster_ != nullptr; }
  bool has_peers() const;
  void cluster_announce(TimePoint now, Registration& r, bool fresh);
  void cluster_release(const Registration& r);
  void cluster_send(TimePoint now, NodeId to, cluster::Body body, std::vector<Transmit>& out);
  void cluster_dispatch(TimePoint now, NodeId sender, const cluster::Body& body, std::vector<Transmit>& out);
  void cluster_tick(TimePoint now, std::vector<Transmit>& out);
  void cluster_flush(TimePoint now, std::vector<Transmit>& out);
  void cluster_members_changed(TimePoint now, const std::vector<NodeId>& left);
  void apply_held(TimePoint now, NodeId node, const cluster::HeldRecord& record, std::vector<Transmit>& out);
  void apply_eviction(TimePoint now, const PublicKey& identity, std::uint64_t instance, std::vector<Transmit>& out);
  void route_remote(TimePoint now, const PendingRequest& p, std::vector<Transmit>& out);
  void on_route(TimePoint now, const cluster::Route& m, std::vector<Transmit>& out);
  void on_offer(TimePoint now, const cluster::Offer& m, std::vector<Transmit>& out);
  void on_session_made(TimePoint now, NodeId sender, const cluster::SessionMade& m, std::vector<Transmit>& out);
  void on_remote_answer(TimePoint now, NodeId sender, std::uint64_t invitation, bool found, bool rejected,
                        std::vector<Transmit>& out);
  void on_cluster_relay(TimePoint now, NodeId sender, const cluster::Relay& m, std::vector<Transmit>& out);
  // Relay handover (server_relay_handover.cpp).
  void on_relay_resume(TimePoint now, Registration& r, const RelayResume& m, std::vector<Transmit>& out);
  void resume_for_dead_nodes(TimePoint now, const std::vector<NodeId>& left, std::vector<Transmit>& out);
  void send_resume_half(TimePoint now, std::uint64_t session_id, Resuming& half, std::vector<Transmit>& out);
  void resend_resume_halves(TimePoint now, std::vector<Transmit>& out);
  void on_resume_half(TimePoint now, const cluster::ResumeHalf& m, std::vector<Transmit>& out);
  void on_resume_matched(TimePoint now, const cluster::ResumeMatched& m, std::vector<Transmit>& out);
  void resume_send(TimePoint now, NodeId to, cluster::Body body, std::vector<Transmit>& out);
  Key session_token(const Session& s) const;
  void expire_resumes(TimePoint now);
  void answer_remote_caller(TimePoint now, Registration& callee, PendingRequest& p, bool accept,
                            std::vector<Transmit>& out);
  cluster::PeerCard card_of(const Registration& r) const;
  static NatInfo info_of(const Registration& r);
  void new_session_buckets(Session& s, TimePoint now) const;
  // A session for an accepted request: a fresh id and key, the two sides,
  // the start time and its rate buckets (the caller stores it).
  Session session_for(TimePoint now, const PendingRequest& p);
  // Whether a new registration of `identity` would exceed its cluster-wide
  // limit, as far as this node (its home) knows.
  bool over_cluster_limit(const PublicKey& identity, std::uint64_t instance) const;

  // A table's per-source shares.
  struct SourceShare {
    std::uint32_t registrations = 0;
    std::uint32_t pending = 0;
    TokenBucket relay_bytes;  // subscriber shares only: relay sent by its registrations
    TokenBucket relay_packets;
    bool relay_started = false;
  };
  SourceShare& share(const SourceKey& key) { return shares_[key]; }
  const SourceShare* find_share(const SourceKey& key) const;
  void release_share(const SourceKey& key, bool registration);
  std::size_t share_cap(std::size_t table, double fraction) const;

  struct Timer {
    TimePoint at{};
    std::uint64_t id = 0;
    bool operator>(const Timer& o) const { return at > o.at; }
  };
  using TimerQueue = std::priority_queue<Timer, std::vector<Timer>, std::greater<>>;

  ServerConfig config_;
  // The stream the message being handled came over (0: UDP, or no message):
  // answers to its source go back there.
  std::uint64_t in_stream_ = 0;
  RandomBytes random_;
  KxKeyPair kx_;
  Key cookie_secret_{};
  std::optional<stun::SourceRateLimiter> limiter_;
  std::optional<stun::SourceRateLimiter> verifications_;
  std::optional<stun::SourceRateLimiter> path_limiter_;
  UsedCookies used_cookies_;
  ServerCounters counters_;
  RegistrationTable<Registration> registrations_;
  std::unordered_map<std::uint64_t, PathCheck> path_checks_;  // by registration id
  std::unordered_map<PublicKey, IdentityRelay, KeyHash> identity_relay_;  // identities that relayed
  std::uint64_t next_order_ = 0;
  std::unordered_map<std::uint64_t, PendingRequest> pending_;             // by invitation id
  std::map<std::pair<Slot, std::uint32_t>, std::uint64_t> pending_by_caller_;
  std::multimap<Slot, std::uint64_t> pending_by_callee_;
  std::unordered_map<std::uint64_t, Session> sessions_;
  std::unordered_map<SourceKey, SourceShare, SourceKeyHash> shares_;
  // The rates of the lean buckets above.
  BucketRate signalling_rate_, answers_rate_, identity_bytes_rate_, identity_packets_rate_, session_bytes_rate_,
      session_packets_rate_;
  TokenBucket verifications_total_;
  TokenBucket relay_total_bytes_;
  TokenBucket relay_total_packets_;
  // By registration id, invitation id and session id; an entry whose
  // deadline moved later is pushed again when it comes up.
  TimerQueue registration_timers_;
  TimerQueue pending_timers_;
  TimerQueue session_timers_;
  std::unique_ptr<ClusterState> cluster_;
  std::map<ResumeKey, Resuming> resuming_;
  std::map<ResumeKey, MeetingHalf> meeting_;
  // Both expire in order of creation (one lifetime for all); an entry
  // renewed since is pushed again when it comes up.
  std::deque<std::pair<TimePoint, ResumeKey>> resuming_expiry_, meeting_expiry_;
  std::optional<TimePoint> resend_resumes_at_;
};

}  // namespace natpunch::rendezvous

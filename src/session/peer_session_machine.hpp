#pragma once
// One peer's whole session as a sans-IO machine on the contract of
// core/transmit.hpp: it never reads a clock and never touches a socket, so
// the real-socket driver (io/peer_session.cpp), the simulator and
// virtual-time tests run the very same code.
//
//   registering      the rendezvous client registers socket 0 (at most
//                    registration_wait); the caller then asks for the peer,
//                    the callee waits for a caller its accept policy takes
//                    (both at most `wait`)
//   punching         session::plan's stages, each a punch strategy started
//                    at its planned time (the strategy's socket i is the
//                    machine's socket i; socket 0 is the registered one, so
//                    its mapping is the endpoint the peer was told)
//   open             punch::SessionChannel carries the data: direct while
//                    the path lives, else through the rendezvous relay;
//                    keepalives, dead-path detection, re-punches (the stage
//                    that connected, re-aimed: punch/repunch_aim.hpp) and
//                    the callee following the caller's proven path
//   closed / failed  after close(), or a typed error before `open`
//
// Candidates (session/candidates.hpp): besides the plan's stages, which
// probe the peer's public address (its srflx and predicted ports), the
// peer's host candidates (IPv6 ones from v6_socket, IPv4 ones when both
// share one NAT) are checked in priority order (session/candidate_checks.hpp)
// from the pairing (as the direct and hole-punch stages start: only the
// birthday stages wait for the common start, session/plan.hpp); the
// first working path opens the session (or
// moves an early-opened one direct), and a better pair that proves itself
// later takes over (best: host v6, host v4, srflx, predicted, relay).
// A path that dies has its pairs checked again beside the re-punch.
//
// Datagrams: on socket 0 from the server -> the rendezvous client; session
// datagrams ('N' 'D') -> the channel (or kept until it exists: the peer may
// finish its punch first); from a checked pair's candidate -> the checks;
// anything else -> the running (or last) punch strategy, which also
// answers a peer that missed its last handshake message.
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <natpunch/session.hpp>

#include "core/rng.hpp"
#include "core/time.hpp"
#include "core/transmit.hpp"
#include "punch/punch_strategy.hpp"
#include "punch/session_channel.hpp"
#include "punch/session_keeper.hpp"
#include "punch/strategies.hpp"
#include "rendezvous/client.hpp"
#include "session/candidate_checks.hpp"
#include "session/candidates.hpp"
#include "session/peer_turn_path.hpp"
#include "session/plan.hpp"
#include "session/turn_route.hpp"
#include "turn/client.hpp"

namespace natpunch::session {

struct SessionConfig {
  bool caller = true;  // connect (asks for `peer`); false: listen (the client's accept policy decides)
  rendezvous::ClientConfig client;            // server, identity, own NAT info, accept policy
  std::optional<rendezvous::PublicKey> peer;  // the caller's callee
  Duration registration_wait = seconds(10);   // for the first registration (at most `wait`)
  Duration wait = seconds(60);                // for the session, from the registration
  PlanOptions plan;                           // plan.relay_only: --force-relay (the peer is told)
  Duration send_interval = punch::kThesisSendInterval;
  std::uint32_t sockets = 256;  // a many-socket strategy's
  // idle_timeout is replaced by the smaller of both sides' NatInfo
  // idle_timeout_ms when either measured one.
  punch::KeepaliveConfig keepalive;
  bool keepalive_enabled = true;
  bool repunch = true;
  Duration repunch_lead = milliseconds(500);
  // Data from the first round trip: Established (on the relay) as soon as
  // the rendezvous pairs the peers; the plan's stages run meanwhile and
  // move the session to the direct path when one connects (RouteChanged).
  bool open_early = false;
  // A relayed session (whose plan had stages) keeps trying to become
  // direct: the caller proposes a re-punch this long after the plan ended
  // (or after the re-punches of a lost path ran out), then twice as long
  // after each failure (at most 10 min). Zero: never.
  Duration upgrade_retry = seconds(30);
  Duration progress_interval = milliseconds(500);  // kPunching reports
  // A TURN relay route (session/turn_route.hpp), preferred over the
  // rendezvous relay once it carries the peer's datagrams: this server
  // (the user's), else, with use_offered_turn, the first the rendezvous
  // offered that speaks turn_transport. Allocated when the session is
  // paired; its links are sockets TurnRoute::kSocket / kSecondSocket.
  std::optional<turn::ClientConfig> turn;
  // With `turn`: its credentials are minted from this TURN REST secret
  // (coturn's static-auth-secret) for each allocation, valid `ttl` -- the
  // first, and each new one when an allocation is lost -- instead of
  // turn->credentials. The machine reads no clock: Unix time is
  // unix_at_start at `start` on the clock `now` is measured on.
  struct TurnSecret {
    std::string secret;
    std::chrono::seconds ttl{600};
    std::int64_t unix_at_start = 0;
    TimePoint start{};
  };
  std::optional<TurnSecret> turn_secret;
  bool use_offered_turn = true;
  turn::Transport turn_transport = turn::Transport::kUdp;
  std::uint64_t seed = 0;  // nonces, port orders, path challenges
  // Our IPv6 socket, when the driver opened one besides socket 0 (which
  // registered, over IPv4): the peer's IPv6 host candidates are checked
  // from it (session/candidates.hpp). Its local endpoints belong in
  // client.info.local_endpoints like socket 0's.
  std::optional<SocketId> v6_socket;
  CandidateChecksConfig checks;  // pacing and retransmissions (session id, key, role: the session's)
};

enum class Phase : std::uint8_t { Registering, WaitingForSession, Punching, Open, Closed, Failed };

namespace session_event {
// A step of opening the session (registered, session ready, strategy
// started / finished, punching progress, waiting for the peer, warnings).
struct Progress {
  SessionProgress progress;
};
// Open: info() is complete; `route` is where data goes first.
struct Established {
  SessionRoute route = SessionRoute::kRelay;
  std::string strategy;
};
struct DataReceived {
  std::vector<std::uint8_t> payload;
};
// The direct path died (relay), came back (re-punch) or moved (the callee
// followed the caller).
struct RouteChanged {
  SessionRoute route = SessionRoute::kRelay;
  std::optional<punch::DirectPath> path;
};
struct PeerClosed {};
struct Closed {};
// Before `open`: no session (kNoAnswer, kServerKeyMismatch, kNoSession, kInterrupted).
struct Failed {
  Error error;
};
}  // namespace session_event

using SessionEvent = std::variant<session_event::Progress, session_event::Established, session_event::DataReceived,
                                  session_event::RouteChanged, session_event::PeerClosed, session_event::Closed,
                                  session_event::Failed>;

class PeerSessionMachine {
 public:
  // Starts registering at `now`.
  PeerSessionMachine(SessionConfig config, rendezvous::RandomBytes random, TimePoint now);
  ~PeerSessionMachine();
  PeerSessionMachine(const PeerSessionMachine&) = delete;
  PeerSessionMachine& operator=(const PeerSessionMachine&) = delete;

  // --- the machine contract
  void on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes);
  std::optional<Transmit> poll_transmit(TimePoint now);
  std::optional<TimePoint> next_deadline() const;
  void on_timer(TimePoint now);
  std::optional<SessionEvent> poll_event();

  // --- the application
  // Seals `payload` for the current route (open only). False when too
  // long, not open or closed.
  bool send(TimePoint now, std::span<const std::uint8_t> payload);
  // Tells the peer (open), unregisters; Closed follows. Idempotent.
  void close(TimePoint now);
  // The host's addresses changed (a phone moved from Wi-Fi to cellular, an
  // interface went away or got a new address): `host` are our host
  // endpoints now. The registration is refreshed at once (the server, and
  // through it the peer, learn where we are), an open session's direct
  // path is given up for the relay and re-punched from there
  // (SessionChannel::on_network_changed), and the candidate pairs are
  // checked again. The stream goes on: a route change, nothing more.
  void on_network_changed(TimePoint now, std::vector<Endpoint> host);
  // The application gives up (Ctrl-C) before the session is open: Failed
  // with kInterrupted, saying how far it got. Nothing once open.
  void interrupt(TimePoint now);

  // --- the driver's rendezvous transport (io/peer_session.cpp)
  // From now on the driver carries the datagrams for the server over a
  // TCP or TLS stream ("tcp" / "tls": UDP got no answer). Registration
  // starts over there, and this side relays only (its UDP does not get
  // through): the peer learns it from the registration's NAT info.
  void use_rendezvous_stream(TimePoint now, const std::string& transport);
  // The driver cannot reach the server another way and knows why (a
  // refused TLS certificate): fails now with kNoAnswer and `message`.
  void rendezvous_unreachable(TimePoint now, std::string message);

  Phase phase() const { return phase_; }
  const SessionInfo& info() const { return info_; }
  SessionStats stats() const;
  // The rendezvous it talks to now (config.client.server, or one of the
  // alternate_servers after a failover), and how often it moved.
  const Endpoint& server() const { return client_.server(); }
  const rendezvous::Client& rendezvous_client() const { return client_; }
  std::uint64_t failovers() const { return failovers_; }
  // Unanswered this long, a registration attempt moves to the next server.
  static constexpr Duration kFailoverAfter = seconds(3);
  // Peers of different families wait this long at most for a candidate check.
  static constexpr Duration kChecksOnlyBound = seconds(2);
  // Sockets any strategy so far used (a driver keeps them open: late
  // handshake messages and re-punches arrive there).
  std::uint32_t sockets_used() const { return sockets_used_; }

  // --- the TURN relay route (nullptr: none configured or offered, or not paired yet)
  const TurnRoute* turn_route() const { return turn_.get(); }
  // The peer's TURN relay reached from our socket 0 (one-sided: we have no
  // TURN route of our own, or it failed); nullptr until the peer's
  // relayed address arrived.
  const PeerTurnPath* peer_turn_path() const { return peer_turn_.get(); }
  // The driver could not open the link to the TURN server / a TCP/TLS link ended.
  // `socket`: which link (TurnRoute::links()).
  void on_turn_link_failed(TimePoint now, SocketId socket, std::string reason);
  void on_turn_connection_closed(TimePoint now, SocketId socket);

 private:
  struct Early {
    bool relayed = false;
    SocketId socket = 0;
    Endpoint from;
    std::vector<std::uint8_t> bytes;
  };
  static constexpr std::size_t kMaxEarly = 256;
  // The peer's addresses our TURN allocation permits (its reflexive and host ones).
  static constexpr std::size_t kMaxPeerPermissions = 4;

  void progress(SessionProgress::Kind kind, std::string message, std::string strategy = {},
                std::string endpoint = {});
  void fail(TimePoint now, ErrorKind kind, std::string message);
  void on_client_events(TimePoint now);
  void on_session_ready(TimePoint now, const rendezvous::ClientSession& session);
  void start_stage(TimePoint now);
  void on_strategy_events(TimePoint now);
  void open(TimePoint now, std::optional<punch::punch_event::Connected> connected);
  void open_channel(TimePoint now, const std::optional<punch::punch_event::Connected>& connected);
  void plan_ended(TimePoint now);
  // When this side began trying: the pairing for the stages and checks
  // that start at once, the common start for birthday stages (a forced
  // relay: the common start).
  TimePoint punch_began() const;
  // The first punch's outcome so far (SessionStats::strategy ...): a direct
  // path at `at` (connected), or the relay once the plan ended.
  void note_first_punch(TimePoint at, bool connected);
  void service_channel(TimePoint now);
  void start_repunch(TimePoint now);
  punch::StrategyParams strategy_params() const;
  void queue_client(TimePoint now);
  // With alternate servers (a cluster's nodes, every record of the
  // server's name): moves to the next one when the current one stopped
  // answering -- refreshes unanswered (`lost`), or a registration attempt
  // unanswered for kFailoverAfter -- and registers there. A server's own
  // refusal (NotRegistered after its restart) keeps it where it is.
  void check_failover(TimePoint now, bool lost);
  std::string server_list() const;
  void note_route(TimePoint now);
  void start_checks(TimePoint start);
  void on_checks(TimePoint now);
  void stop_strategy();
  void start_turn(TimePoint now);
  // Credentials for a new TURN allocation (TurnCredentialSource).
  std::optional<turn::Credentials> fresh_turn_credentials(TimePoint now, const turn::ClientConfig& server);
  std::optional<turn::Credentials> mint_turn_credentials(TimePoint now) const;
  // Offered credentials closer to their end than this: the registration
  // is refreshed at once (the rendezvous offers fresh ones with it).
  static constexpr Duration kOfferFreshness = seconds(120);
  // Announcements, the peer's candidate, what came through TURN, a failure.
  void pump_turn(TimePoint now);
  void relay_out(TimePoint now, std::span<const std::uint8_t> bytes);
  std::string current_strategy() const;

  SessionConfig config_;
  Rng rng_;
  rendezvous::Client client_;
  Phase phase_ = Phase::Registering;
  SessionInfo info_;
  TimePoint registration_deadline_{};
  std::optional<TimePoint> session_deadline_;
  std::optional<rendezvous::ErrorCode> refused_;
  // A Challenge carried another key than the pinned one: the pinned server
  // (if it is there too) gets a grace period, then the registration fails
  // with kServerKeyMismatch (silence would look like a dead server).
  std::optional<rendezvous::PublicKey> mismatched_key_;
  static constexpr Duration kGraceAfterMismatch = seconds(2);
  static constexpr Duration kStreamRegistrationWait = seconds(5);
  std::uint32_t request_id_ = 0;
  std::vector<Endpoint> servers_;  // config.client.server, then the alternates
  std::size_t current_server_ = 0;
  TimePoint attempt_started_{};
  std::uint64_t failovers_ = 0;
  std::optional<std::string> moved_from_;  // said once registered at the next one
  std::optional<TimePoint> last_waiting_notice_;
  rendezvous::ClientSession session_;
  std::optional<Endpoint> observed_;  // socket 0's public endpoint at registration
  // Candidates: the peer's host endpoints (hostile input: capped, used
  // only to name a path) and the checks over the pairs worth checking.
  std::vector<Endpoint> peer_host_;
  std::vector<CandidatePair> pairs_;
  std::unique_ptr<CandidateChecks> checks_;
  std::uint64_t checks_sent_ = 0;  // by check lists that ended
  // What the direct path is (its type and priority); nullopt on the relay.
  std::optional<Candidate> path_candidate_;

  // Punching.
  std::vector<Stage> stages_;
  std::size_t stage_ = 0;
  std::unique_ptr<punch::PunchStrategy> strategy_;  // running, else the last one (late handshakes)
  std::optional<Stage> connected_stage_;
  std::uint64_t probes_total_ = 0;
  std::uint64_t probes_rejected_ = 0;  // by strategies that ended
  std::string stop_reason_;
  // Peers registered over different families: the checks alone, until this.
  std::optional<TimePoint> checks_only_until_;
  std::optional<TimePoint> next_progress_;
  std::vector<Early> early_;
  std::uint32_t sockets_used_ = 1;

  // Open.
  TimePoint paired_at_{};       // SessionInfo arrived: the rendezvous paired us
  bool initial_punching_ = false;  // opened early: the plan's stages still run
  // The first punch as it stands (stats(): the live counterpart of info_,
  // which says how the session opened -- with open_early, before any
  // punch ended).
  struct FirstPunch {
    std::string strategy;
    std::string stop_reason;
    std::uint64_t probes = 0;
    std::optional<Duration> took;  // punch_began() -> direct, or -> the plan's end on the relay
  };
  FirstPunch first_punch_;
  std::optional<TimePoint> upgrade_at_;
  Duration upgrade_backoff_{};
  std::optional<Duration> time_to_direct_;
  std::unique_ptr<punch::SessionChannel> channel_;
  bool ever_direct_ = false;
  std::optional<punch::RepunchOrder> order_;
  std::optional<std::uint32_t> punching_epoch_;
  std::uint64_t repunch_probes_ = 0;
  std::uint64_t observations_seen_ = 0;
  SessionRoute route_ = SessionRoute::kRelay;
  std::optional<punch::DirectPath> path_;
  bool peer_closed_told_ = false;
  std::unique_ptr<TurnRoute> turn_;
  bool turn_told_ = false;  // "relay: TURN via ..." said
  std::optional<Endpoint> peer_relayed_;  // the peer's last RELAY_CANDIDATE (its relayed address)
  std::unique_ptr<PeerTurnPath> peer_turn_;
  bool peer_turn_told_ = false;
  // Relayed traffic goes through TURN (ours or the peer's), not the rendezvous.
  std::string turn_relay_label() const;

  std::deque<Transmit> outbox_;
  std::deque<SessionEvent> events_;
};

static_assert(ProtocolMachine<PeerSessionMachine>);

}  // namespace natpunch::session

#pragma once
// natpunch public API: a UDP session with a peer behind any NAT. Both peers
// register at a rendezvous server (`natpunch rendezvous`); the listener
// accepts, both punch with the strategy their NATs call for, and the
// Session carries datagrams on the direct path, or through the server's
// relay when punching fails. Once open, the session keeps itself alive on a
// background thread: keepalives timed from the smaller of both sides' NAT
// idle timeouts, path-death detection with an immediate fall-back to the
// relay, re-punching, and a return to the direct path when that succeeds.
//
//   natpunch::SessionOptions o;
//   o.rendezvous = "203.0.113.10:7000";
//   o.identity_file = "me.key";                       // created (0600) if missing
//   auto s = natpunch::connect(o, "<listener's 64 hex digits>");
//   if (!s) { std::cerr << s.error().message << "\n"; return 1; }
//   (*s)->send(bytes);                                // direct or relayed
//   if (auto reply = (*s)->receive(std::chrono::seconds(1))) ...;
//   std::cout << ((*s)->route() == natpunch::SessionRoute::kDirect ? "direct" : "relay");
//
// Datagrams, not a stream: no retransmission, no ordering, each payload up
// to kMaxSessionPayload bytes, authenticated (not encrypted) end to end under
// the session key the rendezvous handed both sides.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "natpunch/error.hpp"
#include "natpunch/nat_behavior.hpp"
#include "natpunch/result.hpp"

namespace natpunch {

// Largest application payload per datagram (what the relay can carry once
// the session header and MAC are added).
inline constexpr std::size_t kMaxSessionPayload = 1160;

// What this host's NAT is known to do (`natpunch nat-type`, `natpunch
// measure`, a carrier profile). Unknown fields are fine: an unknown mapping
// first gets a short hole punch.
struct NatDescription {
  // What is stated here refines or overrides what is learned (kUnknown:
  // nothing stated).
  NatBehavior mapping = NatBehavior::kUnknown;
  NatBehavior filtering = NatBehavior::kUnknown;
  // A carrier profile, by name ("kpn-nl": profiles/kpn-nl.json) or as a
  // .json file: tells the peer our port allocator (so it can predict our
  // next ports), and fills in the mapping, filtering and timeouts not given
  // here. Empty: none. An unknown name is kBadInput.
  std::string carrier_profile;
  std::chrono::milliseconds pending_timeout{0};  // 0: not measured
  std::chrono::milliseconds idle_timeout{0};     // established mapping idle timeout; 0: not measured
  // Learn the NAT's mapping, filtering and port allocation before
  // registering, through the rendezvous's STUN (`natpunch rendezvous
  // --stun-alt`; ~0.5 s, once per local address per process); what the
  // fields above state refines or overrides it. false: tell only them.
  bool learn = true;
  // Keep what was learned in this file too and believe it for cache_ttl
  // (empty: in this process only).
  std::string cache_file;
  std::chrono::seconds cache_ttl{600};
};

// What was learned about our NAT before registering, and what the peer is
// told (SessionProgress::kNatLearned).
struct OwnNatReport {
  bool learned = false;  // false: nobody answered the probe (or it was stopped)
  bool cached = false;   // from the cache (NatDescription::cache_file / this process)
  NatBehavior learned_mapping = NatBehavior::kUnknown;
  NatBehavior learned_filtering = NatBehavior::kUnknown;
  std::string learned_ports;  // how the NAT picks ports: "random", "sequential", ...
  std::chrono::microseconds took{0};
  NatBehavior told_mapping = NatBehavior::kUnknown;
  NatBehavior told_filtering = NatBehavior::kUnknown;
  std::string told_allocator;   // the port allocator the peer is told ("uniform:2048-65535"); empty: none
  std::string carrier_profile;  // told carrier profile id; empty: none
  std::chrono::milliseconds told_idle_timeout{0};
  std::vector<std::string> notes;  // also reported as kWarning progress
};

enum class SessionRoute { kDirect, kRelay };
const char* to_string(SessionRoute route);
struct SessionStats;
// "direct", "relay", or "relay (TURN via HOST)" when a TURN server relays.
std::string route_text(const SessionStats& stats);

// One step of opening a session, for progress reports (stderr in the CLI).
struct SessionProgress {
  enum class Kind {
    kIdentity,         // before anything else: `message` is our public key (64 hex digits)
    kIdentityCreated,  // SessionOptions::identity_file did not exist: `message` says where it was created
    kRegistered,       // the rendezvous answered; `endpoint` is how it sees us
    kSessionReady,     // the peer accepted; `endpoint` is the peer's public endpoint
    kStrategyStarted,  // `strategy` begins; `message` says why it was chosen
    kPunching,         // periodic while punching: `elapsed`, `probes_sent`, `sockets_open`
    kStrategyFinished, // `message`: connected to ... / stopped: ...
    kWarning,          // e.g. a socket could not be bound (treated like loss)
    kWaitingForPeer,   // connect: the rendezvous does not know the peer yet (or all its
                       // registrations are busy); asking again until `wait` ends
    kNatLearned,       // before registering: what was learned about our NAT (NatDescription::learn), in `nat`
  };
  Kind kind = Kind::kRegistered;
  std::string message;  // one human-readable line, without the newline
  std::string strategy;
  std::string endpoint;
  std::string transport;  // kRegistered: how the rendezvous was reached, "udp", "tcp" or "tls"
  std::chrono::microseconds elapsed{0};  // since the strategy's start
  std::uint64_t probes_sent = 0;
  std::uint32_t sockets_open = 0;
  std::optional<OwnNatReport> nat;  // kNatLearned
};

struct SessionOptions {
  // Rendezvous server HOST[:PORT] (default port 7000), or several separated
  // by commas (the nodes of a cluster; every address of a name counts too):
  // the session registers at the first and moves to the next when its
  // server stops answering.
  std::string rendezvous;
  // Pin the server's key (64 hex digits it prints); empty: trust on first use.
  std::string server_key;
  // Ed25519 identity file, created with mode 0600 when missing; empty: a
  // fresh identity for this session only.
  std::string identity_file;
  NatDescription nat;
  // Registration plus waiting for the peer / for the listener's answer.
  std::chrono::seconds wait{60};
  // With an unknown NAT on either side, a plain hole punch is tried first
  // for this long (both sides must use the same value).
  std::chrono::milliseconds hole_punch_time{2000};
  // Give up punching (and use the relay) this long after the common start;
  // 0: only the probe budget, which at the default rate lasts minutes.
  std::chrono::milliseconds punch_timeout{10000};
  std::uint64_t probe_budget = 170000;  // per stage
  std::chrono::microseconds send_interval{2980};  // between probes (the thesis's phones)
  std::uint32_t sockets = 256;   // local sockets a many-socket strategy may open
  // Skip punching (tests, hostile networks); the peer is told through the
  // rendezvous and skips it too.
  bool force_relay = false;
  // Data from the first round trip (the default): connect()/listen()
  // return as soon as the rendezvous paired the peers, on the relay;
  // punching and candidate checks go on and move the session to the direct
  // path the moment one is proven (route() and stats() say so;
  // stats().upgrading is true until the first punch ended;
  // info().time_to_first_byte and stats().time_to_direct tell when). A
  // relayed session keeps trying to upgrade with backoff. false: return
  // only when punching ended (direct, or on the relay).
  bool open_early = true;
  // Keepalive interval as a fraction of the smaller idle timeout; the idle
  // timeout defaults to 120 s (RFC 4787 REQ-5) when neither side measured one.
  double keepalive_safety = 0.5;
  std::chrono::milliseconds keepalive_reply_timeout{2000};
  int keepalive_misses_for_dead = 3;
  // false: no keepalives on the direct path (tests; an idle NAT mapping
  // then expires).
  bool keepalive = true;
  bool repunch = true;  // re-punch after the direct path died
  // A TURN server (RFC 8656; coturn) to relay through instead of the
  // rendezvous's own relay: HOST[:PORT] (default 3478, 5349 over TLS), or
  // turn:HOST[:PORT] / turns:HOST[:PORT] (TLS). Both peers announce their
  // relayed address to each other; relayed data goes through TURN once the
  // peer is heard there (stats().relay says "TURN via HOST"), and still
  // moves to a direct path when one is punched. Credentials: turn_secret
  // (the server's static-auth-secret: TURN REST API credentials are
  // minted) or turn_username + turn_password. Empty: the nearest of the
  // relays the rendezvous offers (unless use_offered_turn is false), else
  // the rendezvous's own relay.
  std::string turn_server;
  std::string turn_username, turn_password, turn_secret;
  // With turn_secret: how long each minted credential is valid. A new
  // one is minted for every allocation (the first, and each new one when
  // an allocation is lost), so they never go stale mid-session.
  std::chrono::seconds turn_credential_ttl{600};
  std::string turn_transport = "udp";  // udp, tcp or tls; for offered relays too
  std::string turn_ca_file;            // TLS: PEM of the CA to trust (empty: the system's)
  bool use_offered_turn = true;
  // Called on the calling thread (a Listener: on its own threads, one call
  // at a time).
  std::function<void(const SessionProgress&)> on_progress;
  // Polled while waiting for the peer and while punching; true ends
  // connect()/listen() with kInterrupted.
  std::function<bool()> should_stop;
  // A network that blocks UDP: when the UDP registration gets no answer
  // for 2 s, register over TCP (the server's `rendezvous --tcp`; port 0:
  // the UDP port's number), then over TLS (`--tls`; port 0: not tried),
  // and relay only (connect, listen and each registration of open_listener).
  bool stream_fallback = true;
  std::uint16_t rendezvous_tcp_port = 0;
  std::uint16_t rendezvous_tls_port = 443;
  // PEM file of the CA that signed the server's TLS certificate; empty:
  // the system's CAs. The certificate must name rendezvous_tls_name (empty:
  // the server's address); a refused certificate is an error naming the
  // server, never "no answer".
  std::string rendezvous_tls_ca;
  std::string rendezvous_tls_name;
};

struct SessionInfo {
  std::uint64_t session_id = 0;
  std::string identity;       // own public key, 64 hex digits
  std::string peer;           // the peer's
  std::string observed;       // own public endpoint as the rendezvous saw it
  std::string peer_observed;  // the peer's
  std::string server;         // the rendezvous server's address
  // How this side reached it: "udp", or "tcp" / "tls" when UDP got no
  // answer (a network that blocks UDP; this side then relays only).
  std::string rendezvous_transport = "udp";
  // As the session opened (open_early: at the pairing, when the first
  // stage had just started); SessionStats has them as they stand now.
  std::string strategy;       // last strategy tried ("relay" when forced)
  std::string stop_reason;    // why punching ended without a direct path
  // From when this side began punching: the pairing for a direct connect,
  // a hole punch and candidate checks, the common start for a birthday
  // attack (which both sides must start together).
  std::chrono::microseconds time_to_connect{0};
  // From the moment the rendezvous paired the peers to the moment the
  // session carried data (open_early: at once, over the relay).
  std::chrono::microseconds time_to_first_byte{0};
  std::uint64_t probes_sent = 0;
};

struct SessionStats {
  SessionRoute route = SessionRoute::kRelay;
  std::string peer_endpoint;  // the direct path's peer endpoint (empty while relayed)
  std::uint32_t local_socket = 0;
  std::uint64_t datagrams_sent = 0, bytes_sent = 0;          // application payloads
  std::uint64_t datagrams_received = 0, bytes_received = 0;  // delivered to receive()
  std::uint64_t sent_direct = 0, sent_relay = 0;
  std::uint64_t received_direct = 0, received_relay = 0;
  // Which relay carries the relayed traffic now: empty for the rendezvous
  // server's own relay, "TURN via HOST" for a TURN server (shown as
  // "relay (TURN via HOST)"); and the session datagrams that went through
  // TURN so far (part of sent_relay / received_relay, plus its probes).
  std::string relay;
  std::uint64_t sent_turn = 0, received_turn = 0;
  // Sent on the direct path after the peer was last heard there, when the
  // path was then declared dead (an upper bound: never resent).
  std::uint64_t sent_lost = 0;
  // Gaps in the peer's sequence numbers (reordering beyond 64 counts too).
  std::uint64_t received_lost = 0;
  std::uint64_t duplicates_dropped = 0;
  std::uint64_t queue_dropped = 0;  // arrived while 8192 others waited for receive()
  // Datagrams (of any kind: data, keepalives, probes) the host refused to
  // send: no route, no interface (a phone between networks), no socket.
  std::uint64_t send_failed = 0;
  std::uint64_t keepalives_sent = 0, keepalive_replies = 0;
  std::chrono::milliseconds keepalive_interval{0};
  std::optional<std::chrono::microseconds> rtt;  // latest keepalive round trip on the direct path
  std::uint64_t path_deaths = 0, repunches = 0, repunches_succeeded = 0;
  // From the moment the rendezvous paired the peers to the first direct
  // path (the first punch, or an upgrade of a relayed session); none yet: nullopt.
  std::optional<std::chrono::microseconds> time_to_direct;
  std::uint64_t repunch_probes = 0;
  // The listener moved its direct path to the one the caller's datagrams
  // arrive on (both sides had completed the handshake on different paths,
  // or the caller's NAT rebound), after the caller answered a challenge on
  // it; path_challenges counts the challenges sent (never data) to such
  // paths before they answered.
  std::uint64_t path_switches = 0, path_challenges = 0;
  // Dropped as not authentic (no session key): session datagrams with a bad
  // MAC, another session id or a malformed header; punch probes / acks /
  // confirms likewise (or replayed), in the first punch and re-punches.
  std::uint64_t rejected = 0, probes_rejected = 0;
  // Re-punches aimed at a new endpoint the peer reported (its NAT rebound),
  // and reported endpoints ignored as impossible (0.0.0.0, port 0, ...).
  std::uint64_t peer_endpoint_changes = 0, peer_endpoints_ignored = 0;
  bool peer_closed = false;
  // What carries the data now (issue 19): the type of the peer's candidate
  // the path goes to ("host", "srflx", "predicted"; "relay" while relayed)
  // and its address family ("ipv4", "ipv6"; relayed: the rendezvous's).
  std::string candidate_type = "relay";
  std::string address_family = "ipv4";
  std::uint64_t checks_sent = 0;  // candidate checks (host pairs), all tries
  // The first punch as it stands now (SessionInfo says how the session
  // opened: with open_early that is on the relay, before any punch ended).
  // upgrading: opened on the relay, and the plan's stages or candidate
  // checks still run -- the session may still move direct (after that, a
  // relayed caller retries with backoff, which does not count here).
  bool upgrading = false;
  std::string strategy;     // that made the direct path ("check": a candidate pair), or the last one tried
  std::string stop_reason;  // why it ended without a direct path (empty while upgrading or once direct)
  std::uint64_t probes_sent = 0;
  // From when this side began trying (as SessionInfo::time_to_connect) to
  // the first direct path, or to the end of the plan on the relay; none
  // while upgrading. time_to_connect_from says from when: "pairing" (a
  // direct connect, a hole punch, candidate checks start there) or
  // "common start" (a birthday attack, which both sides start together).
  std::optional<std::chrono::microseconds> time_to_connect;
  std::string time_to_connect_from;
};

class Session {
 public:
  virtual ~Session() = default;
  // Queues nothing: sends at once on the current route. False when closed,
  // too long, or the route refused it (relay not ready).
  virtual bool send(std::span<const std::uint8_t> payload) = 0;
  // The next payload from the peer, or nullopt after `timeout` / once closed.
  virtual std::optional<std::vector<std::uint8_t>> receive(std::chrono::milliseconds timeout) = 0;
  virtual SessionRoute route() const = 0;
  virtual SessionStats stats() const = 0;
  virtual const SessionInfo& info() const = 0;
  // Tells the peer, stops the background thread, closes the sockets.
  // Idempotent; the destructor calls it.
  virtual void close() = 0;
};

// Registers, asks for the listener `peer_public_key` (64 hex digits), punches.
// While the rendezvous answers "unknown peer" (the listener has not
// registered yet, or all its registrations are busy) it asks again every
// 500 ms until `options.wait` ends (progress: kWaitingForPeer). Its
// registration is caller-only: it never receives a caller, so the same
// identity may listen elsewhere at the same time.
Result<std::unique_ptr<Session>, Error> connect(const SessionOptions& options,
                                                       const std::string& peer_public_key);
// Registers and waits for one caller. `allowed` lists callers' keys (64 hex
// digits); empty: accept anyone.
Result<std::unique_ptr<Session>, Error> listen(const SessionOptions& options,
                                                      const std::vector<std::string>& allowed);

// Serves many callers, each in its own Session on its own socket, while the
// same identity may also connect() elsewhere (other threads, same identity
// file). The identity holds several registrations at the rendezvous at
// once: `spare_registrations` waiting ones (each takes one caller, then a
// fresh one replaces it) plus one per open session (it carries the relay),
// plus one per running connect(). The server allows 16 per identity by
// default (ServerLimits::max_registrations_per_identity): so at most about
// 16 - spare sessions and connects at a time; beyond that registrations are
// refused until one closes. A caller arriving while every waiting
// registration is busy gets "unknown peer" and (connect() does) asks again.
//
//   auto l = natpunch::open_listener(o, {});           // accept anyone
//   while (auto s = (*l)->accept(std::chrono::seconds(1))) {
//     if (!*s) continue;                               // timeout: nobody yet
//     std::thread(serve, std::move(*s)).detach();      // a unique_ptr<Session>
//   }                                                  // error: closed / no server
struct ListenerOptions {
  // Registrations waiting for callers at any time (each its own socket):
  // more serve simultaneous callers faster, each costs a registration.
  unsigned spare_registrations = 2;
  // Open sessions waiting for accept(): beyond this no new caller is taken.
  std::size_t max_ready = 8;
};

class Listener {
 public:
  virtual ~Listener() = default;
  // The next open session (punched or relayed), nullptr after `timeout`
  // without one; an error once closed (kInterrupted) or when the rendezvous
  // stopped answering before the first registration (kNoAnswer). Thread-safe.
  virtual Result<std::unique_ptr<Session>, Error> accept(std::chrono::milliseconds timeout) = 0;
  // Own public key, 64 hex digits.
  virtual const std::string& identity() const = 0;
  // Sessions handed out by accept() so far.
  virtual std::uint64_t accepted() const = 0;
  // Stops taking callers and unregisters the waiting registrations;
  // sessions already accepted stay open. Idempotent; the destructor calls it.
  virtual void close() = 0;
};

// Registers (the first registration must succeed within 10 s) and starts
// waiting for callers. `allowed`: callers' keys (64 hex digits); empty:
// anyone. `options.wait` is not a deadline here: the listener waits until
// closed.
Result<std::unique_ptr<Listener>, Error> open_listener(const SessionOptions& options,
                                                              const std::vector<std::string>& allowed,
                                                              const ListenerOptions& listener = {});

}  // namespace natpunch

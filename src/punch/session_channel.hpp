#pragma once
// One end of an open session between two peers, sans-IO: seals application
// payloads into session datagrams (wire/session_datagram.hpp), picks the
// route for each (the direct path while it lives, else the rendezvous
// relay), accepts each of the peer's datagrams once whichever route it took,
// keeps the direct path alive (SessionKeeper) and coordinates re-punching.
// The I/O driver (io/peer_session.cpp) moves the bytes, runs the re-punch
// strategy when told to, and reports how it ended.
//
// Re-punch coordination, all over the relay (the only path both still
// share when the direct one is dead):
//   1. A side whose keepalives go unanswered declares the path dead: its
//      route becomes the relay at once, and (counted as sent_lost) the data
//      it sent directly since it last heard the peer is written off, never
//      resent — so nothing arrives twice.
//   2. Its NAT may have rebound (mappings flushed: the next packet gets a
//      new external port), so it first asks the driver to refresh its
//      rendezvous registration (poll_refresh_request) and waits up to
//      observe_wait for the answer (on_observed): where the server sees it
//      now.
//   3. It proposes REPUNCH{epoch, lead, that endpoint} over the relay
//      (twice), epoch being one more than the last re-punch either side
//      started, and orders its driver to punch `lead` from now.
//   4. The other side, on a REPUNCH with a newer epoch, also moves to the
//      relay and punches `lead` after it arrived: the two starts differ by
//      the relay's one-way delay, which a hole punch (seconds long) absorbs.
//      It refreshes its own observation too and answers REPUNCH-ACK{epoch,
//      its endpoint} (within lead / 2). When both proposed the same epoch,
//      the caller's proposal wins (the callee re-times its start to it; the
//      caller ignores the callee's timing, not its endpoint).
//   5. The driver aims the punch, when it starts, at peer_reported_endpoint()
//      (the newest plausible endpoint the peer reported; nothing plausible:
//      where the peer was last seen) — see punch/repunch_aim.hpp.
//   6. A punch that connects restores the direct route on that side; one
//      that fails is retried after repunch_retry (doubling, up to
//      repunch_attempts times), as a new epoch (from step 2).
// A peer that closes says so (CLOSE on both routes); re-punching stops.
//
// Path following (the callee only, so the two never chase each other):
// when both sides completed the punch on different paths, or the caller's
// NAT rebound to a new port, the caller's datagrams arrive on another path
// than the one we send on. A fresh datagram (a sequence number above any
// seen before: never a duplicate or a late one) from such a path makes it a
// candidate, and a PATH_CHALLENGE with a random token goes there; only the
// matching PATH_RESPONSE, arriving on that very path under the caller's
// direction key, moves our direct path to it. Data never goes to a path
// that has not answered: a replayed or raced datagram from a forged source
// earns its address at most a few challenges (issue 23: one replayed
// datagram used to redirect the whole stream).
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "core/endpoint.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "punch/session_keeper.hpp"
#include "rendezvous/replay_window.hpp"
#include "wire/session_datagram.hpp"

namespace natpunch::punch {

// Where the direct path runs: our local socket and the peer's endpoint.
struct DirectPath {
  std::uint32_t socket = 0;
  Endpoint peer;
  bool operator==(const DirectPath&) const = default;
};

struct SessionChannelConfig {
  std::uint64_t session_id = 0;
  wire::SessionKey key{};
  bool direct = false;  // the punch connected: start on the direct path
  bool caller = false;  // this side asked for the session (wins re-punch ties; seals in the caller's direction)
  bool keepalive = true;
  KeepaliveConfig keepalive_config;
  bool repunch = true;
  Duration repunch_lead = milliseconds(500);
  Duration repunch_retry = seconds(5);
  int repunch_attempts = 6;  // per death, including the first
  // How long a proposal (or acknowledgement) waits for a fresh observation
  // of our public endpoint; zero: none is asked for.
  Duration observe_wait = seconds(1);
  // The punched path (direct): where the punch reached the peer, from which
  // of our sockets. Also the first known endpoint for counting changes.
  std::optional<Endpoint> peer_endpoint;
  std::uint32_t socket = 0;
  // Follow the peer to a path it proves (the callee; see above).
  bool follow_peer = false;
  // Seeds the path challenges' tokens (the driver passes OS randomness).
  std::uint64_t seed = 0;
  // Largest payload send() takes (what the relay carries after header + MAC).
  std::size_t max_payload = 1160;
};

enum class ChannelPath : std::uint8_t { Direct, Relay };

// Direct: send `bytes` out of our socket `socket` to `to`; relay: through
// the rendezvous relay (socket and to unused).
struct ChannelTransmit {
  ChannelPath path = ChannelPath::Direct;
  std::uint32_t socket = 0;
  Endpoint to;
  std::vector<std::uint8_t> bytes;
};

// Tells the driver to punch the direct path again, starting at `start`.
struct RepunchOrder {
  std::uint32_t epoch = 0;
  TimePoint start{};
};

struct ChannelCounters {
  std::uint64_t datagrams_sent = 0, bytes_sent = 0;
  std::uint64_t datagrams_received = 0, bytes_received = 0;
  std::uint64_t sent_direct = 0, sent_relay = 0;
  std::uint64_t received_direct = 0, received_relay = 0;
  std::uint64_t sent_lost = 0;
  std::uint64_t received_lost = 0;
  std::uint64_t duplicates_dropped = 0;
  std::uint64_t rejected = 0;  // bad MAC, wrong session, malformed
  std::uint64_t keepalives_sent = 0, keepalive_replies = 0;
  std::optional<Duration> rtt;
  std::uint64_t path_deaths = 0, repunches = 0, repunches_succeeded = 0;
  std::uint64_t path_challenges = 0;  // PATH_CHALLENGEs sent (to paths the peer's datagrams came by)
  std::uint64_t path_switches = 0;    // our direct path moved to one the peer proved
  std::uint64_t peer_endpoint_changes = 0;  // the peer reported a new public endpoint
  std::uint64_t endpoints_ignored = 0;      // ... or one that cannot be a peer's (0.0.0.0, port 0, multicast)
  bool peer_closed = false;
};

// Could `endpoint` be where a peer is reachable? Not port 0, an unspecified,
// loopback, multicast or broadcast address (a REPUNCH carrying one is still
// followed, aimed where the peer was last seen).
bool plausible_peer_endpoint(const Endpoint& endpoint);

class SessionChannel {
 public:
  SessionChannel(const SessionChannelConfig& config, TimePoint now);

  // Seals `payload` for the current route. False when too long or closed.
  bool send(TimePoint now, std::span<const std::uint8_t> payload);
  // A datagram that came on the direct path (to our socket `socket` from
  // `from`) / a relayed payload of this session. True when it was an
  // authentic datagram of this session (a duplicate too).
  bool on_direct(TimePoint now, std::uint32_t socket, const Endpoint& from, std::span<const std::uint8_t> bytes);
  bool on_relay(TimePoint now, std::span<const std::uint8_t> bytes);

  std::optional<TimePoint> next_deadline() const;
  void on_timer(TimePoint now);

  std::optional<ChannelTransmit> poll_transmit();
  std::optional<std::vector<std::uint8_t>> poll_received();
  std::optional<RepunchOrder> poll_repunch();
  // The driver's punch for `epoch` ended; `path` is where it connected.
  void on_repunch_finished(TimePoint now, std::uint32_t epoch, std::optional<DirectPath> path);
  // The first punch connected while the session already ran on the relay
  // (opened early): data goes direct from now on.
  void on_punched(TimePoint now, const DirectPath& path);
  // A better path than the current one proved to work both ways (an
  // authenticated candidate check, session/candidate_checks.hpp): data goes
  // there from now on, relayed or direct before.
  void on_better_path(TimePoint now, const DirectPath& path);
  // This host's addresses changed (a phone moved networks): a direct path
  // is given up at once (route: the relay; as a death, written off what was
  // sent since the peer was last heard) and re-punched from where the
  // server sees us now, with the re-punch attempts of a death; a relayed
  // session proposes a re-punch too. Nothing when closed or re-punch is off.
  void on_network_changed(TimePoint now);
  // A relayed session tries the direct path (again) though it never died:
  // one REPUNCH proposal as after a death; the peer follows it likewise.
  void propose_upgrade(TimePoint now);
  // A re-punch is under way (ordered, its proposal waits for an
  // observation, or a retry after a failed one is scheduled).
  bool repunching() const { return punching_ || order_.has_value() || propose_at_.has_value() || retry_at_.has_value(); }

  // Our public endpoint as the rendezvous server just answered it (after a
  // refresh this side asked for, or any other).
  void on_observed(TimePoint now, const Endpoint& observed);
  // True (once) when the driver should refresh the registration now.
  bool poll_refresh_request();
  // Where the peer last said it is, if it said anything plausible.
  std::optional<Endpoint> peer_reported_endpoint() const { return peer_reported_; }
  std::optional<Endpoint> observed() const { return observed_; }

  // Tells the peer (both routes) and stops keepalives and re-punches.
  void close(TimePoint now);

  // TURN relay candidates (session/turn_route.hpp): our relayed address as
  // a sealed control datagram for the machine to send over whichever relay
  // it chooses (the channel only seals it); and the peer's, each plausible
  // copy that arrived (a repeat says the peer has not heard us yet).
  std::vector<std::uint8_t> seal_relay_candidate(const Endpoint& relayed);
  std::optional<Endpoint> poll_peer_relay_candidate() { return std::exchange(peer_relay_candidate_, std::nullopt); }

  Route route() const { return route_; }
  // Where direct datagrams go (the last punched or proven path), if any.
  std::optional<DirectPath> path() const { return path_; }
  bool closed() const { return closed_; }
  // Zero without keepalives (relay from the start, or disabled).
  Duration keepalive_interval() const { return keepalive_interval_; }
  const ChannelCounters& counters() const { return counters_; }

 private:
  // A path the peer's fresh datagrams came by, being challenged.
  struct Candidate {
    DirectPath path;
    std::uint64_t token = 0;
    int challenges = 0;
    TimePoint last_challenge{};
  };
  static constexpr std::size_t kMaxCandidates = 4;
  static constexpr int kMaxChallenges = 4;  // per candidate, then it waits for kCandidateRetry
  static constexpr Duration kChallengeInterval = milliseconds(200);
  static constexpr Duration kCandidateRetry = seconds(10);

  bool on_datagram(TimePoint now, std::span<const std::uint8_t> bytes, ChannelPath path,
                   const std::optional<DirectPath>& via);
  void on_control(TimePoint now, const wire::SessionControl& control, ChannelPath path,
                  const std::optional<DirectPath>& via);
  // Direct: to `to` when given, else on path_ (nothing without one).
  void send_control(const wire::SessionControl& control, ChannelPath path,
                    const std::optional<DirectPath>& to = std::nullopt);
  void queue(ChannelPath path, std::uint8_t flags, std::uint64_t sequence, std::span<const std::uint8_t> payload,
             const std::optional<DirectPath>& to = std::nullopt);
  void consider_path(TimePoint now, const DirectPath& via);
  void on_path_response(const DirectPath& via, std::uint64_t token);
  void declare_dead();
  void go_direct(TimePoint now, const DirectPath& path);
  // Proposes once a fresh observation arrived (or observe_wait passed).
  void begin_proposal(TimePoint now);
  void propose_repunch(TimePoint now);
  void send_ack();
  void note_peer_endpoint(std::uint32_t epoch, const std::optional<Endpoint>& endpoint);

  SessionChannelConfig config_;
  wire::SessionDatagramKeys keys_;
  Route route_;
  std::optional<DirectPath> path_;
  std::vector<Candidate> candidates_;
  Rng rng_;
  std::optional<SessionKeeper> keeper_;  // only while a direct path exists or is wanted
  Duration keepalive_interval_{};
  std::uint64_t data_sequence_ = 0, control_sequence_ = 0;
  rendezvous::ReplayWindow data_window_, control_window_;
  std::uint64_t sent_since_heard_ = 0;  // data sent directly since the peer was last heard there
  std::uint32_t epoch_ = 0;             // the latest re-punch either side started
  bool own_proposal_ = false;           // epoch_ is our proposal (ties)
  bool punching_ = false;
  int attempts_left_ = 0;
  Duration retry_delay_{};
  std::optional<TimePoint> retry_at_;
  bool refresh_request_ = false;
  std::optional<TimePoint> propose_at_;  // a proposal waiting for the observation
  std::optional<TimePoint> ack_at_;      // an acknowledgement waiting for it
  std::optional<Endpoint> observed_;
  std::optional<Endpoint> peer_known_;     // the peer's last endpoint (punched or reported)
  std::optional<Endpoint> peer_reported_;  // its last plausible report
  std::uint32_t peer_report_epoch_ = 0;
  bool closed_ = false;
  std::optional<Endpoint> peer_relay_candidate_;  // not yet polled
  std::deque<ChannelTransmit> outbox_;
  std::deque<std::vector<std::uint8_t>> inbox_;
  std::optional<RepunchOrder> order_;
  ChannelCounters counters_;
};

}  // namespace natpunch::punch

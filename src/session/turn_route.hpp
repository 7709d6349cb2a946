#pragma once
// A session's relay route through a TURN server (issue 20 item 3): the one
// piece the session machine consults beside the rendezvous relay. It holds
// a turn::PeerRelay (one allocation, one peer) and the candidate exchange:
//
//   0. Given several servers over UDP (what the rendezvous offered), it
//      first ranks them by one STUN Binding round trip each
//      (turn::RelayRanking, ~1.4 s at most) and allocates on the nearest;
//      the silent ones follow in the order given.
//   1. Our relayed address (CandidateReady) is announced to the peer as a
//      sealed RELAY_CANDIDATE session control (wire/session_datagram.hpp)
//      over the rendezvous relay, and -- once our channel to the peer is
//      bound -- through TURN as well, as a probe. Announcements repeat
//      (1, 2, 4, 4 ... s apart, at most kMaxAnnouncements) until the peer
//      is heard through TURN.
//   2. The peer's candidate (its relayed address) binds our channel to it
//      (set_peer_candidate); a repeat from a peer that has not heard us yet
//      is answered with one probe through TURN.
//   3. The route is usable() once the channel is bound AND an authentic
//      datagram of the peer came through it: the peer then has permitted
//      us too, so what we relay arrives. The machine sends its relayed
//      traffic here while usable(), else through the rendezvous relay.
//   4. A failure before any allocation was made (refused, wrong
//      credentials, the link would not open) ends the route for good with a
//      one-line reason: the session goes on through the rendezvous relay.
//   5. An allocation lost later -- the TCP/TLS link dropped, the server
//      forgot it (437 after a restart, found by a Refresh when the peer
//      goes quiet on a route we send on), refreshes unanswered until it
//      expired -- is replaced: a new allocation on a second link (socket
//      kSecondSocket, or back on kSocket), with fresh credentials from the
//      CredentialSource (minted from a secret, or the rendezvous's latest
//      offer), the peer's candidate bound and its addresses permitted
//      again, our new relayed address announced as in 1. The rendezvous
//      relay carries meanwhile (one warning line, poll_lost). A refresh the
//      server refuses (401/441: it re-checks the credentials' expiry) is
//      make-before-break: the old allocation relays until the new one has
//      heard the peer. Attempts that fail are retried kRetryGaps apart; an
//      attempt refused for its credentials ends the route (poll_failure:
//      one line naming the server) -- static ones at once, those from the
//      source after one more try (an offer may be on its way) -- and so do
//      all retries used up.
//
// One-sided (the peer has no TURN route of its own, or its allocation
// failed: session/peer_turn_path.hpp): the peer sends to our relayed
// address from its UDP socket, its probes echoing our own candidate back
// (a RELAY_CANDIDATE naming our relayed address says "I reach you through
// your relay"). permit_peer() lets the peer's addresses as the rendezvous
// saw them through before anything arrives; the source of each datagram
// the session authenticated (on_heard) is where the channel goes, so a
// peer behind a NAT that maps per destination is answered at the port its
// NAT chose. The peer's probes come every PeerTurnPath::kKeepGap; silent
// for kOneSidedSilence the route stops being usable (one line, from
// poll_failure; it is not ended: the peer's next probe revives it).
//
// The link to the TURN server is the machine's socket kSocket, during a
// replacement kSecondSocket as well (the driver gives each its own UDP
// socket or TCP/TLS stream: io/turn_link.hpp; links() says which).
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/endpoint.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "core/transmit.hpp"
#include "rendezvous/messages.hpp"
#include "turn/client.hpp"
#include "turn/peer_relay.hpp"
#include "turn/relay_ranking.hpp"

namespace natpunch::session {

// The TURN servers a session may use when the user named none: those the
// rendezvous offered that speak `transport`, in the order offered.
std::vector<turn::ClientConfig> offered_turn_servers(const std::vector<rendezvous::TurnServer>& offered,
                                                     turn::Transport transport);

struct TurnRouteCounters {
  std::uint64_t announcements = 0;       // our candidate sent (each route counted once)
  std::uint64_t sent = 0, received = 0;  // session datagrams through TURN
  std::uint64_t allocations = 0;         // made (the first and each replacement)
  std::uint64_t replacements = 0;        // new allocations started because one was lost or expiring
  std::uint64_t liveness_refreshes = 0;  // Refreshes sent because the peer went quiet on TURN
};

// Credentials for a new allocation on `server` at `now` (a replacement):
// fresh ones (minted from a secret, or the rendezvous's latest offer), or
// nullopt to use those the server was configured with.
using TurnCredentialSource = std::function<std::optional<turn::Credentials>(TimePoint now, const turn::ClientConfig& server)>;

// A link the driver should hold open: socket `socket` to config's server
// over its transport. A new `generation` on the same socket is a new link
// (the old one is closed first).
struct TurnLinkWanted {
  SocketId socket = 0;
  std::uint64_t generation = 0;
  const turn::ClientConfig* config = nullptr;
};

// What came through the allocation on link `socket` (see poll_received).
struct TurnReceived {
  turn::RelayedDatagram datagram;
  SocketId socket = 0;
};

class TurnRoute {
 public:
  // The machine's socket ids of the links to the TURN server: far above
  // any punching socket (a strategy uses at most a few thousand).
  static constexpr SocketId kSocket = 0xFFFF;
  static constexpr SocketId kSecondSocket = 0xFFFE;
  static constexpr SocketId kFirstLinkSocket = kSecondSocket;
  static constexpr bool is_link(SocketId socket) { return socket == kSocket || socket == kSecondSocket; }
  static constexpr int kMaxAnnouncements = 10;
  static constexpr Duration kOneSidedSilence = seconds(8);
  // We sent through TURN and heard nothing back for this long: a Refresh
  // asks the server whether it still knows the allocation (at most this often).
  static constexpr Duration kLivenessProbe = seconds(3);
  // Between attempts at a new allocation that failed (the server still
  // restarting); after the last one the route ends.
  static constexpr std::array<Duration, 5> kRetryGaps{milliseconds(500), seconds(1), seconds(2), seconds(4),
                                                      seconds(4)};

  // Bounds the ranking: three Bindings 200 and 400 ms apart, 800 ms for the last answer.
  static constexpr stun::RetransmitPolicy kRankingPolicy{milliseconds(200), 3, 4};

  // `servers`: at least one, all of one transport. `credentials`: for
  // replacement allocations (empty: the configured credentials again).
  TurnRoute(std::vector<turn::ClientConfig> servers, std::uint64_t seed, TimePoint now,
            TurnCredentialSource credentials = {});

  // --- the links to the TURN server (sockets kSocket, kSecondSocket)
  // The links the driver should have open now (one, two while replacing;
  // none once the route failed).
  std::vector<TurnLinkWanted> links() const;
  void on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes);
  // A TCP/TLS connection ended.
  void on_connection_closed(TimePoint now, SocketId socket);
  // The driver could not open the link (`reason`: one line naming the server).
  void on_link_failed(TimePoint now, SocketId socket, std::string reason);
  std::optional<Transmit> poll_transmit(TimePoint now);
  // `announcing`: the session's channel is open (announcements can go).
  std::optional<TimePoint> next_deadline(bool announcing) const;
  void on_timer(TimePoint now);

  // --- the session
  // The peer's RELAY_CANDIDATE (every copy that arrived).
  void set_peer_candidate(TimePoint now, const Endpoint& peer);
  // The peer's addresses as the rendezvous saw them (its reflexive one,
  // its host ones): permitted at the server, so a peer without a TURN
  // route of its own can reach our relayed address. Bounded by PeerRelay.
  void permit_peer(TimePoint now, const IpAddress& address);
  // Our candidate, when it is due to be (re)sent: over the rendezvous
  // relay always, through TURN too when `through_turn` (send_probe).
  struct Announcement {
    Endpoint relayed;
    bool through_turn = false;
    // Over the rendezvous relay too (not once TURN carries the session:
    // the peer hears us there; again while a replacement is announced).
    bool over_rendezvous = true;
  };
  std::optional<Announcement> poll_announcement(TimePoint now);
  // Relays one sealed session datagram to the peer; false unless the
  // channel is bound (or too long).
  bool send(TimePoint now, std::span<const std::uint8_t> bytes);
  // An announcement through TURN: by the allocation being announced
  // (a replacement's, once it can send), else the one carrying the route.
  bool send_probe(TimePoint now, std::span<const std::uint8_t> bytes);
  // What came through an allocation from the peer's IP (not yet
  // authenticated: the machine's channel does that, then calls on_heard
  // with where it came from and its link).
  std::optional<TurnReceived> poll_received();
  void on_heard(TimePoint now, const Endpoint& from, SocketId socket = kSocket);
  // Why the route ended (once; one line).
  std::optional<std::string> poll_failure();
  // An allocation was lost or is expiring and a new one is being made
  // (one line each time; the route goes on).
  std::optional<std::string> poll_lost();
  // The ranking's outcome (once; one line), for the session's progress.
  std::optional<std::string> poll_note();
  // Deletes the allocation(s) (the session closes).
  void close(TimePoint now);

  bool usable() const;
  // The peer reaches us through our relay from its own UDP socket.
  bool one_sided() const { return one_sided_; }
  bool failed() const { return failed_; }
  bool ranking() const { return ranking_.has_value(); }
  // A new allocation is being made (the old one lost or expiring).
  bool replacing() const { return next_.has_value() || retry_at_.has_value(); }
  // "TURN via 203.0.113.5:3478" (or the server's name): the chosen server
  // (while ranking: the first given).
  const std::string& label() const { return label_; }
  // The server's name, else its address.
  const std::string& server_text() const { return server_text_; }
  const turn::ClientConfig& config() const { return servers_[chosen_]; }
  const std::vector<turn::ClientConfig>& servers() const { return servers_; }
  // The relayed address we announce: a replacement's once it has one,
  // else the current allocation's.
  std::optional<Endpoint> candidate() const;
  // The allocation carrying the route (nullptr while ranking, or between
  // a lost allocation and its replacement).
  const turn::PeerRelay* relay() const { return current_ && current_->relay ? &*current_->relay : nullptr; }
  const TurnRouteCounters& counters() const { return counters_; }

 private:
  // One allocation and its link.
  struct Lane {
    // User-provided: with only the default member initializers clang finds
    // Lane not default-constructible inside TurnRoute (optional::emplace()).
    Lane() {}
    SocketId socket = kSocket;
    std::uint64_t generation = 0;
    turn::ClientConfig config;
    std::optional<turn::PeerRelay> relay;
    bool allocated = false;  // its CandidateReady came
    bool heard = false;      // an authentic datagram of the peer came through it
  };

  void service(TimePoint now);
  void service_lane(TimePoint now, Lane& lane, bool is_next);
  void fail(std::string reason);
  void announce_soon(TimePoint now, bool restart);
  void choose(TimePoint now, std::size_t index);
  void check_ranking(TimePoint now);
  Lane& open_lane(TimePoint now, std::optional<Lane>& slot, SocketId socket, const turn::ClientConfig& config);
  // The current allocation is lost (`why`): drop it, replace it.
  void lose_current(TimePoint now, const std::string& why);
  void start_replacement(TimePoint now);
  // A replacement attempt failed (`why`): retry later, or end the route.
  void replacement_failed(TimePoint now, const turn::TurnError& error);
  void promote(TimePoint now);
  Lane* lane_of(SocketId socket);
  Lane* sending_lane();

  std::vector<turn::ClientConfig> servers_;
  std::size_t chosen_ = 0;
  std::string server_text_;
  std::string label_;
  Rng rng_;
  TurnCredentialSource credentials_;
  std::optional<turn::RelayRanking> ranking_;
  std::optional<Lane> current_;
  std::optional<Lane> next_;  // the replacement being made
  std::uint64_t generations_ = 0;
  int attempts_ = 0;                  // replacement attempts failed in a row
  std::optional<TimePoint> retry_at_;  // the next replacement attempt
  std::optional<std::string> give_up_;  // no replacement possible: the route ends with the current allocation
  SocketId last_socket_ = kSocket;      // of the last allocation started
  bool ever_allocated_ = false;
  std::optional<Endpoint> peer_;      // where the channel goes (the peer's candidate, or where it was heard)
  std::vector<IpAddress> permits_;    // permit_peer()'s addresses (bounded)
  std::optional<std::string> note_;
  bool heard_ = false;
  bool failed_ = false;
  std::optional<std::string> failure_;  // not yet polled
  std::optional<std::string> lost_;     // not yet polled
  std::optional<TimePoint> announce_at_;
  int announcements_ = 0;
  Duration announce_gap_{};
  std::optional<TimePoint> last_answer_;
  bool one_sided_ = false;
  std::optional<TimePoint> last_heard_;
  std::optional<TimePoint> unanswered_since_;  // sent through TURN, nothing heard since
  std::optional<TimePoint> last_liveness_;     // the last liveness Refresh
  TurnRouteCounters counters_;
};

}  // namespace natpunch::session

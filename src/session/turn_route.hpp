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
//   4. A failure (allocation refused or lost, the link to the server
//      broken) ends the route for good with a one-line reason: the session
//      goes on through the rendezvous relay.
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
// The link to the TURN server is the machine's socket kSocket (the driver
// gives it its own UDP socket or TCP/TLS stream: io/turn_link.hpp).
#include <cstdint>
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
};

class TurnRoute {
 public:
  // The machine's socket id of the link to the TURN server: far above any
  // punching socket (a strategy uses at most a few thousand).
  static constexpr SocketId kSocket = 0xFFFF;
  static constexpr int kMaxAnnouncements = 10;
  static constexpr Duration kOneSidedSilence = seconds(8);

  // Bounds the ranking: three Bindings 200 and 400 ms apart, 800 ms for the last answer.
  static constexpr stun::RetransmitPolicy kRankingPolicy{milliseconds(200), 3, 4};

  // `servers`: at least one, all of one transport.
  TurnRoute(std::vector<turn::ClientConfig> servers, std::uint64_t seed, TimePoint now);

  // --- the link to the TURN server (socket kSocket)
  void on_datagram(TimePoint now, const Endpoint& from, std::span<const std::uint8_t> bytes);
  // A TCP/TLS connection ended.
  void on_connection_closed(TimePoint now);
  // The driver could not open the link (`reason`: one line naming the server).
  void on_link_failed(std::string reason);
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
  // relay always, through TURN too when `through_turn`.
  struct Announcement {
    Endpoint relayed;
    bool through_turn = false;
    // Over the rendezvous relay too (not once TURN carries the session:
    // the peer hears us there).
    bool over_rendezvous = true;
  };
  std::optional<Announcement> poll_announcement(TimePoint now);
  // Relays one sealed session datagram to the peer; false unless the
  // channel is bound (or too long).
  bool send(TimePoint now, std::span<const std::uint8_t> bytes);
  // What came through the allocation from the peer's IP (not yet
  // authenticated: the machine's channel does that, then calls on_heard
  // with where it came from).
  std::optional<turn::RelayedDatagram> poll_received();
  void on_heard(TimePoint now, const Endpoint& from);
  // Why the route ended (once; one line).
  std::optional<std::string> poll_failure();
  // The ranking's outcome (once; one line), for the session's progress.
  std::optional<std::string> poll_note();
  // Deletes the allocation (the session closes).
  void close(TimePoint now);

  bool usable() const { return !failed_ && relay_ && relay_->can_send() && heard_; }
  // The peer reaches us through our relay from its own UDP socket.
  bool one_sided() const { return one_sided_; }
  bool failed() const { return failed_; }
  bool ranking() const { return ranking_.has_value(); }
  // "TURN via 203.0.113.5:3478" (or the server's name): the chosen server
  // (while ranking: the first given).
  const std::string& label() const { return label_; }
  // The server's name, else its address.
  const std::string& server_text() const { return server_text_; }
  const turn::ClientConfig& config() const { return servers_[chosen_]; }
  const std::vector<turn::ClientConfig>& servers() const { return servers_; }
  std::optional<Endpoint> candidate() const { return relay_ ? relay_->candidate() : std::nullopt; }
  // nullptr while ranking.
  const turn::PeerRelay* relay() const { return relay_ ? &*relay_ : nullptr; }
  const TurnRouteCounters& counters() const { return counters_; }

 private:
  void service(TimePoint now);
  void fail(std::string reason);
  void announce_soon(TimePoint now, bool restart);
  void choose(TimePoint now, std::size_t index);
  void check_ranking(TimePoint now);

  std::vector<turn::ClientConfig> servers_;
  std::size_t chosen_ = 0;
  std::string server_text_;
  std::string label_;
  Rng rng_;
  std::optional<turn::RelayRanking> ranking_;
  std::optional<turn::PeerRelay> relay_;
  std::optional<Endpoint> pending_peer_;  // arrived while ranking
  std::optional<std::string> note_;
  bool heard_ = false;
  bool failed_ = false;
  std::optional<std::string> failure_;  // not yet polled
  std::optional<TimePoint> announce_at_;
  int announcements_ = 0;
  Duration announce_gap_{};
  std::optional<TimePoint> last_answer_;
  std::vector<IpAddress> pending_permits_;  // arrived while ranking
  bool one_sided_ = false;
  std::optional<TimePoint> last_heard_;
  TurnRouteCounters counters_;
};

}  // namespace natpunch::session

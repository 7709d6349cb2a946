#pragma once
// A session's relay route through a TURN server (issue 20 item 3): the one
// piece the session machine consults beside the rendezvous relay. It holds
// a turn::PeerRelay (one allocation, one peer) and the candidate exchange:
//
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

namespace natpunch::session {

// The TURN server a session uses, when the user named none: the first
// server the rendezvous offered that speaks `transport` (the rendezvous
// lists them in its configured order). nullopt when none does.
std::optional<turn::ClientConfig> choose_offered_turn_server(const std::vector<rendezvous::TurnServer>& offered,
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

  TurnRoute(turn::ClientConfig config, std::uint64_t seed, TimePoint now);

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
  // Our candidate, when it is due to be (re)sent: over the rendezvous
  // relay always, through TURN too when `through_turn`.
  struct Announcement {
    Endpoint relayed;
    bool through_turn = false;
  };
  std::optional<Announcement> poll_announcement(TimePoint now);
  // Relays one sealed session datagram to the peer; false unless the
  // channel is bound (or too long).
  bool send(TimePoint now, std::span<const std::uint8_t> bytes);
  // What came through the allocation from the peer's IP (not yet
  // authenticated: the machine's channel does that, then calls on_heard).
  std::optional<std::vector<std::uint8_t>> poll_received();
  void on_heard(TimePoint now);
  // Why the route ended (once; one line).
  std::optional<std::string> poll_failure();
  // Deletes the allocation (the session closes).
  void close(TimePoint now);

  bool usable() const { return !failed_ && relay_.ready() && heard_; }
  bool failed() const { return failed_; }
  // "TURN via 203.0.113.5:3478" (or the server's name).
  const std::string& label() const { return label_; }
  // The server's name, else its address.
  const std::string& server_text() const { return server_text_; }
  const turn::ClientConfig& config() const { return config_; }
  const std::optional<Endpoint>& candidate() const { return relay_.candidate(); }
  const turn::PeerRelay& relay() const { return relay_; }
  const TurnRouteCounters& counters() const { return counters_; }

 private:
  void service(TimePoint now);
  void fail(std::string reason);
  void announce_soon(TimePoint now, bool restart);

  turn::ClientConfig config_;
  std::string server_text_;
  std::string label_;
  Rng rng_;
  turn::PeerRelay relay_;
  bool heard_ = false;
  bool failed_ = false;
  std::optional<std::string> failure_;  // not yet polled
  std::optional<TimePoint> announce_at_;
  int announcements_ = 0;
  Duration announce_gap_{};
  std::optional<TimePoint> last_answer_;
  TurnRouteCounters counters_;
};

}  // namespace natpunch::session

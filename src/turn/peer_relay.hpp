#pragma once
// A session's relay route through a TURN server (issue 20 item 3), sans-IO
// on the machine contract: one allocation, one peer. It is the piece a
// session machine holds beside (or instead of) the rendezvous relay:
//
//   1. Constructed, it allocates. CandidateReady gives our relayed address:
//      the session tells the peer (over the rendezvous, as a candidate).
//   2. set_peer() with the peer's candidate (its relayed address when it
//      uses TURN too, else its public address) binds a channel to it,
//      which also permits its IP. Ready follows: send() now goes through
//      the TURN server; until then it returns false and the session keeps
//      using its other route.
//   3. What arrives through the allocation from the peer's IP (any port: a
//      NAT may map the peer's datagrams to the relay from another port than
//      the one it reported) is handed out by poll_received(); the session
//      authenticates it as it does any datagram. Other sources are dropped.
//   4. Failed (one line naming the server, from the TURN client) ends the
//      route; the session falls back to the rendezvous relay.
//
// One-sided (the peer has no allocation of its own and sends to our
// relayed address from its UDP socket): permit() the peer's addresses as
// the rendezvous saw them before anything arrives (coturn drops what an
// unpermitted IP sends); once the session authenticated a datagram from
// the peer, set_peer() with its source binds the channel there. Until the
// binding is confirmed send() relays in Send indications to a permitted IP.
//
// The machine's socket 0 is the link to the TURN server (a UDP socket, or
// a TCP/TLS stream the driver frames through: io/turn_link.hpp).
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/endpoint.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "core/transmit.hpp"
#include "turn/client.hpp"

namespace natpunch::turn {

namespace peer_relay_event {
// Our relay candidate: tell the peer.
struct CandidateReady {
  Endpoint relayed;
  std::optional<Endpoint> mapped;  // our address as the TURN server sees it
};
// The channel to the peer is bound: send() relays.
struct Ready {
  Endpoint peer;
  std::uint16_t channel = 0;
};
// The server refused to refresh the allocation (e.g. 401 for credentials
// that expired since): it still relays until it runs out, then Failed.
struct Expiring {
  TurnError error;
};
// The route is gone (allocation failed or lost, channel refused).
struct Failed {
  TurnError error;
};
}  // namespace peer_relay_event

using PeerRelayEvent = std::variant<peer_relay_event::CandidateReady, peer_relay_event::Ready,
                                    peer_relay_event::Expiring, peer_relay_event::Failed>;

// What came through the allocation, and from where (the peer's source as
// the TURN server saw it).
struct RelayedDatagram {
  Endpoint from;
  std::vector<std::uint8_t> payload;
};

struct PeerRelayCounters {
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::uint64_t foreign_dropped = 0;  // relayed to us from another IP than the peer's
};

class PeerRelay {
 public:
  static constexpr std::size_t kMaxInbox = 256;
  // permit() keeps at most this many addresses (the peer's are few).
  static constexpr std::size_t kMaxPermitted = 8;

  // Starts allocating at `now`. `rng` must outlive the relay.
  PeerRelay(ClientConfig config, Rng& rng, TimePoint now);

  // The peer's candidate; again with another one (its relay moved) rebinds.
  void set_peer(TimePoint now, const Endpoint& peer);
  // Lets `address` reach the relayed address (a CreatePermission, kept
  // alive) and accepts what comes from it. Bounded: kMaxPermitted.
  void permit(TimePoint now, const IpAddress& address);
  // Relays `payload` to the peer; false unless can_send() (or too long).
  bool send(TimePoint now, std::span<const std::uint8_t> payload);
  std::optional<RelayedDatagram> poll_received();
  // Deletes the allocation.
  void close(TimePoint now);
  // Refreshes the allocation now: an answer says whether the server still
  // knows it (437 after a restart: Failed).
  void refresh(TimePoint now) { client_.refresh(now); }

  bool ready() const { return ready_; }
  // The channel is bound, or the server confirmed a permission for the
  // peer's IP (what we send then goes in Send indications).
  bool can_send() const;
  bool failed() const { return failed_; }
  const std::optional<Endpoint>& candidate() const { return client_.relayed_address(); }
  const std::optional<Endpoint>& peer() const { return peer_; }
  const PeerRelayCounters& counters() const { return counters_; }
  const Client& client() const { return client_; }

  // The machine contract (socket 0: the TURN server).
  void on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes);
  std::optional<Transmit> poll_transmit(TimePoint now) { return client_.poll_transmit(now); }
  std::optional<TimePoint> next_deadline() const { return client_.next_deadline(); }
  void on_timer(TimePoint now);
  std::optional<PeerRelayEvent> poll_event();
  // Stream transports: the connection ended.
  void on_connection_closed(TimePoint now);

 private:
  void service(TimePoint now);
  void fail(TurnError error);

  Client client_;
  std::optional<Endpoint> peer_;
  std::vector<IpAddress> permitted_;  // asked for by permit()
  std::vector<IpAddress> installed_;  // confirmed by the server (permit() or a channel)
  bool ready_ = false;
  bool failed_ = false;
  std::deque<RelayedDatagram> inbox_;
  std::deque<PeerRelayEvent> events_;
  PeerRelayCounters counters_;
};

static_assert(ProtocolMachine<PeerRelay>);

}  // namespace natpunch::turn

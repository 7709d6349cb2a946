#pragma once
// The peer's TURN relay reached from our own UDP socket: the one-sided TURN
// route (issue 20 item 3) for a session whose peer has an allocation and
// we have none (none configured, --no-offered-turn, or ours failed). The
// common real case: a phone whose network blocks UDP relays through TURN
// over TLS, and the other phone, on an ordinary NAT, sends to that relayed
// address like to any other candidate.
//
//   1. The peer's RELAY_CANDIDATE (its relayed address) starts the path:
//      we probe it from socket 0 with a sealed RELAY_CANDIDATE naming that
//      same address ("I reach you through your relay"), at once, then 1,
//      2, 4, 4 ... s apart, at most kMaxProbes, until the peer answers.
//      The probe opens our NAT towards the relay, and tells the peer where
//      our datagrams come from (its TURN server must have permitted our IP
//      before: session/turn_route.hpp permits the addresses the rendezvous
//      saw).
//   2. An authentic session datagram from the relayed address (the machine
//      checks it) makes the path usable(): relayed traffic goes there
//      instead of through the rendezvous relay.
//   3. Usable, we probe every kKeepGap: it keeps our NAT's mapping and the
//      peer's view of us alive, and the peer answers each. Nothing heard for
//      kSilence: not usable (one line, from poll_lost), probing starts over.
//
// Sans-IO: no socket, no clock; the machine sends what poll_probe asks for.
#include <cstdint>
#include <optional>
#include <string>

#include "core/endpoint.hpp"
#include "core/time.hpp"

namespace natpunch::session {

struct PeerTurnPathCounters {
  std::uint64_t probes = 0;
  std::uint64_t sent = 0, received = 0;  // session datagrams (probes not counted as sent)
};

class PeerTurnPath {
 public:
  static constexpr int kMaxProbes = 10;
  static constexpr Duration kKeepGap = milliseconds(2500);
  static constexpr Duration kSilence = seconds(8);

  PeerTurnPath(const Endpoint& relayed, TimePoint now);

  // The peer's relayed address (again): another address starts over; the
  // same one while not heard asks for a probe soon (at most every 500 ms).
  void set_relayed(TimePoint now, const Endpoint& relayed);
  const Endpoint& relayed() const { return relayed_; }

  // True when a probe is due now (the machine seals and sends it).
  bool poll_probe(TimePoint now);
  // An authentic datagram of the session came from relayed().
  void on_heard(TimePoint now);
  // Relayed traffic went this way.
  void on_sent() { ++counters_.sent; }

  std::optional<TimePoint> next_deadline() const;
  void on_timer(TimePoint now);
  // Why a usable path stopped being usable (once; one line).
  std::optional<std::string> poll_lost();

  bool usable() const { return heard_; }
  // "TURN via the peer's relay 203.0.113.10:49152 (one-sided)".
  std::string label() const;
  const PeerTurnPathCounters& counters() const { return counters_; }

 private:
  void restart(TimePoint now);

  Endpoint relayed_;
  bool heard_ = false;
  std::optional<TimePoint> last_heard_;
  std::optional<TimePoint> probe_at_;
  std::optional<TimePoint> last_early_probe_;
  int probes_unheard_ = 0;
  Duration gap_{};
  std::optional<std::string> lost_;
  PeerTurnPathCounters counters_;
};

}  // namespace natpunch::session

#pragma once
// The links of a session's TURN route (session/turn_route.hpp) on real
// sockets: one io::TurnLink per socket id the route wants (one, two while a
// lost allocation is replaced next to the old one), opened when the route
// first names it, closed once the route stops naming it (or names a new
// generation on that id: a new link for a new allocation). A TCP connect
// and TLS handshake never block the loop: the link is started
// (TurnLink::start), watched, and advanced at each reconcile until it is
// ready or fails (a server that drops SYNs costs the other paths nothing);
// what the route sends meanwhile waits in the link. The session loop
// (io/peer_session.cpp) asks it to reconcile, send, read and flush, and
// wakes by next_deadline(); the machine hears each failed open and each
// ended stream with the link's socket id.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/transmit.hpp"
#include "io/punch_driver.hpp"
#include "io/turn_link.hpp"
#include "session/peer_session_machine.hpp"

namespace natpunch::io {

class TurnRouteLinks {
 public:
  struct Options {
    std::string ca_file;  // TLS: the CA to check the server with (empty: the system's)
    Duration connect_timeout = seconds(5);
  };
  // How often a link whose TCP connect is under way is looked at (the loop
  // wakes for its readability -- a refused connect, the server's TLS
  // records -- but not for a connect that succeeded).
  static constexpr Duration kConnectingPoll = milliseconds(10);

  TurnRouteLinks(PunchDriver& driver, Options options) : driver_(driver), options_(std::move(options)) {}
  ~TurnRouteLinks();
  TurnRouteLinks(const TurnRouteLinks&) = delete;
  TurnRouteLinks& operator=(const TurnRouteLinks&) = delete;

  // Starts what the machine's TURN route wants and is not open, advances
  // the links not yet ready (a failure is told to the machine), closes
  // what it no longer wants.
  void reconcile(session::PeerSessionMachine& machine);
  // When reconcile() wants to run again while a link is not yet ready.
  std::optional<TimePoint> next_deadline(TimePoint now) const;
  // A transmit to one of the links (false: not a TURN link's socket).
  bool send(const Transmit& transmit);
  void flush();
  // Hands what arrived on every link to the machine (bounded per link);
  // an ended stream is told once.
  void read(session::PeerSessionMachine& machine);
  bool empty() const { return links_.empty(); }

 private:
  struct Open {
    std::uint64_t generation = 0;
    std::unique_ptr<TurnLink> link;  // null: the open failed (not tried again for this generation)
    // Not ready yet (TurnLink::advance): traffic waits in the link.
    bool watched = false;
  };
  void close(Open& open);

  PunchDriver& driver_;
  Options options_;
  std::map<SocketId, Open> links_;
};

}  // namespace natpunch::io

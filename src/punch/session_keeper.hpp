#pragma once
// After a punch succeeds: keeps the NAT mappings of the direct path alive,
// notices when the path dies, and tracks whether data goes direct or
// through the relay. Sans-IO: the session driver feeds it what it sees and
// does what it asks (send a keepalive, start a re-punch).
//
// Keepalive interval = idle timeout x safety (default one half), where the
// idle timeout is the measured or profiled *established* timeout (Table IV:
// KPN 239 s -> a keepalive every ~120 s; Telia roaming 5 s -> 2.5 s), never
// below min_interval. Any datagram we send on the direct path refreshes our
// NAT's mapping and any datagram from the peer proves the path, so a
// keepalive is due only when one of the two has been quiet for an interval
// (a one-way stream still gets its liveness checked). A keepalive unanswered within
// reply_timeout is a miss; `misses_for_dead` misses in a row declare the
// path dead: the route falls back to the relay and a re-punch is asked for
// (once per death). When a later punch succeeds the route goes back to direct.
#include <cstdint>
#include <optional>

#include "core/time.hpp"

namespace natpunch::punch {

struct KeepaliveConfig {
  Duration idle_timeout = seconds(120);  // RFC 4787 REQ-5's floor when nothing was measured
  double safety = 0.5;                   // fraction of the idle timeout between keepalives
  Duration min_interval = seconds(1);
  Duration reply_timeout = seconds(2);
  int misses_for_dead = 3;
};

enum class Route : std::uint8_t { Direct, Relay };
enum class PathState : std::uint8_t { Alive, Dead };
enum class KeeperAction : std::uint8_t { SendKeepalive, RequestRepunch };

class SessionKeeper {
 public:
  // The punch succeeded at `now`: direct and alive.
  SessionKeeper(const KeepaliveConfig& config, TimePoint now);

  Duration keepalive_interval() const { return interval_; }
  std::optional<TimePoint> next_deadline() const;
  // What to do at `now`, if anything (call again until nullopt).
  std::optional<KeeperAction> on_timer(TimePoint now);

  void on_sent_direct(TimePoint now);      // any datagram sent on the direct path
  void on_received_direct(TimePoint now);  // any datagram from the peer on the direct path
  void on_direct_restored(TimePoint now);  // a re-punch succeeded
  // The peer says the path died (its keepalives went unanswered): relay at
  // once, no re-punch request of our own (the peer's is under way).
  void on_peer_reported_dead();

  Route route() const { return route_; }
  PathState state() const { return state_; }
  int misses() const { return misses_; }

 private:
  KeepaliveConfig config_;
  Duration interval_;
  Route route_ = Route::Direct;
  PathState state_ = PathState::Alive;
  TimePoint next_keepalive_;
  TimePoint last_heard_;
  std::optional<TimePoint> reply_due_;  // a keepalive is waiting for its answer
  int misses_ = 0;
};

}  // namespace natpunch::punch

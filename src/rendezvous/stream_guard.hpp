#pragma once
// Who may hold a stream connection (TCP or TLS) to the rendezvous server,
// and for how long: the server's stream listeners ask it before they serve
// a connection and close what it expires. Sans-IO (time is passed in), so
// the limits are tested in virtual time.
//
// - at most max_connections at once, and one subscriber (an IPv4 address,
//   an IPv6 /64: core/source_key.hpp) at most a share of them;
// - slowloris: a connection must deliver its first whole frame (after the
//   TLS handshake) within first_frame_timeout; a frame it started must be
//   whole within frame_timeout; and a whole frame must arrive at least
//   every idle_timeout (clients refresh every 30 s). Bytes that do not
//   complete a frame never extend a deadline.
//
// What a connection says is limited by the rendezvous server itself, as
// over UDP: the connection is its source (address and port).
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/endpoint.hpp"
#include "core/source_key.hpp"
#include "core/time.hpp"

namespace natpunch::rendezvous {

struct StreamLimits {
  std::size_t max_connections = 4096;
  // The share of max_connections one subscriber may hold (at least 4): a
  // carrier NAT puts thousands of phones behind one address.
  double per_address = 1.0 / 64;
  Duration first_frame_timeout = seconds(10);
  Duration frame_timeout = seconds(10);
  Duration idle_timeout = seconds(90);
};

struct StreamCounters {
  std::uint64_t accepted = 0;
  std::uint64_t refused_full = 0;       // max_connections reached
  std::uint64_t refused_address = 0;    // the subscriber's share reached
  std::uint64_t timed_out_first = 0;    // no whole first frame in time
  std::uint64_t timed_out_frame = 0;    // a frame left incomplete too long
  std::uint64_t timed_out_idle = 0;     // no frame for idle_timeout
};

class StreamGuard {
 public:
  StreamGuard(StreamLimits limits, std::uint64_t hash_seed);

  // A new connection from `peer`: its number (never 0), or nullopt when
  // the table or the subscriber's share is full (close it at once).
  std::optional<std::uint64_t> admit(TimePoint now, const IpAddress& peer);
  // Bytes arrived on `id`: `whole_frames` completed frames, and whether a
  // partial frame is left over.
  void on_bytes(TimePoint now, std::uint64_t id, std::size_t whole_frames, bool partial);
  // The driver closed it (the peer left, a framing or TLS error).
  void close(std::uint64_t id);
  // The connections past their deadline, removed from the table: the
  // driver closes them. Scans the table (bounded by max_connections); the
  // driver calls it about once a second.
  std::vector<std::uint64_t> expire(TimePoint now);

  std::size_t open() const { return connections_.size(); }
  std::size_t open_from(const IpAddress& address) const;
  std::size_t address_cap() const;
  const StreamCounters& counters() const { return counters_; }
  const StreamLimits& limits() const { return limits_; }

 private:
  struct Connection {
    SourceKey subscriber{};
    TimePoint accepted{};
    std::optional<TimePoint> last_frame;
    std::optional<TimePoint> partial_since;  // a frame started and not yet whole
  };
  enum class Reason { kFirst, kFrame, kIdle };
  // When `c` must close, and why.
  std::pair<TimePoint, Reason> deadline(const Connection& c) const;
  void release(const SourceKey& subscriber);

  StreamLimits limits_;
  std::unordered_map<std::uint64_t, Connection> connections_;
  std::unordered_map<SourceKey, std::size_t, SourceKeyHash> per_subscriber_;
  std::uint64_t next_id_ = 0;
  StreamCounters counters_;
};

}  // namespace natpunch::rendezvous

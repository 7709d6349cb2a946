#pragma once
// The measurement server's logic (`natpunch measure-server`), sans-IO: fed
// (now, datagram, source, receiving socket), it returns at most one reply
// now, keeps delayed replies and scheduled probes in a bounded queue that
// the driver drains with take_due(now), and hands every mapping-collection
// packet to a sink.
//
// The driver owns `socket_count` sockets (index 0 is the main port, the rest
// the collection range); a reply is sent from the socket it names.
//
// Hardening, because this is a reflector on the open internet:
// - one reply per request, never larger than the request (the wire format
//   makes every request at least as long as any reply);
// - per-source token buckets (stun::SourceRateLimiter, fixed memory) drop
//   excess requests before anything is built or queued;
// - delayed replies and probes are capped in total (`max_pending`) and in
//   delay (`max_delay`), so memory stays bounded whatever clients ask;
// - collection packets are logged but never answered.
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <span>
#include <vector>

#include "core/endpoint.hpp"
#include "core/time.hpp"
#include "stun/source_rate_limiter.hpp"
#include "wire/measure_messages.hpp"

namespace natpunch::measure {

struct ServerConfig {
  std::size_t socket_count = 1;
  // Measurement clients send bursts (a parallel timeout search opens dozens
  // of sockets at once), so the default is more generous than STUN's.
  std::optional<stun::RateLimitConfig> rate_limit = stun::RateLimitConfig{100.0, 400.0, 16384};
  std::size_t max_pending = 65536;
  Duration max_delay = seconds(3600);
  std::uint64_t hash_seed = 0;
};

struct ServerCounters {
  std::uint64_t received = 0;
  std::uint64_t replied = 0;          // immediate replies
  std::uint64_t scheduled = 0;        // delayed replies / probes queued
  std::uint64_t sent_scheduled = 0;   // ... and sent
  std::uint64_t collected = 0;        // collection packets logged
  std::uint64_t dropped_malformed = 0;
  std::uint64_t dropped_not_request = 0;  // replies and other server-to-client kinds
  std::uint64_t dropped_rate_limited = 0;
  std::uint64_t dropped_queue_full = 0;
  std::uint64_t dropped_delay_too_long = 0;
};

struct Outgoing {
  std::size_t socket = 0;  // send from this socket
  Endpoint to;
  std::array<std::uint8_t, wire::kReflectionSize> bytes{};
  std::size_t length = 0;
  std::span<const std::uint8_t> payload() const { return {bytes.data(), length}; }
};

// One received mapping-collection packet: a row of the server's log.
struct CollectionRow {
  wire::Uuid uuid{};
  std::uint64_t client_send_time_ms = 0;
  Endpoint observed;                  // the source as seen here: the NAT's mapping
  std::uint16_t received_on_port = 0;
  TimePoint received_at{};
};
using CollectionSink = std::function<void(const CollectionRow&)>;

class Server {
 public:
  // `socket_ports[i]` is the local port of socket i (reported in replies).
  Server(ServerConfig config, std::vector<std::uint16_t> socket_ports, CollectionSink sink);

  std::optional<Outgoing> handle(TimePoint now, std::span<const std::uint8_t> datagram, const Endpoint& from,
                                 std::size_t received_on);

  // Delayed replies and probes due by `now`, in due order.
  std::vector<Outgoing> take_due(TimePoint now);
  std::optional<TimePoint> next_deadline() const;

  std::size_t pending() const { return queue_.size(); }
  const ServerCounters& counters() const { return counters_; }

 private:
  struct Scheduled {
    TimePoint due;
    std::uint64_t sequence;  // ties keep arrival order
    Outgoing out;
    bool operator>(const Scheduled& o) const { return due != o.due ? due > o.due : sequence > o.sequence; }
  };
  bool schedule(TimePoint due, Outgoing out);
  Outgoing reflection(std::uint32_t id, wire::MeasureKind answered, const Endpoint& from, std::size_t socket) const;

  ServerConfig config_;
  std::vector<std::uint16_t> ports_;
  CollectionSink sink_;
  std::optional<stun::SourceRateLimiter> limiter_;
  std::priority_queue<Scheduled, std::vector<Scheduled>, std::greater<>> queue_;
  std::uint64_t sequence_ = 0;
  ServerCounters counters_;
};

}  // namespace natpunch::measure

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
// - rate limits per source port under a per-address budget
//   (stun::SourceRateLimiter, fixed memory, fair among the ports of one
//   carrier address) drop excess requests before anything is built or
//   queued; a request with a cookie is charged to the port the cookie was
//   granted to (a measurement's control socket), not to its fresh probe
//   socket;
// - a delayed reply or probe is scheduled only with a cookie proving that
//   the requester receives at the address it will be sent to (return
//   routability: nobody schedules packets at a forged victim);
// - the queue is capped in total (`max_pending`), per source address and
//   per network (a share each), and in delay (`max_delay`); deliveries to
//   one address due within one second are capped (`max_due_per_second`),
//   so nobody piles them onto one instant; a request the server will not
//   schedule is answered with a small Refusal (so a client does not take
//   the silence for a timed-out mapping);
// - collection packets are logged but never answered.
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <span>
#include <vector>

#include <map>
#include <unordered_map>

#include "core/endpoint.hpp"
#include "core/source_key.hpp"
#include "core/time.hpp"
#include "stun/source_rate_limiter.hpp"
#include "wire/measure_messages.hpp"

namespace natpunch::measure {

struct ServerConfig {
  std::size_t socket_count = 1;
  // Measurement clients send bursts (a parallel timeout search opens dozens
  // of sockets at once), so the default is more generous than STUN's.
  std::optional<stun::RateLimitConfig> rate_limit = stun::RateLimitConfig{
      .requests_per_second = 100,
      .burst = 400,
      .address_requests_per_second = 10'000,
      .address_burst = 20'000,
      .reserved_per_second = 20,
      .reserved_burst = 200,
  };
  std::size_t max_pending = 65536;
  Duration max_delay = seconds(3600);
  // The share of the queue one source may hold: its address (IPv6: /64) and
  // its network (IPv4 /24, IPv6 /48), as fractions of max_pending.
  double queue_per_address = 1.0 / 64;
  double queue_per_network = 1.0 / 16;
  // Deliveries to one address due within the same second, at most.
  std::size_t max_due_per_second = 64;
  // Keys the cookies (the driver passes OS randomness), and how long one
  // stays valid.
  std::array<std::uint8_t, 32> cookie_secret{};
  Duration cookie_lifetime = seconds(3600);
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
  std::uint64_t dropped_queue_full = 0;      // the whole queue, or the source's share of it
  std::uint64_t dropped_delay_too_long = 0;
  std::uint64_t dropped_no_cookie = 0;       // a delayed request without a valid cookie
  std::uint64_t dropped_piled = 0;           // too many deliveries to one address in one second
  std::uint64_t cookies_granted = 0;
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
  // Queued for `address` (its subscriber share).
  std::size_t pending_for(const IpAddress& address) const;
  const ServerCounters& counters() const { return counters_; }

 private:
  struct Scheduled {
    TimePoint due;
    std::uint64_t sequence;  // ties keep arrival order
    Outgoing out;
    bool operator>(const Scheduled& o) const { return due != o.due ? due > o.due : sequence > o.sequence; }
  };
  struct AddressShare {
    std::uint32_t queued = 0;
    std::map<std::int64_t, std::uint32_t> due_per_second;
  };
  std::optional<wire::RefusalReason> schedule(TimePoint due, Outgoing out);
  void unshare(const Scheduled& s);
  Outgoing reflection(std::uint32_t id, wire::MeasureKind answered, const Endpoint& from, std::size_t socket) const;
  Outgoing refusal(std::uint32_t id, wire::MeasureKind refused, wire::RefusalReason reason, const Endpoint& to,
                   std::size_t socket);
  wire::MeasureCookie make_cookie(TimePoint now, const Endpoint& to) const;
  // The port a valid cookie was granted to (for `from`'s address), if valid.
  std::optional<std::uint16_t> cookie_port(TimePoint now, const wire::MeasureCookie& cookie, const IpAddress& from) const;

  ServerConfig config_;
  std::vector<std::uint16_t> ports_;
  CollectionSink sink_;
  std::optional<stun::SourceRateLimiter> limiter_;
  std::priority_queue<Scheduled, std::vector<Scheduled>, std::greater<>> queue_;
  std::unordered_map<SourceKey, AddressShare, SourceKeyHash> addresses_;
  std::unordered_map<SourceKey, std::uint32_t, SourceKeyHash> networks_;
  std::uint64_t sequence_ = 0;
  ServerCounters counters_;
};

}  // namespace natpunch::measure

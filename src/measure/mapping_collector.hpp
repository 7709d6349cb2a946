#pragma once
// The thesis's mapping data gathering (Section III-E) as a sans-IO machine:
// `count` UUID-tagged packets, each from a fresh socket on a random local
// port to a random port of the server's collection range, paced at `rate`
// per second. Each sent packet becomes a row of the client log
// (uuid,time_ms,local_port,server_port); the server logs the same UUID with
// the port it saw, and `natpunch analyze` joins the two.
//
// A machine of the contract (core/transmit.hpp) with its optional socket
// parts: each packet's socket asks for a random local port and learns the
// one it got; once the driver has told of a failed send (which it does
// before the next on_timer), the packet's row is reported as an event, or
// dropped if the packet never left, and its socket is released.
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
#include "measure/port_range.hpp"
#include "wire/measure_messages.hpp"

namespace natpunch::measure {

struct MappingCollectorConfig {
  IpAddress server;
  PortRange server_ports{40000, 40099};
  std::size_t count = 1000;
  double rate_per_second = 20;
  // Local ports are drawn from here (the driver falls back to any free port
  // when the drawn one is taken; the row records the port actually used).
  PortRange local_ports{1024, 65535};
};

struct CollectedRow {
  wire::Uuid uuid{};
  std::uint16_t local_port = 0;
  std::uint16_t server_port = 0;
  std::uint64_t send_time_ms = 0;  // wall clock, as the packet carries it
};

// What poll_event() reports: each packet that left, in send order, as a
// row of the client log (a packet that left and got lost on the way is a
// row all the same: the server's log lacks it, and analyze counts it as
// sent but not received); then Done, once.
namespace collection_event {
struct Sent {
  CollectedRow row;
};
struct Done {
  std::size_t sent = 0;
  std::size_t unsent = 0;  // never left this host (no socket, send error)
};
}  // namespace collection_event
using MappingCollectorEvent = std::variant<collection_event::Sent, collection_event::Done>;

class MappingCollector {
 public:
  MappingCollector(MappingCollectorConfig config, Rng& rng);

  // Converts the machine's `now` to wall-clock ms for the log and the
  // packet (the driver passes the system clock's offset; tests leave 0).
  void set_wall_clock_offset_ms(std::int64_t offset_ms) { wall_offset_ms_ = offset_ms; }

  std::optional<Transmit> poll_transmit(TimePoint now);
  void on_datagram(TimePoint, SocketId, const Endpoint&, std::span<const std::uint8_t>) {}
  void on_timer(TimePoint now);
  std::optional<TimePoint> next_deadline() const;
  std::optional<MappingCollectorEvent> poll_event();
  SocketOptions socket_options(SocketId socket);
  void on_socket_bound(TimePoint now, SocketId socket, const Endpoint& local);
  std::optional<SocketId> poll_socket_release() { return take_front(releasing_); }
  // The packet could not be sent (no socket, no buffer space on a busy
  // host): it gets no row, since no NAT mapping was made for it.
  void on_send_error(TimePoint now, SocketId socket, const Endpoint& to, SendError error);

  bool done() const { return sent_ >= config_.count && !current_; }
  std::size_t sent() const { return sent_ - unsent_ - (current_ ? 1 : 0); }
  // Packets that never left this host (no socket, send error).
  std::size_t unsent() const { return unsent_; }

 private:
  // The packet just handed to the driver, until its send is settled.
  struct Current {
    SocketId socket = 0;
    CollectedRow row;
    bool bound = false;   // its socket was bound (the row has its port)
    bool failed = false;  // its send failed
  };
  void settle();

  MappingCollectorConfig config_;
  Rng& rng_;
  std::int64_t wall_offset_ms_ = 0;
  std::size_t sent_ = 0;
  std::optional<TimePoint> next_send_;
  std::optional<Current> current_;
  std::deque<CollectedRow> settled_;  // rows to report
  std::deque<SocketId> releasing_;
  std::size_t unsent_ = 0;
  SocketId next_socket_ = 1;
  bool done_reported_ = false;
};

static_assert(ProtocolMachine<MappingCollector> && ChoosesSocketOptions<MappingCollector> &&
              WatchesSocketBinding<MappingCollector> && ReleasesSockets<MappingCollector> &&
              HearsSendErrors<MappingCollector>);

}  // namespace natpunch::measure

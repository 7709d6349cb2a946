#pragma once
// The thesis's mapping data gathering (Section III-E) as a sans-IO machine:
// `count` UUID-tagged packets, each from a fresh socket on a random local
// port to a random port of the server's collection range, paced at `rate`
// per second. Each sent packet becomes a row of the client log
// (uuid,time_ms,local_port,server_port); the server logs the same UUID with
// the port it saw, and `natpunch analyze` joins the two.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/endpoint.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "measure/port_range.hpp"
#include "measure/socket_datagram.hpp"
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

class MappingCollector {
 public:
  // `wall_ms_at` converts the machine's `now` to wall-clock ms for the log
  // and the packet (the driver passes the system clock; tests a fixed map).
  MappingCollector(MappingCollectorConfig config, Rng& rng);

  void set_wall_clock_offset_ms(std::int64_t offset_ms) { wall_offset_ms_ = offset_ms; }

  std::vector<SocketDatagram> poll_transmit(TimePoint now);
  std::vector<SocketId> poll_closed();
  void on_datagram(TimePoint, SocketId, std::span<const std::uint8_t>, const Endpoint&) {}
  void on_timer(TimePoint) {}
  std::optional<TimePoint> next_deadline() const;
  bool done() const { return sent_ >= config_.count && closing_.empty(); }

  std::uint16_t local_port_for(SocketId socket);
  void on_socket_opened(SocketId socket, std::uint16_t local_port);
  // The driver could not send the packet (e.g. no buffer space on a busy
  // host): it gets no row, since no NAT mapping was made for it.
  void on_send_error(TimePoint now, SocketId socket, bool too_big);

  // Rows of packets sent since the last call, in send order. A packet that
  // left and got lost on the way is a row all the same: the server's log
  // lacks it, and analyze counts it as sent but not received.
  std::vector<CollectedRow> take_rows() { return std::exchange(rows_, {}); }
  std::size_t sent() const { return sent_ - unsent_; }
  // Packets that never left this host (no socket, send error).
  std::size_t unsent() const { return unsent_; }

 private:
  MappingCollectorConfig config_;
  Rng& rng_;
  std::int64_t wall_offset_ms_ = 0;
  std::size_t sent_ = 0;
  std::optional<TimePoint> next_send_;
  std::vector<CollectedRow> rows_;
  std::vector<SocketId> closing_;
  std::uint16_t opened_port_ = 0;  // of the current packet's socket; 0: it could not be opened
  bool send_failed_ = false;       // of the current packet
  std::size_t unsent_ = 0;
  SocketId next_socket_ = 1;
};

}  // namespace natpunch::measure

#pragma once
// A mapping sample the client can take alone (`measure all`): like the
// collection, each packet leaves a fresh socket on a random local port for a
// random server port, but it is a Reflect, so the reply names the mapped
// port and no server log is needed. Rows have the analyzer's shape.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/endpoint.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "measure/port_range.hpp"
#include "measure/socket_datagram.hpp"

namespace natpunch::measure {

struct MappingSamplerConfig {
  IpAddress server;
  PortRange server_ports{40000, 40099};
  std::size_t count = 200;
  double rate_per_second = 20;
  Duration reply_timeout = milliseconds(2000);
  PortRange local_ports{1024, 65535};
};

struct SampledMapping {
  double time_ms = 0;  // since the first send
  std::uint16_t local_port = 0;
  std::uint16_t mapped_port = 0;
  std::uint16_t server_port = 0;
};

class MappingSampler {
 public:
  MappingSampler(MappingSamplerConfig config, Rng& rng, std::uint32_t id_seed);

  std::vector<SocketDatagram> poll_transmit(TimePoint now);
  std::vector<SocketId> poll_closed() { return std::exchange(closed_, {}); }
  void on_datagram(TimePoint now, SocketId socket, std::span<const std::uint8_t> bytes, const Endpoint& from);
  void on_timer(TimePoint now);
  std::optional<TimePoint> next_deadline() const;
  bool done() const { return sent_ >= config_.count && waiting_.empty(); }
  std::uint16_t local_port_for(SocketId);
  void on_socket_opened(SocketId socket, std::uint16_t local_port);

  // In send order; packets whose reply never came are left out.
  std::vector<SampledMapping> rows() const;
  std::size_t sent() const { return sent_; }
  std::size_t answered() const { return answered_; }

 private:
  struct Waiting {
    SocketId socket = 0;
    std::uint32_t id = 0;
    std::size_t index = 0;
    TimePoint deadline{};
  };
  MappingSamplerConfig config_;
  Rng& rng_;
  std::uint32_t next_id_;
  std::size_t sent_ = 0;
  std::size_t answered_ = 0;
  std::optional<TimePoint> first_send_;
  std::optional<TimePoint> next_send_;
  std::vector<SampledMapping> rows_;
  std::vector<bool> got_;
  std::vector<Waiting> waiting_;
  std::vector<SocketId> closed_;
  SocketId next_socket_ = 1;
};

}  // namespace natpunch::measure

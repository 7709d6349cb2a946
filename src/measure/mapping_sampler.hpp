#pragma once
// A mapping sample the client can take alone (`measure all`): like the
// collection, each packet leaves a fresh socket on a random local port for a
// random server port, but it is a Reflect, so the reply names the mapped
// port and no server log is needed. Rows have the analyzer's shape.
//
// A machine of the contract (core/transmit.hpp) with its optional socket
// parts: each sample's socket asks for a random local port, learns the one
// it got, and is released when the reply came or the wait ended.
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "core/endpoint.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "core/transmit.hpp"
#include "measure/port_range.hpp"

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

// What poll_event() reports: every sample was sent and answered or given up on, once.
namespace sampler_event {
struct Done {
  std::vector<SampledMapping> rows;  // as rows()
  std::size_t sent = 0;
};
}  // namespace sampler_event
using MappingSamplerEvent = std::variant<sampler_event::Done>;

class MappingSampler {
 public:
  MappingSampler(MappingSamplerConfig config, Rng& rng, std::uint32_t id_seed);

  std::optional<Transmit> poll_transmit(TimePoint now);
  void on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes);
  void on_timer(TimePoint now);
  std::optional<TimePoint> next_deadline() const;
  std::optional<MappingSamplerEvent> poll_event();
  SocketOptions socket_options(SocketId socket);
  void on_socket_bound(TimePoint now, SocketId socket, const Endpoint& local);
  std::optional<SocketId> poll_socket_release() { return take_front(released_); }
  // A sample whose request never left is given up at once.
  void on_send_error(TimePoint now, SocketId socket, const Endpoint& to, SendError error);

  bool done() const { return sent_ >= config_.count && waiting_.empty(); }

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
  std::deque<SocketId> released_;
  SocketId next_socket_ = 1;
  bool done_reported_ = false;
};

static_assert(ProtocolMachine<MappingSampler> && ChoosesSocketOptions<MappingSampler> &&
              WatchesSocketBinding<MappingSampler> && ReleasesSockets<MappingSampler> &&
              HearsSendErrors<MappingSampler>);

}  // namespace natpunch::measure

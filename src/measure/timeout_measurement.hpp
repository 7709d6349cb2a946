#pragma once
// `natpunch measure timeouts` as one sans-IO machine: a Reflect on a
// control socket measures the round trip (and proves the server answers)
// and a Cookie request there fetches the server's cookie (which the
// delayed requests carry, refreshed at half its validity or when the server
// refuses it); then the pending and idle searches (idle after a
// session-like exchange, and after a single reply) run side by side on
// fresh sockets.
//
// A machine of the contract (core/transmit.hpp): socket 0 is the control
// socket, each probe has a fresh one that is released when it ends; a
// probe whose request never left is inconclusive (on_send_error).
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "measure/timeout_prober.hpp"
#include "measure/timeout_search.hpp"

namespace natpunch::measure {

enum class TimeoutMethod : std::uint8_t { Parallel, Paper };

struct TimeoutMeasurementConfig {
  TimeoutMethod method = TimeoutMethod::Parallel;
  bool pending = true;
  bool idle = true;                  // after session-like two-way traffic (the figure keepalives need)
  bool idle_after_one_reply = true;  // after one exchange: differs where the NAT promotes conversations
  std::uint32_t max_timeout_s = 600;
  std::uint32_t parallel = 32;           // probes per round (parallel method)
  std::uint32_t pending_step_s = 20;     // Algorithm 2
  std::uint32_t idle_step_s = 50;        // Algorithm 4
  ProberConfig prober;
  Duration rtt_timeout = milliseconds(1000);
  int rtt_attempts = 5;
};

struct TimeoutMeasurementResult {
  bool server_answered = false;
  Duration rtt{};
  Endpoint observed;  // the control socket's reflected endpoint
  std::optional<TimeoutSearchResult> pending;
  std::optional<TimeoutSearchResult> idle;
  std::optional<TimeoutSearchResult> idle_after_one_reply;
  std::uint64_t datagrams_sent = 0;
};

// What poll_event() reports: the measurement ended (every search done, or
// the server never answered), once.
namespace timeout_event {
struct Done {
  TimeoutMeasurementResult result;
};
}  // namespace timeout_event
using TimeoutMeasurementEvent = std::variant<timeout_event::Done>;

class TimeoutMeasurement {
 public:
  TimeoutMeasurement(Endpoint server, TimeoutMeasurementConfig config, std::uint32_t id_seed);

  std::optional<Transmit> poll_transmit(TimePoint now);
  void on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes);
  void on_timer(TimePoint now);
  std::optional<TimePoint> next_deadline() const;
  std::optional<TimeoutMeasurementEvent> poll_event();
  std::optional<SocketId> poll_socket_release() { return prober_.poll_socket_release(); }
  void on_send_error(TimePoint now, SocketId socket, const Endpoint& to, SendError error);

  bool done() const;
  TimeoutMeasurementResult result() const;

  // Progress for humans: probes still running per kind.
  std::size_t running(TimeoutKind kind) const { return prober_.active(kind); }

 private:
  void pump(TimePoint now);
  TimeoutSearch* search(TimeoutKind kind) {
    switch (kind) {
      case TimeoutKind::Pending: return pending_.get();
      case TimeoutKind::Idle: return idle_.get();
      case TimeoutKind::IdleAfterOneReply: return idle_after_one_reply_.get();
    }
    return nullptr;
  }

  Endpoint server_;
  TimeoutMeasurementConfig config_;
  TimeoutProber prober_;
  std::unique_ptr<TimeoutSearch> pending_;
  std::unique_ptr<TimeoutSearch> idle_;
  std::unique_ptr<TimeoutSearch> idle_after_one_reply_;
  bool ready() const { return rtt_ && cookie_; }
  void send_cookie_request(TimePoint now);
  void check_cookie(TimePoint now);
  // Queues what the control exchange and the probes have to send now.
  void queue_sends(TimePoint now);

  // Control exchange: socket 0, request id `control_id_` (a Reflect and a
  // Cookie request).
  std::uint32_t control_id_;
  std::optional<wire::MeasureCookie> cookie_;
  TimePoint cookie_granted_{};
  Duration cookie_valid_{};
  bool cookie_due_ = false;  // after the control exchange: refresh it
  std::optional<TimePoint> cookie_sent_;
  int control_attempts_ = 0;
  bool control_due_ = true;
  bool control_failed_ = false;
  std::optional<TimePoint> control_sent_;
  std::optional<Duration> rtt_;
  Endpoint observed_;
  std::uint64_t control_sent_count_ = 0;
  std::deque<Transmit> queued_;  // control datagrams, then the probes'
  bool done_reported_ = false;
};

static_assert(ProtocolMachine<TimeoutMeasurement> && ReleasesSockets<TimeoutMeasurement> &&
              HearsSendErrors<TimeoutMeasurement>);

}  // namespace natpunch::measure

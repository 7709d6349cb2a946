#pragma once
// The one interface every punching strategy implements, so a real-socket
// driver (src/io/), the simulator (src/sim/) and tests run them alike.
// Strategies are sans-IO: they read no clock and touch no socket, and they
// speak the machine contract of core/transmit.hpp (poll_event reports how
// the punch ended, once).
//
// A strategy owns a set of local sockets, numbered 0 .. socket_count()-1;
// the driver binds them (any free local port each) and tells the strategy
// which one a datagram arrived on. The driver loops:
//   while (auto t = strategy.poll_transmit(now)) send t->bytes out of socket t->socket to t->to;
//   wait until strategy.next_deadline(), feeding on_datagram() meanwhile;
//   strategy.on_timer(now);
// until done(). result() then says Connected (with the peer endpoint and
// the local socket to keep) or Stopped (with the reason).
#include <cstdint>
#include <optional>
#include <span>
#include <variant>

#include "core/endpoint.hpp"
#include "core/time.hpp"
#include "core/transmit.hpp"
#include "wire/probe.hpp"

namespace natpunch::punch {

// One probe per ~2.98 ms: the thesis's phones (Section VI-E).
inline constexpr Duration kThesisSendInterval = std::chrono::microseconds(2980);

enum class PunchOutcome : std::uint8_t {
  Running,
  Connected,  // the handshake completed with the peer (see wire/probe.hpp)
  Stopped,    // gave up; StopReason says why
};

enum class StopReason : std::uint8_t {
  None,
  ProbeBudget,     // probe_budget probes sent (or the port order ran dry) and nothing came back within linger
  TimeBudget,      // time_budget passed since the start
  RelayOnly,       // no direct strategy can work for this pair of NATs
};
const char* to_string(StopReason reason);

struct PunchResult {
  PunchOutcome outcome = PunchOutcome::Running;
  StopReason stop_reason = StopReason::None;
  std::uint64_t probes_sent = 0;
  std::uint64_t acks_sent = 0;
  std::uint64_t confirms_sent = 0;
  // Datagrams dropped before any state changed: wrong session, stranger's
  // address, bad MAC, nonce that is not ours (replays), malformed.
  std::uint64_t rejected = 0;
  // When Connected: true when an ACK to our probe completed it (we were the
  // prober), false when the peer's CONFIRM did (we answered its probe).
  bool via_ack = false;
  TimePoint connected_at{};
  Duration time_to_connect{};  // connected_at - start
  std::uint32_t socket = 0;    // the local socket of the working path
  Endpoint peer;               // the peer's external endpoint on that path
};

// What poll_event() reports: the punch ended, one way or the other (once).
namespace punch_event {
struct Connected {
  std::uint32_t socket = 0;  // the local socket of the working path
  Endpoint peer;             // the peer's external endpoint on that path
  TimePoint at{};
};
struct Stopped {
  StopReason reason = StopReason::None;
};
}  // namespace punch_event
using PunchEvent = std::variant<punch_event::Connected, punch_event::Stopped>;

class PunchStrategy {
 public:
  virtual ~PunchStrategy() = default;
  // At most one datagram per call: answers first, then the probe due at `now`.
  // Probes fit DatagramBytes' inline capacity: no heap allocation per probe.
  virtual std::optional<Transmit> poll_transmit(TimePoint now) = 0;
  // nullopt once nothing more is scheduled.
  virtual std::optional<TimePoint> next_deadline() const = 0;
  virtual void on_timer(TimePoint now) = 0;
  virtual void on_datagram(TimePoint now, std::uint32_t socket, const Endpoint& from,
                           std::span<const std::uint8_t> bytes) = 0;
  // Connected or Stopped, once, when the outcome is decided.
  virtual std::optional<PunchEvent> poll_event() = 0;
  virtual const PunchResult& result() const = 0;
  virtual std::uint32_t socket_count() const = 0;
  // Nothing left to send or wait for.
  virtual bool done() const = 0;
};

}  // namespace natpunch::punch

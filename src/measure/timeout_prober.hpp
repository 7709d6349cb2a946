#pragma once
// One timeout probe = one question "does a mapping survive d seconds?",
// asked on a fresh socket so that each probe has its own fresh mapping.
//
// Pending (no inbound yet): send DelayedReflect(d) and nothing else; the
// reply either comes back through the original mapping or not at all. The
// socket sends nothing in between, so no new mapping can exist for the
// reply to sneak through, port-preserving NAT or not.
//
// Idle (established, then silent): establish the mapping the way a session
// does -- Reflect exchanges every `establish_interval` until replies have
// come back for `establish_for` -- then ScheduleProbe(d): the server sends
// one packet to the endpoint it saw after d seconds. Again the client sends
// nothing meanwhile, so the packet arrives only through the old mapping.
// A NAT may treat a mapping that saw one reply differently from one that
// carried a conversation: Linux conntrack gives a UDP flow its stream
// timeout only once it has seen replies and is still active 2 s after its
// first packet (before that, the unreplied one). IdleAfterOneReply keeps
// the old probe, one Reflect exchange and then silence, to show the
// difference.
//
// Timing: the mapping's idle span is the requested delay plus the path's
// round trip (server-side delay starts when the request arrives). The
// prober asks for d - rtt - guard, so the span is d - guard: a probe of d
// seconds is alive exactly when timeout >= d - guard, i.e. whole-second
// answers are the timeout's floor as long as jitter stays below `guard`.
//
// Loss: each request goes out `copies` times (distinct ids); any reply
// counts. Losses can only make a live mapping look dead, never the reverse,
// which the searches use (the largest live delay is proof).
//
// Both requests carry the server's cookie (set_cookie(): fetched on the
// measurement's control socket, so no probe socket's mapping sees an
// inbound packet before its test). A Refusal from the server (no valid
// cookie, queue share full, delay too long) makes the probe inconclusive,
// never "dead"; so does a request that never left this host (a send error).
//
// A machine of the contract (core/transmit.hpp): each probe's outcome is
// an event; a finished or cancelled probe's socket is released.
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <utility>
#include <variant>
#include <vector>

#include "core/endpoint.hpp"
#include "core/time.hpp"
#include "core/transmit.hpp"
#include "wire/measure_messages.hpp"

namespace natpunch::measure {

enum class TimeoutKind : std::uint8_t {
  Pending,            // no inbound packet yet
  Idle,               // after two-way traffic for ProberConfig::establish_for, like a session
  IdleAfterOneReply,  // after a single request and reply
};

struct ProberConfig {
  int copies = 2;
  Duration guard = milliseconds(250);
  // How long after the expected arrival a reply may still come.
  Duration grace = milliseconds(1500);
  // Idle probes: Reflect retransmission interval and attempts.
  Duration reflect_timeout = milliseconds(1000);
  int reflect_attempts = 4;
  // Idle probes: two-way traffic this long (from the first reply), one
  // exchange every establish_interval, before the mapping is left idle.
  // Above conntrack's 2 s, so a kernel NAT has promoted the flow.
  Duration establish_for = seconds(3);
  Duration establish_interval = seconds(1);
};

struct ProbeOutcome {
  std::uint64_t probe = 0;
  TimeoutKind kind = TimeoutKind::Pending;
  std::uint32_t delay_s = 0;
  // nullopt: inconclusive (the server never answered the idle probe's
  // Reflect, so nothing was established).
  std::optional<bool> alive;
};
using TimeoutProberEvent = std::variant<ProbeOutcome>;

class TimeoutProber {
 public:
  TimeoutProber(Endpoint server, ProberConfig config, std::uint32_t id_seed);

  // Round-trip estimate used to shorten requested delays (0 until set).
  void set_rtt(Duration rtt) { rtt_ = rtt; }
  // The cookie every delayed request carries from now on.
  void set_cookie(const wire::MeasureCookie& cookie) { cookie_ = cookie; }
  // True once after the server refused a request for want of a valid cookie.
  bool take_cookie_refused() { return std::exchange(cookie_refused_, false); }

  std::uint64_t start(TimePoint now, TimeoutKind kind, std::uint32_t delay_s);
  // Abandons every unfinished probe of `kind` (their sockets are closed).
  void cancel(TimeoutKind kind);

  std::optional<Transmit> poll_transmit(TimePoint now);
  void on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes);
  void on_timer(TimePoint now);
  std::optional<TimePoint> next_deadline() const;
  std::optional<TimeoutProberEvent> poll_event();
  std::optional<SocketId> poll_socket_release() { return take_front(released_); }
  void on_send_error(TimePoint now, SocketId socket, const Endpoint& to, SendError error);

  std::size_t active() const { return probes_.size(); }
  std::size_t active(TimeoutKind kind) const;
  std::uint64_t datagrams_sent() const { return sent_; }

 private:
  enum class Stage : std::uint8_t { SendRequest, Establishing, EstablishPause, SendSchedule, Waiting };
  struct Probe {
    std::uint64_t id = 0;
    TimeoutKind kind{};
    std::uint32_t delay_s = 0;
    SocketId socket = 0;
    Stage stage = Stage::SendRequest;
    std::uint32_t first_request_id = 0;  // copies use first..first+copies-1
    int attempts = 0;  // of the current Reflect exchange
    std::optional<TimePoint> first_reply;
    TimePoint deadline{};
  };
  std::uint32_t requested_delay_ms(std::uint32_t delay_s) const;
  void finish(std::size_t index, std::optional<bool> alive);
  // Moves every probe with something to send on, queueing its datagrams.
  void queue_sends(TimePoint now);

  Endpoint server_;
  ProberConfig config_;
  Duration rtt_{};
  wire::MeasureCookie cookie_{};
  bool cookie_refused_ = false;
  std::vector<Probe> probes_;
  std::deque<ProbeOutcome> outcomes_;
  std::deque<SocketId> released_;
  std::deque<Transmit> queued_;
  std::uint64_t next_probe_ = 1;
  SocketId next_socket_ = 1;
  std::uint32_t next_request_id_;
  std::uint64_t sent_ = 0;
};

static_assert(ProtocolMachine<TimeoutProber> && ReleasesSockets<TimeoutProber> && HearsSendErrors<TimeoutProber>);

}  // namespace natpunch::measure

#include "measure/timeout_measurement.hpp"

#include <variant>

#include "wire/measure_messages.hpp"

namespace natpunch::measure {

namespace {
constexpr SocketId kControlSocket = 0;
}

TimeoutMeasurement::TimeoutMeasurement(Endpoint server, TimeoutMeasurementConfig config, std::uint32_t id_seed)
    : server_(server), config_(config), prober_(server, config.prober, id_seed + 1), control_id_(id_seed) {
  const auto make = [&](std::uint32_t step) -> std::unique_ptr<TimeoutSearch> {
    if (config_.method == TimeoutMethod::Paper)
      return std::make_unique<PaperTimeoutSearch>(step, config_.max_timeout_s);
    return std::make_unique<ParallelTimeoutSearch>(config_.parallel, config_.max_timeout_s);
  };
  if (config_.pending) pending_ = make(config_.pending_step_s);
  if (config_.idle) idle_ = make(config_.idle_step_s);
  if (config_.idle_after_one_reply) idle_after_one_reply_ = make(config_.idle_step_s);
}

void TimeoutMeasurement::pump(TimePoint now) {
  if (!ready()) return;
  // Outcomes may end a round and start the next; loop until quiet.
  for (bool again = true; again;) {
    again = false;
    while (auto event = prober_.poll_event()) {
      const auto& outcome = std::get<ProbeOutcome>(*event);
      auto* s = search(outcome.kind);
      if (s && s->on_outcome(outcome.delay_s, outcome.alive)) prober_.cancel(outcome.kind);
    }
    for (auto kind : {TimeoutKind::Pending, TimeoutKind::Idle, TimeoutKind::IdleAfterOneReply})
      if (auto* s = search(kind))
        for (auto d : s->take_starts()) {
          prober_.start(now, kind, d);
          again = true;
        }
  }
}

void TimeoutMeasurement::send_cookie_request(TimePoint now) {
  cookie_sent_ = now;
  const auto bytes = wire::encode(wire::CookieRequest{control_id_});
  queued_.push_back({kControlSocket, server_, std::span<const std::uint8_t>(bytes)});
  ++control_sent_count_;
}

std::optional<Transmit> TimeoutMeasurement::poll_transmit(TimePoint now) {
  if (queued_.empty()) queue_sends(now);
  return take_front(queued_);
}

std::optional<TimeoutMeasurementEvent> TimeoutMeasurement::poll_event() {
  if (!done() || done_reported_) return std::nullopt;
  done_reported_ = true;
  return timeout_event::Done{result()};
}

void TimeoutMeasurement::on_send_error(TimePoint now, SocketId socket, const Endpoint& to, SendError error) {
  // The control exchange is asked again when its answer does not come.
  if (socket == kControlSocket) return;
  prober_.on_send_error(now, socket, to, error);
  pump(now);
}

void TimeoutMeasurement::queue_sends(TimePoint now) {
  if (!ready() && !control_failed_ && control_due_) {
    control_due_ = false;
    ++control_attempts_;
    control_sent_ = now;
    if (!rtt_) {
      const auto bytes = wire::encode(wire::ReflectRequest{control_id_});
      queued_.push_back({kControlSocket, server_, std::span<const std::uint8_t>(bytes)});
      ++control_sent_count_;
    }
    if (!cookie_) send_cookie_request(now);
  } else if (ready() && cookie_due_) {
    cookie_due_ = false;
    send_cookie_request(now);
  }
  pump(now);
  while (auto t = prober_.poll_transmit(now)) queued_.push_back(std::move(*t));
}

void TimeoutMeasurement::on_datagram(TimePoint now, SocketId socket, const Endpoint& from,
                                     std::span<const std::uint8_t> bytes) {
  if (socket == kControlSocket) {
    if (!control_sent_) return;
    auto decoded = wire::decode_measure(bytes);
    if (!decoded) return;
    if (const auto* g = std::get_if<wire::CookieGrant>(&*decoded); g && g->id == control_id_) {
      cookie_ = g->cookie;
      cookie_granted_ = now;
      cookie_valid_ = seconds(g->valid_s);
      cookie_sent_.reset();
      prober_.set_cookie(g->cookie);
    }
    const auto* r = std::get_if<wire::Reflection>(&*decoded);
    if (r && r->id == control_id_ && !rtt_) {
      rtt_ = now - *control_sent_;
      observed_ = r->observed;
      prober_.set_rtt(*rtt_);
    }
    pump(now);
    return;
  }
  prober_.on_datagram(now, socket, from, bytes);
  check_cookie(now);
  pump(now);
}

void TimeoutMeasurement::check_cookie(TimePoint now) {
  if (!ready()) return;
  if (prober_.take_cookie_refused()) {
    // Refused (the server restarted with a new secret, or this one ran
    // out): no new probes until a fresh cookie is in.
    cookie_.reset();
    cookie_sent_.reset();
    control_due_ = true;
    control_attempts_ = 0;
    return;
  }
  // A refreshed cookie before this one runs out; an unanswered refresh is
  // simply asked again.
  const bool stale = now >= cookie_granted_ + cookie_valid_ / 2;
  const bool unanswered = cookie_sent_ && now >= *cookie_sent_ + config_.rtt_timeout;
  if (stale && (!cookie_sent_ || unanswered)) cookie_due_ = true;
}

void TimeoutMeasurement::on_timer(TimePoint now) {
  if (!ready() && control_sent_ && now >= *control_sent_ + config_.rtt_timeout) {
    if (control_attempts_ >= config_.rtt_attempts)
      control_failed_ = true;
    else
      control_due_ = true;
  }
  prober_.on_timer(now);
  check_cookie(now);
  pump(now);
}

std::optional<TimePoint> TimeoutMeasurement::next_deadline() const {
  if (done()) return std::nullopt;
  if (!queued_.empty()) return kTimeZero;
  if (!ready()) return control_due_ ? kTimeZero : *control_sent_ + config_.rtt_timeout;
  if (cookie_due_) return kTimeZero;
  const TimePoint refresh = cookie_sent_ ? *cookie_sent_ + config_.rtt_timeout : cookie_granted_ + cookie_valid_ / 2;
  const auto probes = prober_.next_deadline();
  return probes ? std::min(*probes, refresh) : refresh;
}

bool TimeoutMeasurement::done() const {
  if (control_failed_) return true;
  if (!ready()) return false;
  const bool pending_done = !pending_ || pending_->done();
  const bool idle_done = !idle_ || idle_->done();
  const bool single_done = !idle_after_one_reply_ || idle_after_one_reply_->done();
  return pending_done && idle_done && single_done && prober_.active() == 0;
}

TimeoutMeasurementResult TimeoutMeasurement::result() const {
  TimeoutMeasurementResult r;
  r.server_answered = rtt_.has_value();
  r.rtt = rtt_.value_or(Duration{});
  r.observed = observed_;
  if (pending_) r.pending = pending_->result();
  if (idle_) r.idle = idle_->result();
  if (idle_after_one_reply_) r.idle_after_one_reply = idle_after_one_reply_->result();
  r.datagrams_sent = prober_.datagrams_sent() + control_sent_count_;
  return r;
}

}  // namespace natpunch::measure

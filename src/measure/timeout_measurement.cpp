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
  if (!rtt_) return;
  // Outcomes may end a round and start the next; loop until quiet.
  for (bool again = true; again;) {
    again = false;
    for (const auto& outcome : prober_.take_outcomes()) {
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

std::vector<SocketDatagram> TimeoutMeasurement::poll_transmit(TimePoint now) {
  std::vector<SocketDatagram> out;
  if (!rtt_ && !control_failed_ && control_due_) {
    control_due_ = false;
    ++control_attempts_;
    control_sent_ = now;
    const auto bytes = wire::encode(wire::ReflectRequest{control_id_});
    out.push_back({kControlSocket, server_, {bytes.begin(), bytes.end()}});
    ++control_sent_count_;
  }
  pump(now);
  auto more = prober_.poll_transmit(now);
  out.insert(out.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  return out;
}

void TimeoutMeasurement::on_datagram(TimePoint now, SocketId socket, std::span<const std::uint8_t> bytes,
                                     const Endpoint& from) {
  if (socket == kControlSocket) {
    if (rtt_ || !control_sent_) return;
    auto decoded = wire::decode_measure(bytes);
    if (!decoded) return;
    const auto* r = std::get_if<wire::Reflection>(&*decoded);
    if (!r || r->id != control_id_) return;
    rtt_ = now - *control_sent_;
    observed_ = r->observed;
    prober_.set_rtt(*rtt_);
    pump(now);
    return;
  }
  prober_.on_datagram(now, socket, bytes, from);
  pump(now);
}

void TimeoutMeasurement::on_timer(TimePoint now) {
  if (!rtt_ && control_sent_ && now >= *control_sent_ + config_.rtt_timeout) {
    if (control_attempts_ >= config_.rtt_attempts)
      control_failed_ = true;
    else
      control_due_ = true;
  }
  prober_.on_timer(now);
  pump(now);
}

std::optional<TimePoint> TimeoutMeasurement::next_deadline() const {
  if (control_failed_) return std::nullopt;
  if (!rtt_) return control_due_ ? kTimeZero : *control_sent_ + config_.rtt_timeout;
  return prober_.next_deadline();
}

bool TimeoutMeasurement::done() const {
  if (control_failed_) return true;
  if (!rtt_) return false;
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

#include "measure/timeout_prober.hpp"

#include <algorithm>
#include <utility>
#include <variant>

#include "wire/measure_messages.hpp"

namespace natpunch::measure {

namespace {
template <std::size_t N>
DatagramBytes bytes_of(const std::array<std::uint8_t, N>& a) {
  return std::span<const std::uint8_t>(a);
}
}  // namespace

TimeoutProber::TimeoutProber(Endpoint server, ProberConfig config, std::uint32_t id_seed)
    : server_(server), config_(config), next_request_id_(id_seed) {
  config_.copies = std::max(1, config_.copies);
  config_.reflect_attempts = std::max(1, config_.reflect_attempts);
}

std::uint32_t TimeoutProber::requested_delay_ms(std::uint32_t delay_s) const {
  const auto want = std::chrono::duration_cast<milliseconds>(seconds(delay_s) - rtt_ - config_.guard).count();
  return static_cast<std::uint32_t>(std::max<std::int64_t>(0, want));
}

std::uint64_t TimeoutProber::start(TimePoint, TimeoutKind kind, std::uint32_t delay_s) {
  Probe p;
  p.id = next_probe_++;
  p.kind = kind;
  p.delay_s = delay_s;
  p.socket = next_socket_++;
  p.first_request_id = next_request_id_;
  next_request_id_ += static_cast<std::uint32_t>(config_.copies) + 1;  // + the idle probe's Reflect
  probes_.push_back(p);
  return p.id;
}

void TimeoutProber::cancel(TimeoutKind kind) {
  for (std::size_t i = probes_.size(); i-- > 0;)
    if (probes_[i].kind == kind) {
      const SocketId socket = probes_[i].socket;
      released_.push_back(socket);
      std::erase_if(queued_, [socket](const Transmit& t) { return t.socket == socket; });
      probes_.erase(probes_.begin() + static_cast<std::ptrdiff_t>(i));
    }
}

std::size_t TimeoutProber::active(TimeoutKind kind) const {
  return static_cast<std::size_t>(
      std::count_if(probes_.begin(), probes_.end(), [kind](const Probe& p) { return p.kind == kind; }));
}

std::optional<Transmit> TimeoutProber::poll_transmit(TimePoint now) {
  if (queued_.empty()) queue_sends(now);
  auto t = take_front(queued_);
  if (t) ++sent_;
  return t;
}

void TimeoutProber::queue_sends(TimePoint now) {
  auto& out = queued_;
  const auto wait = [&](const Probe& p) { return now + seconds(p.delay_s) + rtt_ + config_.grace; };
  for (auto& p : probes_) {
    if (p.stage == Stage::SendRequest && p.kind == TimeoutKind::Pending) {
      for (int c = 0; c < config_.copies; ++c)
        out.push_back({p.socket, server_,
                       bytes_of(wire::encode(wire::DelayedReflectRequest{
                           p.first_request_id + static_cast<std::uint32_t>(c), requested_delay_ms(p.delay_s), cookie_}))});
      p.stage = Stage::Waiting;
      p.deadline = wait(p);
    } else if (p.stage == Stage::SendRequest) {  // idle kinds: establish first (again)
      const auto reflect_id = p.first_request_id + static_cast<std::uint32_t>(config_.copies);
      out.push_back({p.socket, server_, bytes_of(wire::encode(wire::ReflectRequest{reflect_id}))});
      ++p.attempts;
      p.stage = Stage::Establishing;
      p.deadline = now + config_.reflect_timeout;
    } else if (p.stage == Stage::SendSchedule) {
      for (int c = 0; c < config_.copies; ++c)
        out.push_back({p.socket, server_,
                       bytes_of(wire::encode(wire::ScheduleProbeRequest{p.first_request_id + static_cast<std::uint32_t>(c),
                                                                        requested_delay_ms(p.delay_s), false, cookie_}))});
      p.stage = Stage::Waiting;
      p.deadline = wait(p);
    }
  }
}

std::optional<TimeoutProberEvent> TimeoutProber::poll_event() {
  if (auto outcome = take_front(outcomes_)) return *outcome;
  return std::nullopt;
}

void TimeoutProber::on_send_error(TimePoint, SocketId socket, const Endpoint&, SendError) {
  // The request never left: the mapping was not tested, so nothing is known.
  auto it = std::find_if(probes_.begin(), probes_.end(), [socket](const Probe& p) { return p.socket == socket; });
  if (it != probes_.end()) finish(static_cast<std::size_t>(it - probes_.begin()), std::nullopt);
}

void TimeoutProber::finish(std::size_t index, std::optional<bool> alive) {
  const Probe& p = probes_[index];
  outcomes_.push_back({p.id, p.kind, p.delay_s, alive});
  released_.push_back(p.socket);
  std::erase_if(queued_, [&](const Transmit& t) { return t.socket == p.socket; });
  probes_.erase(probes_.begin() + static_cast<std::ptrdiff_t>(index));
}

void TimeoutProber::on_datagram(TimePoint now, SocketId socket, const Endpoint&, std::span<const std::uint8_t> bytes) {
  auto it = std::find_if(probes_.begin(), probes_.end(), [socket](const Probe& p) { return p.socket == socket; });
  if (it == probes_.end()) return;
  auto decoded = wire::decode_measure(bytes);
  if (!decoded) return;
  const auto copies = static_cast<std::uint32_t>(config_.copies);
  if (const auto* refusal = std::get_if<wire::Refusal>(&*decoded)) {
    // Not scheduled: nothing is known about the mapping.
    if (it->stage == Stage::Waiting && refusal->id - it->first_request_id < copies) {
      if (refusal->reason == wire::RefusalReason::NeedCookie) cookie_refused_ = true;
      finish(static_cast<std::size_t>(it - probes_.begin()), std::nullopt);
    }
    return;
  }
  const auto* r = std::get_if<wire::Reflection>(&*decoded);
  if (!r) return;
  if (it->stage == Stage::Establishing && r->id == it->first_request_id + copies) {
    if (!it->first_reply) it->first_reply = now;
    if (it->kind == TimeoutKind::IdleAfterOneReply || now - *it->first_reply >= config_.establish_for) {
      it->stage = Stage::SendSchedule;
    } else {
      it->stage = Stage::EstablishPause;  // the next exchange of the conversation
      it->deadline = now + config_.establish_interval;
    }
    return;
  }
  if (it->stage == Stage::Waiting && r->id - it->first_request_id < copies) {
    const bool right_kind = it->kind == TimeoutKind::Pending ? r->answered == wire::MeasureKind::DelayedReflect
                                                             : r->answered == wire::MeasureKind::ScheduleProbe;
    if (right_kind) finish(static_cast<std::size_t>(it - probes_.begin()), true);
  }
}

void TimeoutProber::on_timer(TimePoint now) {
  for (std::size_t i = probes_.size(); i-- > 0;) {
    Probe& p = probes_[i];
    if (p.stage == Stage::Establishing && p.deadline <= now) {
      if (p.attempts < config_.reflect_attempts)
        p.stage = Stage::SendRequest;
      else
        finish(i, std::nullopt);
    } else if (p.stage == Stage::EstablishPause && p.deadline <= now) {
      p.stage = Stage::SendRequest;
      p.attempts = 0;
    } else if (p.stage == Stage::Waiting && p.deadline <= now) {
      finish(i, false);
    }
  }
}

std::optional<TimePoint> TimeoutProber::next_deadline() const {
  if (!queued_.empty()) return kTimeZero;
  std::optional<TimePoint> next;
  for (const auto& p : probes_) {
    const TimePoint t = (p.stage == Stage::SendRequest || p.stage == Stage::SendSchedule) ? kTimeZero : p.deadline;
    if (!next || t < *next) next = t;
  }
  return next;
}

}  // namespace natpunch::measure

#include "measure/server.hpp"

#include <algorithm>
#include <variant>

namespace natpunch::measure {

Server::Server(ServerConfig config, std::vector<std::uint16_t> socket_ports, CollectionSink sink)
    : config_(std::move(config)), ports_(std::move(socket_ports)), sink_(std::move(sink)) {
  config_.socket_count = std::max<std::size_t>(1, config_.socket_count);
  ports_.resize(config_.socket_count, 0);
  if (config_.rate_limit) limiter_.emplace(*config_.rate_limit, config_.hash_seed);
}

Outgoing Server::reflection(std::uint32_t id, wire::MeasureKind answered, const Endpoint& from,
                            std::size_t socket) const {
  Outgoing out;
  out.socket = socket;
  out.to = from;
  out.bytes = wire::encode(wire::Reflection{id, answered, from, ports_[socket]});
  out.length = wire::kReflectionSize;
  return out;
}

bool Server::schedule(TimePoint due, Outgoing out) {
  if (queue_.size() >= config_.max_pending) {
    ++counters_.dropped_queue_full;
    return false;
  }
  queue_.push(Scheduled{due, sequence_++, out});
  ++counters_.scheduled;
  return true;
}

std::optional<Outgoing> Server::handle(TimePoint now, std::span<const std::uint8_t> datagram, const Endpoint& from,
                                       std::size_t received_on) {
  ++counters_.received;
  if (received_on >= config_.socket_count) received_on = 0;
  auto decoded = wire::decode_measure(datagram);
  if (!decoded) {
    ++counters_.dropped_malformed;
    return std::nullopt;
  }
  const auto& message = *decoded;
  if (std::holds_alternative<wire::Reflection>(message) || std::holds_alternative<wire::SizeReport>(message)) {
    ++counters_.dropped_not_request;
    return std::nullopt;
  }
  if (limiter_ && !limiter_->allow(now, from.address)) {
    ++counters_.dropped_rate_limited;
    return std::nullopt;
  }
  const auto delay_of = [&](std::uint32_t ms) -> std::optional<Duration> {
    const Duration d = milliseconds(ms);
    if (d > config_.max_delay) {
      ++counters_.dropped_delay_too_long;
      return std::nullopt;
    }
    return d;
  };

  if (const auto* r = std::get_if<wire::ReflectRequest>(&message)) {
    ++counters_.replied;
    return reflection(r->id, wire::MeasureKind::Reflect, from, received_on);
  }
  if (const auto* r = std::get_if<wire::DelayedReflectRequest>(&message)) {
    if (auto d = delay_of(r->delay_ms))
      schedule(now + *d, reflection(r->id, wire::MeasureKind::DelayedReflect, from, received_on));
    return std::nullopt;
  }
  if (const auto* r = std::get_if<wire::ScheduleProbeRequest>(&message)) {
    if (auto d = delay_of(r->delay_ms)) {
      const std::size_t socket =
          r->from_other_port && config_.socket_count > 1 ? (received_on + 1) % config_.socket_count : received_on;
      schedule(now + *d, reflection(r->id, wire::MeasureKind::ScheduleProbe, from, socket));
    }
    return std::nullopt;
  }
  if (const auto* r = std::get_if<wire::SizeEchoRequest>(&message)) {
    Outgoing out;
    out.socket = received_on;
    out.to = from;
    const auto bytes = wire::encode(wire::SizeReport{r->id, static_cast<std::uint32_t>(r->length)});
    std::copy(bytes.begin(), bytes.end(), out.bytes.begin());
    out.length = bytes.size();
    ++counters_.replied;
    return out;
  }
  if (const auto* c = std::get_if<wire::CollectPacket>(&message)) {
    ++counters_.collected;
    if (sink_) sink_(CollectionRow{c->uuid, c->send_time_ms, from, ports_[received_on], now});
    return std::nullopt;
  }
  ++counters_.dropped_not_request;
  return std::nullopt;
}

std::vector<Outgoing> Server::take_due(TimePoint now) {
  std::vector<Outgoing> due;
  while (!queue_.empty() && queue_.top().due <= now) {
    due.push_back(queue_.top().out);
    queue_.pop();
    ++counters_.sent_scheduled;
  }
  return due;
}

std::optional<TimePoint> Server::next_deadline() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.top().due;
}

}  // namespace natpunch::measure

#include "measure/mapping_collector.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

namespace natpunch::measure {

MappingCollector::MappingCollector(MappingCollectorConfig config, Rng& rng) : config_(std::move(config)), rng_(rng) {
  config_.rate_per_second = std::max(0.001, config_.rate_per_second);
}

SocketOptions MappingCollector::socket_options(SocketId) {
  return SocketOptions{static_cast<std::uint16_t>(rng_.uniform(config_.local_ports.first, config_.local_ports.last))};
}

void MappingCollector::on_socket_bound(TimePoint, SocketId socket, const Endpoint& local) {
  if (!current_ || current_->socket != socket) return;
  current_->row.local_port = local.port;
  current_->bound = true;
}

void MappingCollector::on_send_error(TimePoint, SocketId socket, const Endpoint&, SendError) {
  if (current_ && current_->socket == socket) current_->failed = true;
}

std::optional<Transmit> MappingCollector::poll_transmit(TimePoint now) {
  if (sent_ >= config_.count || current_) return std::nullopt;
  if (next_send_ && now < *next_send_) return std::nullopt;
  const auto interval = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(1.0 / config_.rate_per_second));
  next_send_ = (next_send_ ? *next_send_ : now) + interval;
  if (*next_send_ < now) next_send_ = now;  // a stall does not turn into a burst

  Current c;
  rng_.fill(c.row.uuid);
  c.row.uuid[6] = static_cast<std::uint8_t>((c.row.uuid[6] & 0x0f) | 0x40);  // RFC 9562 version 4
  c.row.uuid[8] = static_cast<std::uint8_t>((c.row.uuid[8] & 0x3f) | 0x80);  // variant 10
  c.row.server_port = static_cast<std::uint16_t>(rng_.uniform(config_.server_ports.first, config_.server_ports.last));
  c.row.send_time_ms = static_cast<std::uint64_t>(
      wall_offset_ms_ + std::chrono::duration_cast<milliseconds>(now.time_since_epoch()).count());
  c.socket = next_socket_++;
  ++sent_;
  const auto bytes = wire::encode(wire::CollectPacket{static_cast<std::uint32_t>(sent_), c.row.uuid, c.row.send_time_ms});
  Transmit t{c.socket, Endpoint{config_.server, c.row.server_port}, std::span<const std::uint8_t>(bytes)};
  current_ = std::move(c);
  return t;
}

// The driver has bound the packet's socket (or failed to), sent it and
// told of a failure: the row is final.
void MappingCollector::settle() {
  if (!current_) return;
  if (!current_->bound || current_->failed) {
    // Never sent: a row would claim a mapping the NAT never made.
    ++unsent_;
  } else {
    settled_.push_back(current_->row);
  }
  releasing_.push_back(current_->socket);
  current_.reset();
}

void MappingCollector::on_timer(TimePoint) { settle(); }

std::optional<MappingCollectorEvent> MappingCollector::poll_event() {
  if (auto row = take_front(settled_)) return collection_event::Sent{*row};
  if (!done() || done_reported_) return std::nullopt;
  done_reported_ = true;
  return collection_event::Done{sent(), unsent_};
}

std::optional<TimePoint> MappingCollector::next_deadline() const {
  if (current_) return kTimeZero;  // settle it at once (after the driver's report of its send)
  if (sent_ >= config_.count) return std::nullopt;
  return next_send_ ? *next_send_ : kTimeZero;
}

}  // namespace natpunch::measure

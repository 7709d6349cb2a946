#include "measure/mapping_collector.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

namespace natpunch::measure {

MappingCollector::MappingCollector(MappingCollectorConfig config, Rng& rng) : config_(std::move(config)), rng_(rng) {
  config_.rate_per_second = std::max(0.001, config_.rate_per_second);
}

std::uint16_t MappingCollector::local_port_for(SocketId) {
  return static_cast<std::uint16_t>(rng_.uniform(config_.local_ports.first, config_.local_ports.last));
}

void MappingCollector::on_socket_opened(SocketId, std::uint16_t local_port) { opened_port_ = local_port; }

void MappingCollector::on_send_error(TimePoint, SocketId, bool) { send_failed_ = true; }

std::vector<SocketDatagram> MappingCollector::poll_transmit(TimePoint now) {
  if (sent_ >= config_.count) return {};
  if (next_send_ && now < *next_send_) return {};
  const auto interval = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(1.0 / config_.rate_per_second));
  next_send_ = (next_send_ ? *next_send_ : now) + interval;
  if (*next_send_ < now) next_send_ = now;  // a stall does not turn into a burst

  CollectedRow row;
  rng_.fill(row.uuid);
  row.uuid[6] = static_cast<std::uint8_t>((row.uuid[6] & 0x0f) | 0x40);  // RFC 9562 version 4
  row.uuid[8] = static_cast<std::uint8_t>((row.uuid[8] & 0x3f) | 0x80);  // variant 10
  row.server_port = static_cast<std::uint16_t>(rng_.uniform(config_.server_ports.first, config_.server_ports.last));
  row.send_time_ms = static_cast<std::uint64_t>(
      wall_offset_ms_ + std::chrono::duration_cast<milliseconds>(now.time_since_epoch()).count());
  const SocketId socket = next_socket_++;
  ++sent_;
  // The driver opens the socket (and reports its port) before sending, so
  // the row is completed in poll_closed(), after the send.
  rows_.push_back(row);
  closing_.push_back(socket);
  opened_port_ = 0;
  send_failed_ = false;
  const auto bytes = wire::encode(wire::CollectPacket{static_cast<std::uint32_t>(sent_), row.uuid, row.send_time_ms});
  return {SocketDatagram{socket, Endpoint{config_.server, row.server_port}, {bytes.begin(), bytes.end()}}};
}

std::vector<SocketId> MappingCollector::poll_closed() {
  if (!rows_.empty() && rows_.back().local_port == 0) {
    if (opened_port_ == 0 || send_failed_) {
      // Never sent: a row would claim a mapping (with the previous socket's
      // port, before) that the NAT never made.
      rows_.pop_back();
      ++unsent_;
    } else {
      rows_.back().local_port = opened_port_;
    }
  }
  return std::exchange(closing_, {});
}

std::optional<TimePoint> MappingCollector::next_deadline() const {
  if (sent_ >= config_.count) return std::nullopt;
  return next_send_ ? *next_send_ : kTimeZero;
}

}  // namespace natpunch::measure

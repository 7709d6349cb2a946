#include "measure/mapping_sampler.hpp"

#include <algorithm>
#include <chrono>
#include <utility>
#include <variant>

#include "wire/measure_messages.hpp"

namespace natpunch::measure {

MappingSampler::MappingSampler(MappingSamplerConfig config, Rng& rng, std::uint32_t id_seed)
    : config_(std::move(config)), rng_(rng), next_id_(id_seed) {
  config_.rate_per_second = std::max(0.001, config_.rate_per_second);
}

SocketOptions MappingSampler::socket_options(SocketId) {
  return SocketOptions{static_cast<std::uint16_t>(rng_.uniform(config_.local_ports.first, config_.local_ports.last))};
}

void MappingSampler::on_socket_bound(TimePoint, SocketId socket, const Endpoint& local) {
  for (auto& w : waiting_)
    if (w.socket == socket) rows_[w.index].local_port = local.port;
}

void MappingSampler::on_send_error(TimePoint, SocketId socket, const Endpoint&, SendError) {
  auto it = std::find_if(waiting_.begin(), waiting_.end(), [socket](const Waiting& w) { return w.socket == socket; });
  if (it == waiting_.end()) return;
  released_.push_back(socket);
  waiting_.erase(it);
}

std::optional<MappingSamplerEvent> MappingSampler::poll_event() {
  if (!done() || done_reported_) return std::nullopt;
  done_reported_ = true;
  return sampler_event::Done{rows(), sent_};
}

std::optional<Transmit> MappingSampler::poll_transmit(TimePoint now) {
  if (sent_ >= config_.count || (next_send_ && now < *next_send_)) return std::nullopt;
  if (!first_send_) first_send_ = now;
  const auto interval =
      std::chrono::duration_cast<Duration>(std::chrono::duration<double>(1.0 / config_.rate_per_second));
  next_send_ = std::max(now, (next_send_ ? *next_send_ : now) + interval);
  SampledMapping row;
  row.time_ms = std::chrono::duration<double, std::milli>(now - *first_send_).count();
  row.server_port = static_cast<std::uint16_t>(rng_.uniform(config_.server_ports.first, config_.server_ports.last));
  rows_.push_back(row);
  got_.push_back(false);
  const SocketId socket = next_socket_++;
  const std::uint32_t id = next_id_++;
  waiting_.push_back({socket, id, rows_.size() - 1, now + config_.reply_timeout});
  ++sent_;
  const auto bytes = wire::encode(wire::ReflectRequest{id});
  return Transmit{socket, Endpoint{config_.server, row.server_port}, std::span<const std::uint8_t>(bytes)};
}

void MappingSampler::on_datagram(TimePoint, SocketId socket, const Endpoint&, std::span<const std::uint8_t> bytes) {
  auto it = std::find_if(waiting_.begin(), waiting_.end(), [socket](const Waiting& w) { return w.socket == socket; });
  if (it == waiting_.end()) return;
  auto decoded = wire::decode_measure(bytes);
  if (!decoded) return;
  const auto* r = std::get_if<wire::Reflection>(&*decoded);
  if (!r || r->id != it->id) return;
  rows_[it->index].mapped_port = r->observed.port;
  got_[it->index] = true;
  ++answered_;
  released_.push_back(socket);
  waiting_.erase(it);
}

void MappingSampler::on_timer(TimePoint now) {
  for (std::size_t i = waiting_.size(); i-- > 0;)
    if (waiting_[i].deadline <= now) {
      released_.push_back(waiting_[i].socket);
      waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(i));
    }
}

std::optional<TimePoint> MappingSampler::next_deadline() const {
  std::optional<TimePoint> next;
  if (sent_ < config_.count) next = next_send_ ? *next_send_ : kTimeZero;
  for (const auto& w : waiting_)
    if (!next || w.deadline < *next) next = w.deadline;
  return next;
}

std::vector<SampledMapping> MappingSampler::rows() const {
  std::vector<SampledMapping> out;
  for (std::size_t i = 0; i < rows_.size(); ++i)
    if (got_[i]) out.push_back(rows_[i]);
  return out;
}

}  // namespace natpunch::measure

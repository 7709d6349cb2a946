#include "io/session_learning_transport.hpp"

namespace natpunch::io {

namespace {
// Bounds memory if the protocol stops reading; the protocol survives loss.
constexpr std::size_t kMaxQueued = 4096;
}  // namespace

SessionLearningTransport::SessionLearningTransport(std::vector<std::unique_ptr<Session>> sessions)
    : sessions_(std::move(sessions)) {
  for (std::size_t i = 0; i < sessions_.size(); ++i)
    if (sessions_[i]) readers_.emplace_back([this, i] { read_loop(i); });
}

SessionLearningTransport::~SessionLearningTransport() {
  stopping_ = true;
  for (auto& reader : readers_) reader.join();
  for (auto& session : sessions_)
    if (session) session->close();
}

void SessionLearningTransport::read_loop(std::size_t peer) {
  while (!stopping_) {
    auto payload = sessions_[peer]->receive(std::chrono::milliseconds(100));
    if (!payload) continue;
    std::lock_guard lock(mutex_);
    if (queue_.size() >= kMaxQueued) continue;
    queue_.push_back(learn::TransportDatagram{peer, std::move(*payload)});
    arrived_.notify_one();
  }
}

std::size_t SessionLearningTransport::max_datagram(std::size_t) const { return kMaxSessionPayload; }

bool SessionLearningTransport::send(std::size_t peer, std::span<const std::uint8_t> bytes) {
  return peer < sessions_.size() && sessions_[peer] && sessions_[peer]->send(bytes);
}

std::optional<learn::TransportDatagram> SessionLearningTransport::receive(TimePoint until) {
  std::unique_lock lock(mutex_);
  if (!arrived_.wait_until(lock, until, [this] { return !queue_.empty(); })) return std::nullopt;
  auto datagram = std::move(queue_.front());
  queue_.pop_front();
  return datagram;
}

std::string SessionLearningTransport::route(std::size_t peer) const {
  if (peer >= sessions_.size() || !sessions_[peer] || sessions_[peer]->stats().peer_closed) return "gone";
  return to_string(sessions_[peer]->route());
}

}  // namespace natpunch::io

namespace natpunch::io {

std::optional<SessionStats> SessionLearningTransport::stats(std::size_t peer) const {
  if (peer >= sessions_.size() || !sessions_[peer]) return std::nullopt;
  return sessions_[peer]->stats();
}

}  // namespace natpunch::io

#include "io/session_ports.hpp"

namespace natpunch::io {

namespace {
// Bounds memory if the machine stops reading; the protocols above survive loss.
constexpr std::size_t kMaxQueued = 4096;
}  // namespace

SessionPorts::SessionPorts(std::vector<std::unique_ptr<Session>> sessions) : sessions_(std::move(sessions)) {
  for (std::size_t i = 0; i < sessions_.size(); ++i)
    if (sessions_[i]) readers_.emplace_back([this, i] { read_loop(i); });
}

SessionPorts::~SessionPorts() {
  stopping_ = true;
  for (auto& reader : readers_) reader.join();
  for (auto& session : sessions_)
    if (session) session->close();
}

void SessionPorts::read_loop(std::size_t peer) {
  while (!stopping_) {
    auto payload = sessions_[peer]->receive(std::chrono::milliseconds(100));
    if (!payload) continue;
    std::lock_guard lock(mutex_);
    if (queue_.size() >= kMaxQueued) continue;
    queue_.push_back(Queued{static_cast<SocketId>(peer), std::move(*payload)});
    arrived_.notify_one();
  }
}

bool SessionPorts::send(const Transmit& t) {
  return t.socket < sessions_.size() && sessions_[t.socket] && sessions_[t.socket]->send(t.bytes.span());
}

std::optional<Arrival> SessionPorts::receive(TimePoint until) {
  std::unique_lock lock(mutex_);
  if (!arrived_.wait_until(lock, until, [this] { return !queue_.empty(); })) return std::nullopt;
  Queued next = std::move(queue_.front());
  queue_.pop_front();
  current_ = std::move(next.bytes);
  return Arrival{next.socket, Endpoint{}, current_};
}

std::string SessionPorts::route(std::size_t peer) const {
  if (peer >= sessions_.size() || !sessions_[peer] || sessions_[peer]->stats().peer_closed) return "gone";
  return to_string(sessions_[peer]->route());
}

std::optional<SessionStats> SessionPorts::stats(std::size_t peer) const {
  if (peer >= sessions_.size() || !sessions_[peer]) return std::nullopt;
  return sessions_[peer]->stats();
}

}  // namespace natpunch::io

#pragma once
// LearningTransport over natpunch Sessions (include/natpunch/session.hpp):
// one open Session per neighbour, authenticated end to end by the session
// key, direct or relayed. A reader thread per session feeds one queue, so
// receive() waits on all neighbours at once.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "learn/learning_transport.hpp"
#include "natpunch/session.hpp"

namespace natpunch::io {

class SessionLearningTransport final : public learn::LearningTransport {
 public:
  // sessions[i] carries neighbour i; null entries are neighbours we never reached.
  explicit SessionLearningTransport(std::vector<std::unique_ptr<Session>> sessions);
  ~SessionLearningTransport() override;
  SessionLearningTransport(const SessionLearningTransport&) = delete;
  SessionLearningTransport& operator=(const SessionLearningTransport&) = delete;

  std::size_t max_datagram(std::size_t peer) const override;
  bool send(std::size_t peer, std::span<const std::uint8_t> bytes) override;
  std::optional<learn::TransportDatagram> receive(TimePoint until) override;
  std::string route(std::size_t peer) const override;
  // The session's counters (bytes, datagrams, loss, route); nullopt for a neighbour never reached.
  std::optional<SessionStats> stats(std::size_t peer) const;
  const Session* session(std::size_t peer) const { return peer < sessions_.size() ? sessions_[peer].get() : nullptr; }

 private:
  void read_loop(std::size_t peer);

  std::vector<std::unique_ptr<Session>> sessions_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<learn::TransportDatagram> queue_;
  std::vector<std::thread> readers_;
};

}  // namespace natpunch::io

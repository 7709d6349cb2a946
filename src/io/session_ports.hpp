#pragma once
// Datagram ports (io/machine_driver.hpp) over natpunch Sessions
// (include/natpunch/session.hpp): socket k is the open Session to peer k,
// authenticated end to end by the session key, direct or relayed. A reader
// thread per session feeds one queue, so receive() waits on all at once.
// Transmit::to is ignored: a Session is a connected channel.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "io/machine_driver.hpp"
#include "natpunch/session.hpp"

namespace natpunch::io {

class SessionPorts {
 public:
  // sessions[k] carries peer k; null entries are peers we never reached.
  explicit SessionPorts(std::vector<std::unique_ptr<Session>> sessions);
  ~SessionPorts();
  SessionPorts(const SessionPorts&) = delete;
  SessionPorts& operator=(const SessionPorts&) = delete;

  // Never blocks. False: no session to that peer, or it refused the datagram.
  bool send(const Transmit& t);
  void flush() {}
  std::optional<Arrival> receive(TimePoint until);

  // "direct" or "relay" (for the report), "gone" when the session closed.
  std::string route(std::size_t peer) const;
  // The session's counters (bytes, datagrams, loss, route); nullopt for a peer never reached.
  std::optional<SessionStats> stats(std::size_t peer) const;
  const Session* session(std::size_t peer) const { return peer < sessions_.size() ? sessions_[peer].get() : nullptr; }

 private:
  struct Queued {
    SocketId socket;
    std::vector<std::uint8_t> bytes;
  };
  void read_loop(std::size_t peer);

  std::vector<std::unique_ptr<Session>> sessions_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<Queued> queue_;
  std::vector<std::uint8_t> current_;  // the bytes receive() last handed out
  std::vector<std::thread> readers_;
};

static_assert(DatagramPorts<SessionPorts>);

}  // namespace natpunch::io

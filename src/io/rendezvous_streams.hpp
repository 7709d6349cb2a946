#pragma once
// The rendezvous server's stream listeners (TCP, and TLS over TCP) for
// clients whose network blocks UDP: each connection carries framed
// rendezvous messages (rendezvous/stream_framing.hpp) to the one sans-IO
// server, and its answers back. Non-blocking sockets in the server loop's
// epoll set (an FdWatcher: io::UdpPorts), so the one real-time loop
// (io/server_loop.hpp) serves them beside the UDP socket; each message goes
// to rendezvous::Server::handle() with the connection's number as its
// stream.
//
// Who may connect and for how long is rendezvous::StreamGuard's (a bounded
// table, a per-address share, first-frame / frame / idle deadlines:
// slowloris-proof; tick() applies them); a broken frame or TLS error closes
// the connection; a client that does not read has at most max_backlog
// bytes queued, then its messages are dropped as UDP would drop them.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/endpoint.hpp"
#include "core/result.hpp"
#include "core/time.hpp"
#include "io/tls_client_session.hpp"
#include "io/udp_ports.hpp"
#include "rendezvous/stream_guard.hpp"

namespace natpunch::io {

struct RendezvousStreamCounters {
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t framing_errors = 0;   // connections closed for a broken frame
  std::uint64_t tls_failures = 0;     // connections closed for a failed handshake / TLS error
  std::uint64_t dropped_backlog = 0;  // answers dropped: the client did not read
};

class RendezvousStreams {
 public:
  using Deliver = std::function<void(std::span<const std::uint8_t> message, const Endpoint& from, std::uint64_t stream)>;
  static constexpr std::size_t kMaxBacklog = 256 * 1024;

  RendezvousStreams(FdWatcher& watcher, rendezvous::StreamLimits limits, std::uint64_t hash_seed, Deliver deliver);
  ~RendezvousStreams();
  RendezvousStreams(const RendezvousStreams&) = delete;
  RendezvousStreams& operator=(const RendezvousStreams&) = delete;

  // Listens on `at` (TCP); with `tls`, every connection speaks TLS with its
  // certificate. Returns the bound endpoint (port 0 resolved); the error
  // names the address.
  Result<Endpoint, std::string> listen(const Endpoint& at, std::shared_ptr<const TlsServerContext> tls);
  // Sends `message` as one frame on stream `id`; false when the stream is
  // gone or its backlog is full (dropped).
  bool send(std::uint64_t id, std::span<const std::uint8_t> message);
  // The guard's deadlines (closes the connections past theirs) and a
  // paused accept; call it now and then (the loop's tick: every second).
  void tick(TimePoint now);
  // Closes every connection and stops listening.
  void stop();

  std::size_t open() const { return guard_.open(); }
  const rendezvous::StreamGuard& guard() const { return guard_; }
  const rendezvous::StreamCounters& guard_counters() const { return guard_.counters(); }
  const RendezvousStreamCounters& counters() const { return counters_; }

 private:
  struct Connection;
  struct Listener {
    int fd = -1;
    std::shared_ptr<const TlsServerContext> tls;
    bool paused = false;  // out of descriptors: accept again at the next tick
  };
  void accept(Listener& listener);
  void on_ready(std::uint64_t id, std::uint32_t events);
  void on_bytes(Connection& c, std::span<const std::uint8_t> bytes);
  // Writes what it can of c.out; false when the connection broke (closed).
  bool write(Connection& c);
  void close(std::uint64_t id, bool tell_guard);

  FdWatcher& watcher_;
  rendezvous::StreamGuard guard_;
  Deliver deliver_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> connections_;
  std::vector<std::uint8_t> read_buffer_;
  std::vector<std::uint8_t> frame_;  // reused for each frame sent
  TimePoint next_expiry_{};
  RendezvousStreamCounters counters_;
};

}  // namespace natpunch::io

#pragma once
// The bytes between a TURN client machine (turn/client.hpp) and its server,
// as datagram ports for the one real-time loop (io/machine_driver.hpp): a
// UDP socket, a TCP connection, or TLS over TCP (io/tls_client_session.hpp
// does the TLS through memory BIOs; this file moves its bytes). The machine
// sees the same thing in every case: what it sends goes to the server
// (over UDP: to the transmit's destination, so a relay ranking can probe
// several servers from the one socket), what arrives comes back as
// datagrams over UDP (with their source), as pieces of the stream over
// TCP/TLS (the machine frames them itself).
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/endpoint.hpp"
#include "core/result.hpp"
#include "core/time.hpp"
#include "core/transmit.hpp"
#include "io/machine_driver.hpp"
#include "io/tls_client_session.hpp"
#include "turn/turn_error.hpp"

namespace natpunch::io {

struct TurnLinkOptions {
  turn::Transport transport = turn::Transport::kUdp;
  Endpoint server;
  // Local address to bind; default: any address of the server's family,
  // any port.
  std::optional<Endpoint> local;
  TlsClientOptions tls;  // kTls only
  // TCP connect plus TLS handshake.
  Duration connect_timeout = seconds(10);
  // Polled while the TCP connect and the TLS handshake wait (at least every
  // kStopPollInterval): true gives up at once with kInterrupted (Ctrl-C
  // during a connect to a server that drops SYNs must not wait it out).
  std::function<bool()> should_stop;
  // What the server is, for errors ("TURN server 1.2.3.4:3478 over tls: ..."):
  // the link carries the rendezvous over TCP/TLS too (io/peer_session.cpp).
  std::string label = "TURN server";
};

class TurnLink {
 public:
  static constexpr Duration kStopPollInterval = milliseconds(25);
  static constexpr const char* kInterrupted = "interrupted";
  // What a started link may hold for the server before it is ready.
  static constexpr std::size_t kMaxPendingBytes = 65536;

  // Opens the socket; for TCP/TLS connects and completes the handshake
  // within connect_timeout, blocking (start() and advance() in a poll loop).
  // Errors are one line naming the server; an open that should_stop ended
  // says kInterrupted.
  static Result<std::unique_ptr<TurnLink>, std::string> open(const TurnLinkOptions& options);

  // The same without blocking, for an event loop: opens the socket and
  // starts the TCP connect (UDP: ready at once). The caller watches
  // native_handle() and calls advance() when it is readable or writable
  // (what wants_writable() says) and by deadline(): Connecting ->
  // Handshaking (TLS) -> Ready, or Failed (failure(): the one line open()
  // would have returned). Errors known at once (socket, bind, TLS setup, a
  // refused connect) are returned here. should_stop is not used.
  static Result<std::unique_ptr<TurnLink>, std::string> start(const TurnLinkOptions& options, TimePoint now);
  enum class State { kConnecting, kHandshaking, kReady, kFailed };
  State advance(TimePoint now);
  State state() const { return state_; }
  bool ready() const { return state_ == State::kReady; }
  // When a link not yet ready fails for want of an answer.
  TimePoint deadline() const { return deadline_; }
  bool wants_writable() const { return state_ == State::kConnecting || !out_.empty(); }
  const std::string& failure() const { return failure_; }

  ~TurnLink();
  TurnLink(const TurnLink&) = delete;
  TurnLink& operator=(const TurnLink&) = delete;

  // Datagram ports (io/machine_driver.hpp). send(): UDP sends the datagram
  // now (a full socket buffer drops it, as the network would); TCP/TLS
  // queue it on the stream (flush() writes what the kernel takes). False
  // when the kernel refuses (no route) or the connection is broken; the
  // machine treats that as loss. Before the link is ready, TCP/TLS hold
  // what send() gets (up to kMaxPendingBytes) and write it once it is.
  // receive(): one datagram, or one piece of
  // the stream's plaintext, from the server; nullopt at `until` or once
  // the connection has closed (closed()).
  bool send(const Transmit& transmit);
  void flush();
  std::optional<Arrival> receive(TimePoint until);

  turn::Transport transport() const { return transport_; }
  // The socket, for an event loop's readiness set (read it with receive()).
  int native_handle() const { return fd_; }
  const Endpoint& server() const { return server_; }
  Endpoint local_endpoint() const;
  // TLS version and cipher ("" unless TLS).
  std::string tls_description() const;
  // The server ended the stream (or it broke: error()).
  bool closed() const { return closed_; }
  // The first error sending or receiving, for the report.
  const std::optional<std::string>& error() const { return error_; }
  // Stream bytes accepted by send() but not yet taken by the kernel.
  std::size_t backlog() const { return out_.size(); }

 private:
  TurnLink(turn::Transport transport, const Endpoint& server, int fd, std::string label);
  std::string where() const;
  bool write_out(std::string& error);
  // One non-blocking step of the TLS handshake: true once done, false while
  // it waits for the server; `error` set once it failed.
  bool tls_step(std::string& error);
  State fail(std::string error);
  std::optional<Arrival> read_available();
  void note_error(std::string error);

  turn::Transport transport_;
  Endpoint server_;
  std::string label_;
  int fd_ = -1;
  std::unique_ptr<TlsClientSession> tls_;
  std::vector<std::uint8_t> out_;        // stream bytes (ciphertext for TLS) not yet written
  std::vector<std::uint8_t> plain_;      // TLS plaintext not yet handed out
  std::vector<std::uint8_t> delivered_;  // what the last receive() points into (TLS)
  bool closed_ = false;
  std::optional<std::string> error_;
  State state_ = State::kReady;
  TimePoint deadline_{};
  Duration connect_timeout_{};
  std::string failure_;
  std::size_t held_ = 0;  // bytes send() took before the link was ready
  std::array<std::uint8_t, 65536> buffer_{};
};

}  // namespace natpunch::io

#pragma once
// The bytes between a TURN client machine (turn/client.hpp) and its server:
// a UDP socket, a TCP connection, or TLS over TCP (io/tls_client_session.hpp
// does the TLS through memory BIOs; this file moves its bytes). The machine
// sees the same thing in every case: what it sends goes to the server,
// what arrives is handed back as (from, bytes) — datagrams over UDP,
// pieces of the stream over TCP/TLS, which the machine frames itself.
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
};

class TurnLink {
 public:
  // Opens the socket; for TCP/TLS connects and completes the handshake
  // within connect_timeout. Errors are one line naming the server.
  static Result<std::unique_ptr<TurnLink>, std::string> open(const TurnLinkOptions& options);
  ~TurnLink();
  TurnLink(const TurnLink&) = delete;
  TurnLink& operator=(const TurnLink&) = delete;

  turn::Transport transport() const { return transport_; }
  const Endpoint& server() const { return server_; }
  Endpoint local_endpoint() const;
  // TLS version and cipher ("" unless TLS).
  std::string tls_description() const;

  // Sends one message to the server. UDP: one datagram (a full socket
  // buffer drops it, as the network would). TCP/TLS: queued on the stream
  // and written as far as the kernel takes it now. False with `error` when
  // the kernel refuses (no route) or the connection is broken.
  bool send(std::span<const std::uint8_t> bytes, std::string& error);
  // Stream bytes accepted by send() but not yet taken by the kernel.
  std::size_t backlog() const { return out_.size(); }

  enum class Wait : std::uint8_t { kInput, kTimeout, kClosed, kFailed };
  // Waits until something arrives from the server or `deadline` passes,
  // and hands what arrived to `deliver` (UDP: each datagram with its
  // source; TCP/TLS: each piece of plaintext, from = the server).
  // kClosed: the server ended the connection; kFailed: with `error`.
  Wait wait(TimePoint deadline, const std::function<void(const Endpoint&, std::span<const std::uint8_t>)>& deliver,
            std::string& error);

 private:
  TurnLink(turn::Transport transport, const Endpoint& server, int fd);
  bool flush(std::string& error);
  bool tls_handshake(TimePoint deadline, std::string& error);
  Wait read_stream(const std::function<void(const Endpoint&, std::span<const std::uint8_t>)>& deliver,
                   std::string& error);

  turn::Transport transport_;
  Endpoint server_;
  int fd_ = -1;
  std::unique_ptr<TlsClientSession> tls_;
  std::vector<std::uint8_t> out_;    // stream bytes (ciphertext for TLS) not yet written
  std::vector<std::uint8_t> plain_;  // TLS plaintext decrypted while sending, delivered by the next wait()
  std::array<std::uint8_t, 65536> buffer_{};
};

}  // namespace natpunch::io

#pragma once
// The rendezvous client's way around a network that blocks UDP: one TCP
// or TLS connection to the server's stream listener (io/turn_link.hpp moves
// the bytes, io/tls_client_session.hpp verifies the certificate), carrying
// the same messages in frames (rendezvous/stream_framing.hpp). The peer
// session's driver (io/peer_session.cpp) sends the session machine's
// datagrams for the server through it and feeds back what arrives.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/endpoint.hpp"
#include "core/result.hpp"
#include "core/time.hpp"
#include "io/tls_client_session.hpp"
#include "io/turn_link.hpp"
#include "rendezvous/stream_framing.hpp"

namespace natpunch::io {

struct RendezvousStreamOptions {
  turn::Transport transport = turn::Transport::kTcp;  // kTcp or kTls
  Endpoint server;                                     // the stream listener's address
  TlsClientOptions tls;                                // kTls
  Duration connect_timeout = seconds(3);               // TCP connect plus TLS handshake
  std::function<bool()> should_stop;                   // ends the connect or handshake (TurnLinkOptions)
};

// Why a connection failed: a refused certificate is not "no answer".
struct RendezvousStreamError {
  std::string message;  // one line naming the server
  bool certificate = false;
  bool interrupted = false;  // should_stop ended it
};

class RendezvousStreamLink {
 public:
  static Result<std::unique_ptr<RendezvousStreamLink>, RendezvousStreamError> open(
      const RendezvousStreamOptions& options);

  // Frames and queues one message (false: the connection is gone, or the
  // kernel and our queue are full: dropped like a datagram).
  bool send(std::span<const std::uint8_t> message);
  // Writes what the kernel takes now.
  void flush();
  // Every whole message that arrived, without waiting.
  void drain(const std::function<void(std::span<const std::uint8_t>)>& deliver);

  int native_handle() const { return link_->native_handle(); }
  const Endpoint& server() const { return link_->server(); }
  turn::Transport transport() const { return transport_; }
  // Closed by the server, or broken (error() says why).
  bool closed() const { return closed_ || link_->closed(); }
  std::optional<std::string> error() const;
  std::string tls_description() const { return link_->tls_description(); }

  static constexpr std::size_t kMaxBacklog = 256 * 1024;

 private:
  RendezvousStreamLink(std::unique_ptr<TurnLink> link, turn::Transport transport)
      : link_(std::move(link)), transport_(transport) {}

  std::unique_ptr<TurnLink> link_;
  turn::Transport transport_;
  rendezvous::StreamDeframer deframer_;
  bool closed_ = false;
  std::optional<std::string> error_;
};

}  // namespace natpunch::io

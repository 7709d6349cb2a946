#pragma once
// The client side of TLS (1.2 or later) through OpenSSL memory BIOs: the
// session never touches a socket. The caller feeds it the ciphertext that
// arrived, takes out the ciphertext to send, writes plaintext in and gets
// plaintext out; so the framing above it (turn/stream_framer.hpp) stays
// sans-IO, and io/turn_link.cpp is the only place that moves the bytes.
//
// Verification is on unless switched off: the server's certificate must
// chain to the CA file given (or to the system's trust store) and name
// `server_name` — as a DNS name, or as an IP address when it is one.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace natpunch::io {

struct TlsClientOptions {
  // The name the certificate must carry: a host name (also sent as SNI) or
  // an IP address literal (checked against the certificate's IP SANs).
  std::string server_name;
  // PEM file of the CA(s) to trust; empty: the system's default store.
  std::string ca_file;
  bool verify = true;
};

class TlsClientSession {
 public:
  // Fails (with a one-line reason) when OpenSSL cannot set up, the CA file
  // cannot be read, or verification is on without a server name.
  static Result<std::unique_ptr<TlsClientSession>, std::string> create(const TlsClientOptions& options);
  ~TlsClientSession();
  TlsClientSession(const TlsClientSession&) = delete;
  TlsClientSession& operator=(const TlsClientSession&) = delete;

  // Ciphertext that arrived from the server.
  void feed(std::span<const std::uint8_t> ciphertext);
  // Plaintext for the server; held until the handshake has finished.
  void write(std::span<const std::uint8_t> plaintext);
  // Advances the handshake, encrypts what write() queued and decrypts what
  // feed() brought, appending the plaintext to `plaintext_out`. False once
  // the session failed (error() says why: a refused certificate, a
  // protocol error).
  bool pump(std::vector<std::uint8_t>& plaintext_out);
  // Moves the ciphertext waiting to be sent into `out` (appending).
  void take_ciphertext(std::vector<std::uint8_t>& out);
  // Queues a close_notify (pump() then take_ciphertext()).
  void shutdown();

  bool handshake_done() const { return handshake_done_; }
  // The server sent close_notify.
  bool closed_by_peer() const { return closed_by_peer_; }
  const std::string& error() const { return error_; }
  // "TLSv1.3 TLS_AES_256_GCM_SHA384" once the handshake is done.
  std::string protocol_description() const;

 private:
  struct Handles;
  explicit TlsClientSession(std::unique_ptr<Handles> handles);
  bool fail_from_openssl(int ssl_error, const char* during);

  std::unique_ptr<Handles> handles_;
  std::vector<std::uint8_t> pending_plaintext_;
  bool handshake_done_ = false;
  bool closed_by_peer_ = false;
  std::string error_;
};

}  // namespace natpunch::io

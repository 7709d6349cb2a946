#pragma once
// TLS (1.2 or later) through OpenSSL memory BIOs: the session never
// touches a socket. Mostly the client side (create(): TURN, the rendezvous
// over TLS); accept() gives the server side of one connection (the
// rendezvous server's TLS listener), with a TlsServerContext. The caller feeds it the ciphertext that
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

// A server's certificate chain and private key (PEM files), loaded once
// and shared by the sessions it accepts.
class TlsServerContext {
 public:
  // Fails (one line naming the file) when either cannot be read or the key
  // does not match the certificate.
  static Result<std::unique_ptr<TlsServerContext>, std::string> load(const std::string& certificate_file,
                                                                     const std::string& key_file);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

 private:
  friend class TlsSession;
  explicit TlsServerContext(void* ctx) : ctx_(ctx) {}
  void* ctx_;  // SSL_CTX
};

class TlsSession {
 public:
  // Fails (with a one-line reason) when OpenSSL cannot set up, the CA file
  // cannot be read, or verification is on without a server name.
  static Result<std::unique_ptr<TlsSession>, std::string> create(const TlsClientOptions& options);
  // The server side of one connection, with `context`'s certificate.
  static Result<std::unique_ptr<TlsSession>, std::string> accept(const TlsServerContext& context);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Ciphertext that arrived from the server (the client, on the server side).
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
  explicit TlsSession(std::unique_ptr<Handles> handles);
  static Result<std::unique_ptr<TlsSession>, std::string> with_bios(std::unique_ptr<Handles> handles);
  bool fail_from_openssl(int ssl_error, const char* during);

  std::unique_ptr<Handles> handles_;
  std::vector<std::uint8_t> pending_plaintext_;
  bool handshake_done_ = false;
  bool closed_by_peer_ = false;
  std::string error_;
};

using TlsClientSession = TlsSession;

}  // namespace natpunch::io

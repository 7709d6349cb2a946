#include "io/tls_client_session.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <array>

#include "core/endpoint.hpp"

namespace natpunch::io {
namespace {

// The last error on OpenSSL's (thread-local) queue as text, and the queue
// emptied for the next operation.
std::string openssl_error_text() {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  std::array<char, 256> text{};
  ERR_error_string_n(code, text.data(), text.size());
  return text.data();
}

constexpr std::size_t kReadChunk = 16384;

}  // namespace

struct TlsSession::Handles {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  BIO* network_in = nullptr;   // ciphertext from the server, read by SSL
  BIO* network_out = nullptr;  // ciphertext SSL wrote, for the server
  ~Handles() {
    if (ssl != nullptr) SSL_free(ssl);  // frees both BIOs with it
    if (ctx != nullptr) SSL_CTX_free(ctx);
  }
};

TlsSession::TlsSession(std::unique_ptr<Handles> handles) : handles_(std::move(handles)) {}
TlsSession::~TlsSession() = default;

TlsServerContext::~TlsServerContext() { SSL_CTX_free(static_cast<SSL_CTX*>(ctx_)); }

Result<std::unique_ptr<TlsServerContext>, std::string> TlsServerContext::load(const std::string& certificate_file,
                                                                            const std::string& key_file) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return Unexpected{"TLS setup failed: " + openssl_error_text()};
  std::unique_ptr<TlsServerContext> context(new TlsServerContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, certificate_file.c_str()) != 1)
    return Unexpected{"cannot read the TLS certificate " + certificate_file + ": " + openssl_error_text()};
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    return Unexpected{"cannot read the TLS key " + key_file + ": " + openssl_error_text()};
  if (SSL_CTX_check_private_key(ctx) != 1)
    return Unexpected{"the TLS key " + key_file + " does not match the certificate " + certificate_file};
  return context;
}

Result<std::unique_ptr<TlsSession>, std::string> TlsSession::accept(const TlsServerContext& context) {
  ERR_clear_error();
  auto handles = std::make_unique<Handles>();
  auto* ctx = static_cast<SSL_CTX*>(context.ctx_);
  SSL_CTX_up_ref(ctx);  // the session's Handles frees its reference
  handles->ctx = ctx;
  auto session = with_bios(std::move(handles));
  if (session) SSL_set_accept_state((*session)->handles_->ssl);
  return session;
}

Result<std::unique_ptr<TlsSession>, std::string> TlsSession::with_bios(std::unique_ptr<Handles> handles) {
  handles->ssl = SSL_new(handles->ctx);
  handles->network_in = BIO_new(BIO_s_mem());
  handles->network_out = BIO_new(BIO_s_mem());
  if (handles->ssl == nullptr || handles->network_in == nullptr || handles->network_out == nullptr) {
    // Not handed to SSL yet: ours to free (BIO_free accepts null).
    BIO_free(handles->network_in);
    BIO_free(handles->network_out);
    return Unexpected{"TLS setup failed: " + openssl_error_text()};
  }
  SSL_set_bio(handles->ssl, handles->network_in, handles->network_out);
  return std::unique_ptr<TlsSession>(new TlsSession(std::move(handles)));
}

Result<std::unique_ptr<TlsSession>, std::string> TlsSession::create(const TlsClientOptions& options) {
  ERR_clear_error();
  if (options.verify && options.server_name.empty())
    return Unexpected{std::string("TLS verification needs the server's name or address to check the certificate against")};
  auto handles = std::make_unique<Handles>();
  handles->ctx = SSL_CTX_new(TLS_client_method());
  if (handles->ctx == nullptr) return Unexpected{"TLS setup failed: " + openssl_error_text()};
  SSL_CTX_set_min_proto_version(handles->ctx, TLS1_2_VERSION);
  if (options.verify) {
    SSL_CTX_set_verify(handles->ctx, SSL_VERIFY_PEER, nullptr);
    const int loaded = options.ca_file.empty()
                           ? SSL_CTX_set_default_verify_paths(handles->ctx)
                           : SSL_CTX_load_verify_locations(handles->ctx, options.ca_file.c_str(), nullptr);
    if (loaded != 1)
      return Unexpected{options.ca_file.empty() ? "cannot load the system's CA certificates: " + openssl_error_text()
                                                : "cannot read CA file " + options.ca_file + ": " + openssl_error_text()};
  } else {
    SSL_CTX_set_verify(handles->ctx, SSL_VERIFY_NONE, nullptr);
  }
  auto made = with_bios(std::move(handles));
  if (!made) return made;
  std::unique_ptr<TlsSession> session = std::move(*made);
  SSL* ssl = session->handles_->ssl;
  SSL_set_connect_state(ssl);
  if (!options.server_name.empty()) {
    if (IpAddress::parse(options.server_name)) {
      // An address: checked against the certificate's IP SANs; no SNI
      // (RFC 6066 allows host names only).
      if (options.verify &&
          X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), options.server_name.c_str()) != 1)
        return Unexpected{"TLS setup failed for address " + options.server_name + ": " + openssl_error_text()};
    } else {
      if (SSL_set_tlsext_host_name(ssl, options.server_name.c_str()) != 1 ||
          (options.verify && SSL_set1_host(ssl, options.server_name.c_str()) != 1))
        return Unexpected{"TLS setup failed for name " + options.server_name + ": " + openssl_error_text()};
    }
  }
  return session;
}

void TlsSession::feed(std::span<const std::uint8_t> ciphertext) {
  if (ciphertext.empty()) return;
  // A memory BIO grows as needed; it fails only when out of memory.
  BIO_write(handles_->network_in, ciphertext.data(), static_cast<int>(ciphertext.size()));
}

void TlsSession::write(std::span<const std::uint8_t> plaintext) {
  pending_plaintext_.insert(pending_plaintext_.end(), plaintext.begin(), plaintext.end());
}

bool TlsSession::fail_from_openssl(int ssl_error, const char* during) {
  const long verify = SSL_get_verify_result(handles_->ssl);
  if (verify != X509_V_OK) {
    error_ = std::string("certificate not accepted: ") + X509_verify_cert_error_string(verify);
  } else if (ssl_error == SSL_ERROR_SSL) {
    error_ = std::string("TLS ") + during + " failed: " + openssl_error_text();
  } else {
    error_ = std::string("TLS ") + during + " failed (OpenSSL error " + std::to_string(ssl_error) + ")";
  }
  ERR_clear_error();
  return false;
}

bool TlsSession::pump(std::vector<std::uint8_t>& plaintext_out) {
  if (!error_.empty()) return false;
  SSL* ssl = handles_->ssl;
  if (!handshake_done_) {
    ERR_clear_error();
    const int result = SSL_do_handshake(ssl);
    if (result != 1) {
      const int ssl_error = SSL_get_error(ssl, result);
      if (ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE) return true;
      return fail_from_openssl(ssl_error, "handshake");
    }
    handshake_done_ = true;
  }
  if (!pending_plaintext_.empty()) {
    ERR_clear_error();
    // Into a memory BIO a write never blocks: all of it or an error.
    const int written = SSL_write(ssl, pending_plaintext_.data(), static_cast<int>(pending_plaintext_.size()));
    if (written <= 0) return fail_from_openssl(SSL_get_error(ssl, written), "write");
    pending_plaintext_.erase(pending_plaintext_.begin(), pending_plaintext_.begin() + written);
  }
  std::array<std::uint8_t, kReadChunk> chunk{};
  while (!closed_by_peer_) {
    ERR_clear_error();
    const int read = SSL_read(ssl, chunk.data(), static_cast<int>(chunk.size()));
    if (read > 0) {
      plaintext_out.insert(plaintext_out.end(), chunk.begin(), chunk.begin() + read);
      continue;
    }
    const int ssl_error = SSL_get_error(ssl, read);
    if (ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE) break;
    if (ssl_error == SSL_ERROR_ZERO_RETURN) {
      closed_by_peer_ = true;
      break;
    }
    return fail_from_openssl(ssl_error, "read");
  }
  return true;
}

void TlsSession::take_ciphertext(std::vector<std::uint8_t>& out) {
  const std::size_t waiting = BIO_ctrl_pending(handles_->network_out);
  if (waiting == 0) return;
  const std::size_t old_size = out.size();
  out.resize(old_size + waiting);
  const int read = BIO_read(handles_->network_out, out.data() + old_size, static_cast<int>(waiting));
  out.resize(old_size + static_cast<std::size_t>(read > 0 ? read : 0));
}

void TlsSession::shutdown() {
  if (handshake_done_ && error_.empty()) SSL_shutdown(handles_->ssl);
}

std::string TlsSession::protocol_description() const {
  if (!handshake_done_) return {};
  return std::string(SSL_get_version(handles_->ssl)) + " " + SSL_CIPHER_get_name(SSL_get_current_cipher(handles_->ssl));
}

}  // namespace natpunch::io

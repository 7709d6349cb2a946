#include "rendezvous_stream_options.hpp"

#include "io/peer_session.hpp"

namespace natpunch::cli {

void add_rendezvous_stream_options(CLI::App& cmd, RendezvousStreamOptions& o) {
  cmd.add_option("--rendezvous-tcp-port", o.tcp_port,
                 "When UDP to the rendezvous gets no answer for 2 s (a network that blocks UDP), register over TCP "
                 "on this port (`rendezvous --tcp`; default: the UDP port), then over TLS; such a side relays only");
  cmd.add_option("--rendezvous-tls-port", o.tls_port,
                 "Port of the rendezvous's TLS listener (`rendezvous --tls`), tried after TCP; 0: no TLS")
      ->capture_default_str();
  cmd.add_option("--rendezvous-tls-ca", o.tls_ca,
                 "PEM file of the CA that signed the rendezvous's TLS certificate (default: the system's CAs); the "
                 "certificate must name the server (--rendezvous-tls-name); a mismatch is an error, never skipped")
      ->check(CLI::ExistingFile);
  cmd.add_option("--rendezvous-tls-name", o.tls_name,
                 "Name (or IP) the rendezvous's TLS certificate must carry (default: the server's address)");
  cmd.add_flag("--no-stream-fallback", o.no_fallback,
               "Never register over TCP/TLS: UDP only (the registration fails when UDP gets no answer)");
}

void to_session_options(const RendezvousStreamOptions& o, SessionOptions& options) {
  options.stream_fallback = !o.no_fallback;
  options.rendezvous_tcp_port = o.tcp_port;
  options.rendezvous_tls_port = o.tls_port;
  options.rendezvous_tls_ca = o.tls_ca;
  options.rendezvous_tls_name = o.tls_name;
}

std::optional<io::RendezvousFallback> to_fallback(const RendezvousStreamOptions& o) {
  if (o.no_fallback) return std::nullopt;
  SessionOptions options;
  to_session_options(o, options);
  return io::rendezvous_fallback(options);
}

}  // namespace natpunch::cli

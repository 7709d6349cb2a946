#pragma once
// A network that blocks UDP (issue 20 item 4): the options that say where
// the rendezvous's TCP and TLS listeners are and how to check its
// certificate (--rendezvous-tcp-port, --rendezvous-tls-port,
// --rendezvous-tls-ca, --rendezvous-tls-name, --no-stream-fallback),
// turned into the public SessionOptions' fields. Shared by every command
// that opens sessions (connect, listen, learn) and by `turn allocate
// --rendezvous`, which registers through io::RegistrationLink itself.
#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include <natpunch/session.hpp>

#include "io/registration_link.hpp"

namespace natpunch::cli {

struct RendezvousStreamOptions {
  std::uint16_t tcp_port = 0;
  std::uint16_t tls_port = 443;
  std::string tls_ca;
  std::string tls_name;
  bool no_fallback = false;
};

// Into `cmd`, or an option group of it.
void add_rendezvous_stream_options(CLI::App& cmd, RendezvousStreamOptions& o);
void to_session_options(const RendezvousStreamOptions& o, SessionOptions& options);
// For a plain rendezvous client (io::RendezvousClientRunner); nullopt: UDP only.
std::optional<io::RendezvousFallback> to_fallback(const RendezvousStreamOptions& o);

}  // namespace natpunch::cli

#pragma once
// Opens a natpunch::Session (include/natpunch/session.hpp) from a prepared
// rendezvous::ClientConfig. The session itself is the sans-IO
// session::PeerSessionMachine (register, get a session, punch stage by
// stage, relay, keepalives, re-punches, path following); this is its
// real-socket driver (io/peer_session.cpp): it opens socket 0, runs the
// machine through io::PunchDriver on the calling thread until the session
// is open, then on a background thread.
//
// The public natpunch::connect()/listen()/open_listener() (io/session_api.cpp)
// build the configuration from SessionOptions: the only way in, the CLI
// included.
#include <functional>
#include <memory>
#include <optional>

#include "io/registration_link.hpp"
#include "natpunch/session.hpp"
#include "punch/session_keeper.hpp"
#include "rendezvous/client.hpp"
#include "turn/client.hpp"

namespace natpunch::io {

enum class PeerRole { Listen, Connect };

struct PunchPlan {
  Duration hole_punch = milliseconds(2000);  // first stage when a NAT is unknown
  // The whole plan's bound: then the relay (zero: only the probe budget,
  // which at the thesis's rate lasts minutes).
  Duration punch_timeout = seconds(10);
  std::uint64_t probe_budget = 170000;
  Duration send_interval = std::chrono::microseconds(2980);
  std::uint32_t sockets = 256;
  bool force_relay = false;
  // Open on the relay as soon as the rendezvous pairs the peers; punching
  // goes on and moves the session direct (session::SessionConfig::open_early).
  bool open_early = false;
};

struct PeerSessionConfig {
  PeerRole role = PeerRole::Connect;
  rendezvous::ClientConfig client;             // server, identity, own NAT info, accept policy
  // Registered over IPv4 with IPv6 on the host: the rendezvous's IPv6
  // addresses, asked (STUN Binding from the IPv6 socket) for our IPv6
  // reflexive address, the srflx IPv6 candidate (rendezvous/server_families.hpp).
  std::vector<Endpoint> reflexive_v6_servers;
  std::optional<rendezvous::PublicKey> peer;   // Connect
  Duration wait = seconds(60);                 // for the session (registration: at most 10 s of it)
  PunchPlan plan;
  // idle_timeout is replaced by the smaller of both sides' NatInfo
  // idle_timeout_ms when either measured one.
  punch::KeepaliveConfig keepalive;
  bool keepalive_enabled = true;
  bool repunch = true;
  // The TURN relay route (session/turn_route.hpp): this server (--turn),
  // else, with use_offered_turn, the first the rendezvous offers over
  // turn_transport. Its link (io/turn_link.hpp) gets its own UDP socket or
  // TCP/TLS connection; turn_ca_file: the CA to check a TLS server with
  // (empty: the system's store).
  std::optional<turn::ClientConfig> turn;
  bool use_offered_turn = true;
  turn::Transport turn_transport = turn::Transport::kUdp;
  std::string turn_ca_file;
  // With `turn`: its TURN REST secret (coturn's static-auth-secret):
  // credentials are minted for each allocation, valid this long (the
  // machine's SessionConfig::turn_secret), instead of turn->credentials.
  std::string turn_secret;
  std::chrono::seconds turn_credential_ttl{600};
  std::function<void(const SessionProgress&)> on_progress;
  std::function<bool()> should_stop;
  // A network that blocks UDP: registers over TCP, then TLS, at the same
  // server; such a side relays only (io/registration_link.hpp).
  RendezvousFallback fallback;
};

Result<std::unique_ptr<Session>, Error> open_peer_session(PeerSessionConfig config);

// SessionOptions' stream fields (--rendezvous-tcp-port, ...) as the
// registration link's fallback (io/session_api.cpp).
RendezvousFallback rendezvous_fallback(const SessionOptions& options);

// An Error of `kind` saying `message` (one line, what to do).
Error session_error(ErrorKind kind, std::string message);

}  // namespace natpunch::io

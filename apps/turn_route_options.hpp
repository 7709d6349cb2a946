#pragma once
// The TURN relay route of `natpunch connect` / `listen` (issue 20 item 3):
// --turn, its credentials, --turn-transport, --turn-ca, --no-offered-turn,
// turned into io::PeerSessionConfig's TURN fields. Shared by both commands.
#include <string>

#include <CLI/CLI.hpp>

#include "io/peer_session.hpp"

namespace natpunch::cli {

struct TurnRouteOptions {
  std::string server;     // HOST[:PORT], or turn:HOST[:PORT] / turns:HOST[:PORT]
  std::string user, password;
  std::string secret;     // coturn's static-auth-secret: REST credentials are minted
  std::string transport = "udp";
  std::string ca_file;
  bool no_offered = false;
};

void add_turn_route_options(CLI::App& cmd, TurnRouteOptions& o);
// Fills the session config; a one-line error (exit 2) when the options
// do not make sense (no credentials, a name that does not resolve).
std::optional<std::string> apply_turn_route_options(const TurnRouteOptions& o, io::PeerSessionConfig& config);

}  // namespace natpunch::cli

#pragma once
// The TURN relay route of `natpunch connect` / `listen` (issue 20 item 3):
// --turn, its credentials, --turn-transport, --turn-ca, --no-offered-turn,
// turned into the public SessionOptions' TURN fields (the library checks
// them before anything is sent: io/session_turn_options.hpp). Shared by
// both commands.
#include <string>

#include <CLI/CLI.hpp>

#include <natpunch/session.hpp>

namespace natpunch::cli {

struct TurnRouteOptions {
  std::string server;     // HOST[:PORT], or turn:HOST[:PORT] / turns:HOST[:PORT]
  std::string user, password;
  std::string secret;     // coturn's static-auth-secret: REST credentials are minted
  int credential_ttl_s = 600;  // each minted credential's lifetime (one per allocation)
  std::string transport = "udp";
  std::string ca_file;
  bool no_offered = false;
};

void add_turn_route_options(CLI::App& cmd, TurnRouteOptions& o);
void to_session_options(const TurnRouteOptions& o, SessionOptions& options);

}  // namespace natpunch::cli

#include "turn_route_options.hpp"

namespace natpunch::cli {

void add_turn_route_options(CLI::App& cmd, TurnRouteOptions& o) {
  auto* server = cmd.add_option("--turn", o.server,
                                "Relay through this TURN server (RFC 8656; coturn) instead of the rendezvous's own "
                                "relay: HOST[:PORT] or turn:HOST[:PORT] (default port 3478, 5349 over TLS; turns:HOST "
                                "means TLS). Both peers announce their relayed address to each other; relayed data "
                                "goes through TURN once the peer is heard there, and still moves to a direct path "
                                "when one is punched. Needs --turn-secret or --turn-user/--turn-password");
  auto* user = cmd.add_option("--turn-user", o.user, "With --turn: long-term credentials, username")->needs(server);
  auto* password = cmd.add_option("--turn-password", o.password, "With --turn: long-term credentials, password")
                       ->envname("NATPUNCH_TURN_PASSWORD")
                       ->needs(server);
  auto* secret = cmd.add_option("--turn-secret", o.secret,
                                "With --turn: the server's static-auth-secret (coturn use-auth-secret): short-lived "
                                "TURN REST API credentials are minted from it (or NATPUNCH_TURN_SECRET)")
                     ->envname("NATPUNCH_TURN_SECRET")
                     ->needs(server);
  secret->excludes(user)->excludes(password);
  cmd.add_option("--turn-credential-ttl", o.credential_ttl_s,
                 "With --turn-secret: seconds each minted credential is valid. A new one is minted for every "
                 "allocation -- the first, and each new one made when an allocation is lost (a dropped TCP/TLS "
                 "link, a server restart) -- so an allocation keeps its own and none goes stale")
      ->check(CLI::Range(10, 7 * 24 * 3600))
      ->default_val(600)
      ->needs(secret);
  cmd.add_option("--turn-transport", o.transport,
                 "How to reach the TURN server: udp, tcp or tls (RFC 8656 framing; TLS checks the certificate). "
                 "Applies to --turn and to the relays the rendezvous offers")
      ->check(CLI::IsMember({"udp", "tcp", "tls"}))
      ->default_val("udp");
  cmd.add_option("--turn-ca", o.ca_file, "With --turn-transport tls: PEM file of the CA to trust (default: the system's)")
      ->check(CLI::ExistingFile);
  cmd.add_flag("--no-offered-turn", o.no_offered,
               "Ignore the TURN relays the rendezvous offers (natpunch rendezvous --turn-server): without --turn "
               "we allocate none; a peer that has a TURN relay is still reached at its relayed address from our UDP "
               "socket (\"TURN via the peer's relay ... (one-sided)\"), else the rendezvous's own relay carries "
               "relayed data");
}

void to_session_options(const TurnRouteOptions& o, SessionOptions& options) {
  options.turn_server = o.server;
  options.turn_username = o.user;
  options.turn_password = o.password;
  options.turn_secret = o.secret;
  options.turn_credential_ttl = std::chrono::seconds(o.credential_ttl_s);
  options.turn_transport = o.transport;
  options.turn_ca_file = o.ca_file;
  options.use_offered_turn = !o.no_offered;
}

}  // namespace natpunch::cli

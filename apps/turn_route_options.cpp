#include "turn_route_options.hpp"

#include <chrono>

#include "cli_checks.hpp"
#include "core/host_port.hpp"
#include "io/resolver.hpp"
#include "turn/rest_credentials.hpp"

namespace natpunch::cli {

namespace {

constexpr std::uint16_t kTurnPort = 3478;
constexpr std::uint16_t kTurnsPort = 5349;

std::optional<turn::Transport> transport_named(const std::string& name) {
  if (name == "udp") return turn::Transport::kUdp;
  if (name == "tcp") return turn::Transport::kTcp;
  if (name == "tls") return turn::Transport::kTls;
  return std::nullopt;
}

}  // namespace

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
  cmd.add_option("--turn-transport", o.transport,
                 "How to reach the TURN server: udp, tcp or tls (RFC 8656 framing; TLS checks the certificate). "
                 "Applies to --turn and to the relays the rendezvous offers")
      ->check(CLI::IsMember({"udp", "tcp", "tls"}))
      ->default_val("udp");
  cmd.add_option("--turn-ca", o.ca_file, "With --turn-transport tls: PEM file of the CA to trust (default: the system's)")
      ->check(CLI::ExistingFile);
  cmd.add_flag("--no-offered-turn", o.no_offered,
               "Ignore the TURN relays the rendezvous offers (natpunch rendezvous --turn-server): without --turn "
               "the rendezvous's own relay carries relayed data");
}

std::optional<std::string> apply_turn_route_options(const TurnRouteOptions& o, io::PeerSessionConfig& config) {
  auto transport = transport_named(o.transport);
  if (!transport) return "--turn-transport " + o.transport + ": expected udp, tcp or tls";
  config.use_offered_turn = !o.no_offered;
  config.turn_ca_file = o.ca_file;
  if (o.server.empty()) {
    config.turn_transport = *transport;
    return std::nullopt;
  }
  std::string where = o.server;
  if (where.rfind("turns:", 0) == 0) {
    where = where.substr(6);
    transport = turn::Transport::kTls;
  } else if (where.rfind("turn:", 0) == 0) {
    where = where.substr(5);
  }
  config.turn_transport = *transport;
  const std::uint16_t port = *transport == turn::Transport::kTls ? kTurnsPort : kTurnPort;
  auto host = parse_host_port(where, port);
  if (!host) return "--turn " + o.server + ": " + host.error();
  auto resolved = io::resolve_udp(where, port);
  if (!resolved) return "--turn: " + resolved.error();
  turn::ClientConfig c;
  c.server = resolved->front();
  c.server_name = host->literal ? std::string() : host->host;
  c.transport = *transport;
  if (!o.secret.empty()) {
    const auto now_unix =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    const auto minted = turn::mint_rest_credentials(o.secret, "natpunch", now_unix, std::chrono::hours(24));
    if (!minted) return "--turn-secret: could not mint credentials";
    c.credentials = minted->credentials;
  } else if (!o.user.empty() && !o.password.empty()) {
    c.credentials = {o.user, o.password};
  } else {
    return "--turn needs credentials: --turn-secret SECRET (TURN REST API) or --turn-user NAME --turn-password "
           "PASSWORD";
  }
  config.turn = std::move(c);
  return std::nullopt;
}

}  // namespace natpunch::cli

#include "io/session_turn_options.hpp"

#include <chrono>

#include "core/host_port.hpp"
#include "io/resolver.hpp"
#include "turn/rest_credentials.hpp"

namespace natpunch::io {

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

std::optional<std::string> apply_turn_options(const SessionOptions& o, PeerSessionConfig& config) {
  auto transport = transport_named(o.turn_transport);
  if (!transport) return "turn transport '" + o.turn_transport + "': expected udp, tcp or tls";
  config.use_offered_turn = o.use_offered_turn;
  config.turn_ca_file = o.turn_ca_file;
  config.turn_transport = *transport;
  if (o.turn_server.empty()) return std::nullopt;
  std::string where = o.turn_server;
  if (where.rfind("turns:", 0) == 0) {
    where = where.substr(6);
    transport = turn::Transport::kTls;
  } else if (where.rfind("turn:", 0) == 0) {
    where = where.substr(5);
  }
  config.turn_transport = *transport;
  const std::uint16_t port = *transport == turn::Transport::kTls ? kTurnsPort : kTurnPort;
  auto host = parse_host_port(where, port);
  if (!host) return "TURN server " + o.turn_server + ": " + host.error();
  auto resolved = resolve_udp(where, port);
  if (!resolved) return "TURN server: " + resolved.error();
  turn::ClientConfig c;
  c.server = resolved->front();
  c.server_name = host->literal ? std::string() : host->host;
  c.transport = *transport;
  if (!o.turn_secret.empty()) {
    // Minted by the session for each allocation (short-lived, fresh for
    // every new one): PeerSessionConfig::turn_secret. Checked here once.
    if (o.turn_credential_ttl < std::chrono::seconds(10) || o.turn_credential_ttl > std::chrono::hours(24 * 7))
      return "TURN credential lifetime " + std::to_string(o.turn_credential_ttl.count()) +
             " s: expected 10 s to 7 days";
    const auto now_unix =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    const auto minted = turn::mint_rest_credentials(o.turn_secret, "natpunch", now_unix, o.turn_credential_ttl);
    if (!minted) return "TURN secret: could not mint credentials";
    c.credentials = minted->credentials;
    config.turn_secret = o.turn_secret;
    config.turn_credential_ttl = o.turn_credential_ttl;
  } else if (!o.turn_username.empty() && !o.turn_password.empty()) {
    c.credentials = {o.turn_username, o.turn_password};
  } else {
    return "the TURN server " + o.turn_server +
           " needs credentials: a secret (TURN REST API) or a username and a password";
  }
  config.turn = std::move(c);
  return std::nullopt;
}

}  // namespace natpunch::io

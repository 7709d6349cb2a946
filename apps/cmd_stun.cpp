// `natpunch stun SERVER...`: print this host's mapped (server-reflexive) address.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "client_options.hpp"
#include "core/rng.hpp"
#include "io/os_random.hpp"
#include "io/udp_client.hpp"
#include "stun/binding_query.hpp"

namespace natpunch::cli {

namespace {

std::string optional_text(const std::optional<Endpoint>& e) { return e ? e->to_string() : "-"; }

nlohmann::json optional_json(const std::optional<Endpoint>& e) {
  return e ? nlohmann::json(e->to_string()) : nlohmann::json(nullptr);
}

int run(const ClientOptions& o) {
  auto local = parse_local(o);
  if (!local) return kExitUsage;
  auto servers = resolve_servers(o, *local);
  if (!servers) return kExitUsage;
  auto socket = io::UdpClient::open(*local);
  if (!socket) {
    std::cerr << "error: " << socket.error() << "\n";
    return kExitNoAnswer;
  }
  Rng rng(io::os_random_seed());
  stun::BindingQuery query(*servers, o.policy(), rng, Clock::now());
  auto send_error = io::drive(**socket, query);
  const auto& r = query.result();
  auto local_seen = (*socket)->local_endpoint_towards(servers->front());

  if (!r.answered) {
    std::cerr << "error: no STUN response from " << servers->size() << " server(s) (" << r.requests_sent
              << " requests";
    if (send_error) std::cerr << "; " << *send_error;
    std::cerr << "); is the server running and is UDP allowed?\n";
    return kExitNoAnswer;
  }
  if (r.error_code) {
    std::cerr << "error: server " << r.server.to_string() << " answered with STUN error " << *r.error_code << "\n";
    return kExitNoAnswer;
  }
  if (o.json) {
    nlohmann::json j{{"mapped_address", optional_json(r.mapped)},
                     {"local_address", local_seen.to_string()},
                     {"server", r.server.to_string()},
                     {"response_origin", optional_json(r.response_origin)},
                     {"other_address", optional_json(r.other_address)},
                     {"rtt_ms", std::chrono::duration<double, std::milli>(r.round_trip).count()},
                     {"requests_sent", r.requests_sent}};
    std::cout << j.dump() << "\n";
  } else {
    std::cout << "mapped address: " << optional_text(r.mapped) << "\n"
              << "local address:  " << local_seen.to_string() << "\n"
              << "server:         " << r.server.to_string() << " (other address " << optional_text(r.other_address)
              << ", rtt " << std::chrono::duration_cast<std::chrono::milliseconds>(r.round_trip).count() << " ms)\n";
  }
  return kExitOk;
}

}  // namespace

void add_stun_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<ClientOptions>();
  auto* cmd = app.add_subcommand("stun", "Ask a STUN server for this host's mapped (public) address");
  add_client_options(*cmd, *options);
  cmd->footer(
      "Examples:\n"
      "  natpunch stun 203.0.113.10:3478\n"
      "  natpunch stun stun1.example.org stun2.example.org --json\n"
      "Exit codes: 0 answered, 1 no answer (or STUN error), 2 bad arguments / unresolvable name.");
  cmd->callback([options, &exit_code] { exit_code = run(*options); });
}

}  // namespace natpunch::cli

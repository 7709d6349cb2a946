// `natpunch stun SERVER...`: print this host's mapped (server-reflexive) address.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "client_options.hpp"
#include "commands.hpp"
#include "io/stop_signals.hpp"

namespace natpunch::cli {

namespace {

int run(const ClientOptions& o) {
  StunOptions options;
  o.fill(options);
  io::StopSignals stop;  // Ctrl-C ends the wait for an answer (exit 130)
  options.stop = stop.predicate();
  auto r = query_mapped_address(options);
  if (!r) {
    std::cerr << "error: " << r.error().message << "\n";
    if (o.json) print_json_failure(r.error(), {"mapped_address", "local_address", "server", "other_address", "rtt_ms"});
    return exit_code_of(r.error());
  }
  const double rtt_ms = static_cast<double>(r->round_trip.count()) / 1000.0;
  if (o.json) {
    nlohmann::json j{{"mapped_address", r->mapped_address}, {"local_address", r->local_address},
                     {"server", r->server},                 {"rtt_ms", rtt_ms},
                     {"requests_sent", r->requests_sent}};
    j["other_address"] = r->other_address ? nlohmann::json(*r->other_address) : nlohmann::json(nullptr);
    std::cout << j.dump() << "\n";
  } else {
    std::cout << "mapped address: " << r->mapped_address << "\n"
              << "local address:  " << r->local_address << "\n"
              << "server:         " << r->server << " (other address " << r->other_address.value_or("-") << ", rtt "
              << rtt_ms << " ms)\n";
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
      "Exit codes: 0 answered, 1 no answer (or STUN error), 2 bad arguments / unresolvable name,\n"
      "130 interrupted (Ctrl-C / SIGTERM before an answer; under --json the object says \"interrupted\": true).");
  cmd->callback([options, &exit_code] { exit_code = run(*options); });
}

}  // namespace natpunch::cli

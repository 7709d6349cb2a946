// `natpunch nat-type SERVER...`: classify the NAT in front of this host
// (RFC 5780 mapping/filtering/hairpinning and the classic RFC 3489 type).
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "client_options.hpp"
#include "commands.hpp"
#include "io/stop_signals.hpp"

namespace natpunch::cli {

namespace {

nlohmann::json optional_json(const std::optional<std::string>& s) {
  return s ? nlohmann::json(*s) : nlohmann::json(nullptr);
}

struct NatTypeCliOptions {
  ClientOptions client;
  bool no_hairpin = false;
};

int run(const NatTypeCliOptions& o) {
  NatTypeOptions options;
  o.client.fill(options);
  options.test_hairpinning = !o.no_hairpin;
  io::StopSignals stop;  // Ctrl-C ends the tests with the findings so far (exit 130)
  options.stop = stop.predicate();
  auto r = detect_nat_type(options);
  if (!r) {
    std::cerr << "error: " << r.error().message << "\n";
    if (o.client.json)
      print_json_failure(r.error(), {"classic_type", "mapping", "filtering", "hairpinning", "mapped_address", "server"});
    return exit_code_of(r.error());
  }
  if (o.client.json) {
    nlohmann::json j{{"classic_type", to_string(r->classic_type)}, {"mapping", to_string(r->mapping)},
                     {"filtering", to_string(r->filtering)},       {"local_address", r->local_address},
                     {"note", r->note},
                     {"interrupted", r->interrupted}};
    j["hairpinning"] = r->hairpinning ? nlohmann::json(*r->hairpinning) : nlohmann::json(nullptr);
    j["mapped_address"] = optional_json(r->mapped_address);
    j["server"] = optional_json(r->server);
    j["server_alternate"] = optional_json(r->server_alternate);
    std::cout << j.dump() << "\n";
  } else {
    std::cout << "NAT type:       " << to_string(r->classic_type) << "\n"
              << "mapping:        " << to_string(r->mapping) << "\n"
              << "filtering:      " << to_string(r->filtering) << "\n"
              << "hairpinning:    " << (r->hairpinning ? (*r->hairpinning ? "yes" : "no") : "unknown") << "\n"
              << "mapped address: " << r->mapped_address.value_or("-") << "\n"
              << "local address:  " << r->local_address << "\n"
              << "server:         " << r->server.value_or("-")
              << (r->server_alternate ? " (alternate " + *r->server_alternate + ")" : "") << "\n";
    if (!r->note.empty()) std::cout << "note:           " << r->note << "\n";
    if (r->interrupted) std::cout << "(interrupted: findings so far)\n";
  }
  if (r->interrupted) {
    std::cerr << "interrupted\n";
    return kExitInterrupted;
  }
  if (!r->server) {
    std::cerr << "error: no STUN response from " << o.client.servers.size()
              << " server(s): UDP blocked or server down\n";
    return kExitNoAnswer;
  }
  return kExitOk;
}

}  // namespace

void add_nat_type_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<NatTypeCliOptions>();
  auto* cmd = app.add_subcommand(
      "nat-type", "Classify the NAT in front of this host (RFC 5780 behaviour + classic RFC 3489 type)");
  add_client_options(*cmd, options->client);
  cmd->add_flag("--no-hairpin", options->no_hairpin, "Skip the hairpinning test (saves one timeout when it fails)");
  cmd->footer(
      "The server needs two IP addresses and two ports (RFC 5780: `natpunch stun-server --alt`, coturn;\n"
      "or a classic RFC 3489 server such as stund); with one address only the mapped address is found.\n"
      "Examples:\n"
      "  natpunch nat-type 203.0.113.10:3478\n"
      "  natpunch nat-type stun1.example.org stun2.example.org --json\n"
      "Exit codes: 0 classified, 1 no server answered (reported as \"udp blocked\"), 2 bad arguments,\n"
      "130 interrupted (Ctrl-C / SIGTERM: the findings so far, \"interrupted\": true under --json).");
  cmd->callback([options, &exit_code] { exit_code = run(*options); });
}

}  // namespace natpunch::cli

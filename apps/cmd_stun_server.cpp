// `natpunch stun-server`: RFC 8489/5780 STUN server (RFC 3489 clients too).
#include <algorithm>
#include <iostream>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "core/endpoint.hpp"
#include "io/os_random.hpp"
#include "io/stun_server_runner.hpp"
#include "source_limit_options.hpp"
#include "stun/server.hpp"

namespace natpunch::cli {

namespace {

struct StunServerOptions {
  std::string listen;
  std::string alternate;
  std::string software;
  SourceLimitOptions limits;
  int stats_interval = 0;
  unsigned threads = 0;  // 0: one per core
  bool json_log = false;
};

nlohmann::json counters_json(const stun::ServerCounters& c) {
  return {{"received", c.received},
          {"answered", c.answered},
          {"errors_sent", c.errors_sent},
          {"dropped_malformed", c.dropped_malformed},
          {"dropped_not_request", c.dropped_not_request},
          {"dropped_rate_limited", c.dropped_rate_limited},
          {"dropped_no_room", c.dropped_no_room}};
}

std::string counters_line(const stun::ServerCounters& c) {
  return "received=" + std::to_string(c.received) + " answered=" + std::to_string(c.answered) +
         " errors_sent=" + std::to_string(c.errors_sent) + " dropped_malformed=" + std::to_string(c.dropped_malformed) +
         " dropped_not_request=" + std::to_string(c.dropped_not_request) +
         " dropped_rate_limited=" + std::to_string(c.dropped_rate_limited) +
         " dropped_no_room=" + std::to_string(c.dropped_no_room);
}

int run(const StunServerOptions& o) {
  auto primary = Endpoint::parse(o.listen);
  if (!primary) {
    std::cerr << "error: --listen '" << o.listen << "' is not IP:PORT (e.g. 203.0.113.10:3478)\n";
    return kExitUsage;
  }
  stun::ServerConfig config;
  config.primary = *primary;
  if (!o.alternate.empty()) {
    auto alt = Endpoint::parse(o.alternate);
    if (!alt) {
      std::cerr << "error: --alt '" << o.alternate << "' is not IP:PORT (e.g. 203.0.113.11:3479)\n";
      return kExitUsage;
    }
    if (alt->address == primary->address || alt->port == primary->port ||
        alt->address.family() != primary->address.family()) {
      std::cerr << "error: --alt must differ from --listen in both IP and port, same address family "
                   "(RFC 5780 needs two IPs x two ports)\n";
      return kExitUsage;
    }
    config.alternate = *alt;
  }
  if (auto bad = stun::software_error(o.software)) {
    std::cerr << "error: --software " << *bad << "\n";
    return kExitUsage;
  }
  config.software = o.software;
  apply(o.limits, config.rate_limit);
  config.hash_seed = io::os_random_seed();
  stun::Server server(config);

  io::StunServerRunOptions run_options;
  run_options.stats_interval = std::chrono::seconds(o.stats_interval);
  run_options.threads = o.threads != 0 ? o.threads : std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  const bool json = o.json_log;
  run_options.on_ready = [json](const std::string& line) {
    if (json)
      std::cout << nlohmann::json{{"event", "ready"}, {"message", line}}.dump() << std::endl;
    else
      std::cout << line << std::endl;
  };
  run_options.on_stats = [json](const stun::ServerCounters& c, bool final) {
    if (json)
      std::cout << nlohmann::json{{"event", final ? "stopped" : "stats"}, {"counters", counters_json(c)}}.dump()
                << std::endl;
    else
      std::cout << (final ? "stopped: " : "stats: ") << counters_line(c) << std::endl;
  };
  auto result = io::run_stun_server(server, run_options);
  if (!result) {
    std::cerr << "error: " << result.error() << "\n";
    return kExitNoAnswer;
  }
  return kExitOk;
}

}  // namespace

void add_stun_server_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<StunServerOptions>();
  auto* cmd = app.add_subcommand("stun-server", "Run a STUN server (RFC 8489; RFC 5780 behaviour discovery with --alt)");
  cmd->add_option("--listen", options->listen, "Primary IP:PORT to listen on")->required()->check(bind_address());
  cmd->add_option("--alt", options->alternate,
                  "Alternate IP:PORT; with it the server listens on all four IP x port pairs, honours "
                  "CHANGE-REQUEST and reports OTHER-ADDRESS, so clients can classify their NAT")
      ->check(bind_address());
  cmd->add_option("--software", options->software,
                  "SOFTWARE attribute (fewer than 128 characters, no control characters), sent only in responses "
                  "no larger than their request (default: none)");
  add_source_limit_options(cmd, options->limits, "requests", "");
  cmd->add_option("--stats-interval", options->stats_interval, "Print counters every N seconds (0: only at exit)")
      ->default_val(0)
      ->check(non_negative_number());
  cmd->add_option("--threads", options->threads,
                  "Worker threads, each with its own SO_REUSEPORT socket(s) (0: one per core, at most 8); "
                  "the ports of one source address (a carrier NAT) are spread over all workers, which share "
                  "one budget per address, so --rate and --address-rate hold exactly")
      ->default_val(0)
      ->check(CLI::Range(0u, 64u));
  cmd->add_flag("--json-log", options->json_log,
                "One JSON object per line on stdout (ready, stats, stopped: with the counters), for a log pipeline");
  cmd->footer(
      "Example (two addresses on this host):\n"
      "  natpunch stun-server --listen 203.0.113.10:3478 --alt 203.0.113.11:3479\n"
      "Stops cleanly on Ctrl-C / SIGTERM and prints its counters.\n"
      "Exit codes: 0 stopped by a signal, 1 cannot listen (address in use or not on this host), 2 bad option.");
  cmd->callback([options, &exit_code] { exit_code = run(*options); });
}

}  // namespace natpunch::cli

// `natpunch measure-server`: the other end of `natpunch measure ...`.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>

#include "commands.hpp"
#include "core/endpoint.hpp"
#include "io/measure_server_runner.hpp"
#include "io/os_random.hpp"
#include "io/rotating_log.hpp"
#include "source_limit_options.hpp"
#include "measure/port_range.hpp"
#include "wire/measure_messages.hpp"

namespace natpunch::cli {

namespace {

struct MeasureServerOptions {
  std::string listen;
  std::string ports = "40000-40099";
  std::string log;
  std::uint64_t log_max_bytes = 1024ull * 1024 * 1024;
  SourceLimitOptions limits{100.0, 400.0, 10'000.0, 20'000.0};
  std::size_t max_pending = 65536;
  int max_delay_s = 3600;
  int stats_interval = 0;
};

std::string counters_line(const measure::ServerCounters& c) {
  return "received=" + std::to_string(c.received) + " replied=" + std::to_string(c.replied) +
         " scheduled=" + std::to_string(c.scheduled) + " sent_scheduled=" + std::to_string(c.sent_scheduled) +
         " collected=" + std::to_string(c.collected) + " dropped_malformed=" + std::to_string(c.dropped_malformed) +
         " dropped_not_request=" + std::to_string(c.dropped_not_request) +
         " dropped_rate_limited=" + std::to_string(c.dropped_rate_limited) +
         " dropped_queue_full=" + std::to_string(c.dropped_queue_full) +
         " dropped_delay_too_long=" + std::to_string(c.dropped_delay_too_long) +
         " dropped_no_cookie=" + std::to_string(c.dropped_no_cookie) + " dropped_piled=" + std::to_string(c.dropped_piled) +
         " cookies_granted=" + std::to_string(c.cookies_granted);
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int run(const MeasureServerOptions& o) {
  auto main = Endpoint::parse(o.listen);
  if (!main) {
    std::cerr << "error: --listen '" << o.listen << "' is not IP:PORT (e.g. 203.0.113.10:3479)\n";
    return kExitUsage;
  }
  io::MeasureServerSockets sockets;
  sockets.main = *main;
  if (!o.ports.empty() && o.ports != "none") {
    auto range = measure::parse_port_range(o.ports);
    if (!range) {
      std::cerr << "error: --ports '" << o.ports << "': " << range.error() << "\n";
      return kExitUsage;
    }
    sockets.range_first = range->first;
    sockets.range_last = range->last;
  }
  // Appended, one flushed line per packet: Ctrl-C or a crash loses nothing
  // already received, and a restarted server continues the same log. A
  // flood of collection packets cannot fill the disk: past --log-max-bytes
  // the file is rotated to FILE.1.
  std::optional<io::RotatingLog> log;
  if (!o.log.empty()) {
    auto opened = io::RotatingLog::open(o.log, "uuid,time_ms,observed_port,server_port", o.log_max_bytes);
    if (!opened) {
      std::cerr << "error: --log: " << opened.error() << "\n";
      return kExitUsage;
    }
    log.emplace(std::move(opened.value()));
  }
  measure::ServerConfig config;
  apply(o.limits, config.rate_limit);
  config.max_pending = o.max_pending;
  config.max_delay = std::chrono::seconds(o.max_delay_s);
  config.hash_seed = io::os_random_seed();
  if (!io::os_random_bytes(config.cookie_secret)) {
    std::cerr << "error: the kernel has no randomness for the cookie key\n";
    return kExitNoAnswer;
  }

  io::RotatingLog* log_file = log ? &*log : nullptr;
  measure::CollectionSink sink = [log_file](const measure::CollectionRow& row) {
    if (!log_file) return;
    char line[128];
    const int n = std::snprintf(line, sizeof line, "%s,%lld,%u,%u", wire::uuid_text(row.uuid).c_str(),
                                static_cast<long long>(wall_ms()), static_cast<unsigned>(row.observed.port),
                                static_cast<unsigned>(row.received_on_port));
    if (n > 0) log_file->write_line(std::string_view(line, static_cast<std::size_t>(n)));
  };
  io::MeasureServerRunOptions run_options;
  run_options.stats_interval = std::chrono::seconds(o.stats_interval);
  run_options.on_ready = [](const std::string& line) { std::cout << line << std::endl; };
  run_options.on_stats = [](const measure::ServerCounters& c, bool final) {
    std::cout << (final ? "stopped: " : "stats: ") << counters_line(c) << std::endl;
  };
  auto result = io::run_measure_server(sockets, config, sink, run_options);
  if (!result) {
    std::cerr << "error: " << result.error() << "\n";
    return kExitNoAnswer;
  }
  return kExitOk;
}

}  // namespace

void add_measure_server_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<MeasureServerOptions>();
  auto* cmd = app.add_subcommand("measure-server",
                                 "Run the server `natpunch measure` talks to (timeouts, MTU, mapping collection)");
  cmd->add_option("--listen", options->listen,
                  "Main IP:PORT: reflects source endpoints, sends delayed replies and idle probes, echoes sizes")
      ->required()
      ->check(bind_address());
  cmd->add_option("--ports", options->ports,
                  "Collection port range A-B (also answers every request); 'none' for only the main port")
      ->default_val("40000-40099");
  cmd->add_option("--log", options->log,
                  "Append every mapping-collection packet to this CSV (uuid,time_ms,observed_port,server_port), "
                  "flushed per row; `natpunch analyze CLIENT.csv THIS` joins it with the client's log");
  cmd->add_option("--log-max-bytes", options->log_max_bytes,
                  "Largest size of the --log file; past it the file moves to FILE.1 (replacing an older one) "
                  "and a new one starts, so the log never takes more than twice this")
      ->default_val(1024ull * 1024 * 1024)
      ->check(CLI::Range(std::uint64_t{4096}, std::numeric_limits<std::uint64_t>::max()));
  add_source_limit_options(cmd, options->limits, "requests",
                           " (a measurement's probes count against the control socket their cookie came from)");
  cmd->add_option("--max-pending", options->max_pending,
                  "Delayed replies/probes queued at once, all clients (one source address may hold 1/64 of it, "
                  "one /24 or IPv6 /48 1/16)")
      ->default_val(65536)
      ->check(CLI::Range(1, 10'000'000));
  cmd->add_option("--max-delay", options->max_delay_s, "Longest delay a client may ask for, seconds")
      ->default_val(3600)
      ->check(CLI::Range(1, 86400));
  cmd->add_option("--stats-interval", options->stats_interval, "Print counters every N seconds (0: only at exit)")
      ->default_val(0)
      ->check(non_negative_number());
  cmd->footer(
      "Example:\n"
      "  natpunch measure-server --listen 203.0.113.10:3479 --ports 40000-40099 --log server.csv\n"
      "Replies are never larger than requests; per-source rate limits, a cookie proving the client\n"
      "receives at its address before anything is scheduled for it, and per-source shares of the queue\n"
      "bound what one client can make it do. Stops cleanly on Ctrl-C / SIGTERM.\n"
      "Exit codes: 0 stopped by a signal, 1 cannot listen, 2 bad option or --log not writable.");
  cmd->callback([options, &exit_code] { exit_code = run(*options); });
}

}  // namespace natpunch::cli

// `natpunch simulate matrix`: the thesis's Table I in the simulator. Every
// pair of carriers runs the naive birthday attack (Algorithm 1) through
// modelled NATs in virtual time, `--runs` times; the output is the S/F grid
// plus success rate and medians. Reproducible: the same --seed gives the
// same table whatever --threads is.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "io/profile_files.hpp"
#include "nat/profile.hpp"
#include "sim/carrier_presets.hpp"
#include "sim/matrix_runner.hpp"

namespace natpunch::cli {
namespace {

struct SimulateMatrixOptions {
  std::string strategy = "naive";
  std::size_t runs = 10;
  std::uint64_t probes = 170000;
  std::uint64_t seed = 1;
  std::vector<std::string> carriers;
  bool json = false;
  bool csv = false;
  double send_interval_ms = 2.98;
  unsigned threads = 0;  // 0: one per hardware thread
  bool full_grid = false;
  std::string local_ports = "fixed";
  bool quiet = false;
  std::string profiles;  // directory of carrier profiles; empty: the built-in presets
  double access_latency_ms = 10;
  double uplink_latency_ms = 5;
  double loss = 0;
  double start_skew_ms = 0;
};

Duration from_ms(double ms) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(ms));
}

std::string run_letters(const sim::MatrixCell& cell, const char* separator) {
  std::string out;
  for (std::size_t i = 0; i < cell.runs.size(); ++i) {
    if (i > 0) out += separator;
    out += cell.runs[i].connected ? 'S' : 'F';
  }
  return out;
}

std::string grouped(double value) {
  auto n = static_cast<std::uint64_t>(std::llround(value));
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string fixed(double value, int decimals) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(decimals) << value;
  return s.str();
}

void print_text(const sim::MatrixConfig& config, const sim::MatrixResult& result) {
  const auto& carriers = config.carriers;
  std::size_t name_width = 0;
  for (const auto& c : carriers) name_width = std::max(name_width, c.display.size());
  const std::size_t cell_width = std::max<std::size_t>(name_width, config.runs * 2);

  std::cout << "Naive birthday attack (Algorithm 1), " << config.runs << " runs x " << grouped(double(config.probes))
            << " probes per side, one probe per " << fixed(std::chrono::duration<double, std::milli>(config.send_interval).count(), 2)
            << " ms, seed " << config.seed << "\n";
  const auto ms = [](Duration d) { return fixed(std::chrono::duration<double, std::milli>(d).count(), 1); };
  std::cout << "Paths: " << ms(config.path.access.latency) << " ms phone <-> NAT, " << ms(config.path.uplink.latency)
            << " ms NAT <-> internet, loss " << config.path.uplink.loss << " per uplink, B starts "
            << ms(config.start_skew) << " ms after A\n";
  std::cout << "S = connected during the attack, F = no probe got through (cf. thesis Table I)\n\n";
  std::cout << std::left << std::setw(static_cast<int>(name_width)) << "" << "  ";
  for (const auto& c : carriers) std::cout << std::setw(static_cast<int>(cell_width)) << c.display << "  ";
  std::cout << "\n";
  for (std::size_t row = 0; row < carriers.size(); ++row) {
    std::cout << std::setw(static_cast<int>(name_width)) << carriers[row].display << "  ";
    for (std::size_t column = 0; column < carriers.size(); ++column) {
      std::string text;
      for (const auto& cell : result.cells)
        if (cell.row == row && cell.column == column) text = run_letters(cell, ",");
      std::cout << std::setw(static_cast<int>(cell_width)) << text << "  ";
    }
    std::cout << "\n";
  }
  std::cout << "\n";
  for (const auto& cell : result.cells) {
    std::cout << "  " << carriers[cell.row].display << " x " << carriers[cell.column].display << ": "
              << cell.successes() << "/" << cell.runs.size() << " ("
              << fixed(100.0 * double(cell.successes()) / double(std::max<std::size_t>(cell.runs.size(), 1)), 0)
              << " %)";
    if (auto p = cell.median_probes()) std::cout << ", median " << grouped(*p) << " probes per side";
    if (auto s = cell.median_seconds()) std::cout << ", " << fixed(*s, 1) << " s to connect";
    std::cout << "\n";
  }
  bool any_assumed = false;
  for (const auto& c : carriers) any_assumed = any_assumed || c.assumed;
  if (any_assumed) {
    std::cout << "\nAssumed (not measured in the thesis):";
    for (const auto& c : carriers)
      if (c.assumed) std::cout << " " << c.display << " (" << c.source << ")";
    std::cout << "\n";
  }
}

void print_csv(const sim::MatrixConfig& config, const sim::MatrixResult& result) {
  std::cout << "a,b,runs,successes,success_rate,median_probes_per_side,median_seconds,results\n";
  for (const auto& cell : result.cells) {
    const auto p = cell.median_probes();
    const auto s = cell.median_seconds();
    std::cout << config.carriers[cell.row].name << "," << config.carriers[cell.column].name << "," << cell.runs.size()
              << "," << cell.successes() << ","
              << fixed(double(cell.successes()) / double(std::max<std::size_t>(cell.runs.size(), 1)), 4) << ","
              << (p ? fixed(*p, 1) : "") << "," << (s ? fixed(*s, 3) : "") << "," << run_letters(cell, "") << "\n";
  }
}

void print_json(const sim::MatrixConfig& config, const sim::MatrixResult& result) {
  nlohmann::json carriers = nlohmann::json::array();
  for (const auto& c : config.carriers)
    carriers.push_back({{"name", c.name}, {"display", c.display}, {"assumed", c.assumed}, {"source", c.source}});
  nlohmann::json cells = nlohmann::json::array();
  for (const auto& cell : result.cells) {
    nlohmann::json runs = nlohmann::json::array();
    for (const auto& r : cell.runs)
      runs.push_back({{"connected", r.connected},
                      {"probes_per_side", r.probes},
                      {"seconds", r.connected ? nlohmann::json(std::chrono::duration<double>(r.time_to_connect).count())
                                              : nlohmann::json(nullptr)}});
    const auto p = cell.median_probes();
    const auto s = cell.median_seconds();
    cells.push_back({{"a", config.carriers[cell.row].name},
                     {"b", config.carriers[cell.column].name},
                     {"successes", cell.successes()},
                     {"success_rate", double(cell.successes()) / double(std::max<std::size_t>(cell.runs.size(), 1))},
                     {"median_probes_per_side", p ? nlohmann::json(*p) : nlohmann::json(nullptr)},
                     {"median_seconds", s ? nlohmann::json(*s) : nlohmann::json(nullptr)},
                     {"runs", runs}});
  }
  std::cout << nlohmann::json{{"strategy", "naive"},
                              {"runs", config.runs},
                              {"probes_per_side", config.probes},
                              {"send_interval_ms", std::chrono::duration<double, std::milli>(config.send_interval).count()},
                              {"seed", config.seed},
                              {"access_latency_ms", std::chrono::duration<double, std::milli>(config.path.access.latency).count()},
                              {"uplink_latency_ms", std::chrono::duration<double, std::milli>(config.path.uplink.latency).count()},
                              {"loss", config.path.uplink.loss},
                              {"start_skew_ms", std::chrono::duration<double, std::milli>(config.start_skew).count()},
                              {"full_grid", config.full_grid},
                              {"carriers", carriers},
                              {"cells", cells}}
                   .dump()
            << "\n";
}

// The profile for `name`: its id ("kpn-nl"), or the one non-roaming
// profile whose id is "<name>-<country>".
const nat::Profile* find_profile(const std::vector<nat::Profile>& profiles, const std::string& name) {
  const nat::Profile* found = nullptr;
  for (const auto& p : profiles) {
    if (p.id == name) return &p;
    if (!p.roaming && p.id.rfind(name + "-", 0) == 0) {
      if (found) return nullptr;  // ambiguous: the caller must give the id
      found = &p;
    }
  }
  return found;
}

// A carrier from its profile; values the profile leaves null are an error
// naming the field (the simulator does not invent them).
Result<sim::CarrierModel, std::string> carrier_from_profile(const nat::Profile& profile, const std::string& name) {
  nat::NatConfigOptions options;
  options.public_addresses = {IpAddress::v4({203, 0, 113, 1})};  // placeholder; each run assigns its own
  auto config = nat::make_nat_config(profile, options);
  if (!config) return Unexpected{config.error().to_string()};
  sim::CarrierModel carrier{name, profile.name, std::move(*config), false, profile.file};
  carrier.nat.public_addresses.clear();
  return carrier;
}

int run_simulate_matrix(const SimulateMatrixOptions& o) {
  sim::MatrixConfig config;
  const std::vector<std::string> names = o.carriers.empty() ? sim::carrier_preset_names() : o.carriers;
  std::vector<nat::Profile> profiles;
  if (!o.profiles.empty()) {
    auto loaded = io::load_profiles(o.profiles);
    if (!loaded) {
      std::cerr << "error: " << loaded.error().to_string() << "\n";
      return kExitUsage;
    }
    profiles = std::move(*loaded);
  }
  for (const auto& name : names) {
    if (const nat::Profile* profile = profiles.empty() ? nullptr : find_profile(profiles, name)) {
      auto carrier = carrier_from_profile(*profile, name);
      if (!carrier) {
        std::cerr << "error: " << carrier.error() << "\n";
        return kExitUsage;
      }
      config.carriers.push_back(std::move(*carrier));
      continue;
    }
    // Carriers without a profile (Odido) keep their built-in preset.
    auto carrier = sim::carrier_preset(name);
    if (!carrier) {
      std::cerr << "error: unknown carrier '" << name << "'; known carriers:";
      for (const auto& known : sim::carrier_preset_names()) std::cerr << " " << known;
      std::cerr << "\n";
      return kExitUsage;
    }
    config.carriers.push_back(std::move(*carrier));
  }
  config.runs = o.runs;
  config.probes = o.probes;
  config.seed = o.seed;
  config.full_grid = o.full_grid;
  config.send_interval = from_ms(o.send_interval_ms);
  config.path.access = sim::LinkConfig{from_ms(o.access_latency_ms)};
  config.path.uplink = sim::LinkConfig{from_ms(o.uplink_latency_ms), {}, o.loss};
  config.start_skew = from_ms(o.start_skew_ms);
  config.local_ports = o.local_ports == "fresh" ? punch::LocalPortPolicy::FreshPerProbe : punch::LocalPortPolicy::Fixed;
  config.threads = o.threads != 0 ? o.threads : std::max(1U, std::thread::hardware_concurrency());

  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto started = std::chrono::steady_clock::now();
  std::size_t last_tenth = 0;
  auto last_print = started;
  const sim::MatrixProgress progress = [&](std::size_t done, std::size_t total) {
    if (o.quiet) return;
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - started).count();
    if (tty) {
      if (done != total && now - last_print < std::chrono::milliseconds(200)) return;
      last_print = now;
      std::cerr << "\rsimulated " << done << "/" << total << " runs, " << fixed(elapsed, 1) << " s" << std::flush;
      if (done == total) std::cerr << "\n";
    } else if (const std::size_t tenth = done * 10 / total; tenth > last_tenth) {
      last_tenth = tenth;
      std::cerr << "simulated " << done << "/" << total << " runs, " << fixed(elapsed, 1) << " s\n";
    }
  };
  auto result = sim::run_matrix(config, progress);
  if (!result) {
    std::cerr << "error: " << result.error() << "\n";
    return kExitUsage;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!o.quiet)
    std::cerr << "simulated " << grouped(double(result->probes)) << " probes, " << grouped(double(result->events))
              << " events in " << fixed(wall, 2) << " s on " << config.threads << " threads ("
              << fixed(double(result->events) / wall / 1e6, 1) << " M events/s)\n";

  if (o.json) print_json(config, *result);
  else if (o.csv) print_csv(config, *result);
  else print_text(config, *result);
  return kExitOk;
}

}  // namespace

void add_simulate_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("simulate", "Run punching strategies through modelled NATs in virtual time");
  cmd->require_subcommand(1);
  auto o = std::make_shared<SimulateMatrixOptions>();
  auto* matrix = cmd->add_subcommand(
      "matrix", "Carrier x carrier success matrix of a punching strategy (the thesis's Table I)");
  matrix->add_option("--strategy", o->strategy, "Punching strategy (only the naive birthday attack so far)")
      ->check(CLI::IsMember({"naive"}))
      ->default_str("naive")
      ->type_name("NAME");
  matrix->add_option("--runs", o->runs, "Attacks per carrier pair (default 10, as in Table I)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}))
      ->type_name("N");
  matrix->add_option("--probes", o->probes, "Probe budget per side and attack (default 170000, Algorithm 1)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 32))
      ->type_name("N");
  matrix->add_option("--seed", o->seed, "Seed; the same seed gives the same table (default 1)")->type_name("S");
  matrix->add_option("--carriers", o->carriers, "Comma-separated carriers (default: odido,lebara,lycamobile,vodafone,kpn)")
      ->delimiter(',')
      ->type_name("LIST");
  auto* json = matrix->add_flag("--json", o->json, "Print one JSON object on stdout");
  auto* csv = matrix->add_flag("--csv", o->csv, "Print one CSV row per carrier pair on stdout");
  json->excludes(csv);
  matrix->add_option("--send-interval-ms", o->send_interval_ms,
                     "Time between probes of one side in ms (default 2.98, the thesis's phones)")
      ->check(CLI::Range(0.001, 60000.0))
      ->type_name("MS");
  matrix->add_option("--threads", o->threads, "Worker threads (default: one per hardware thread)")
      ->check(CLI::Range(0U, 1024U))
      ->type_name("N");
  matrix->add_flag("--full-grid", o->full_grid,
                   "Run every ordered pair (A x B and B x A) instead of Table I's lower triangle");
  matrix->add_option("--local-ports", o->local_ports,
                     "fixed: one socket for all probes (Algorithm 1); fresh: a new local port per probe")
      ->check(CLI::IsMember({"fixed", "fresh"}))
      ->default_str("fixed")
      ->type_name("POLICY");
  matrix->add_flag("--quiet", o->quiet, "No progress or timing on stderr");
  matrix->add_option("--access-latency-ms", o->access_latency_ms, "One-way latency phone <-> its NAT (default 10)")
      ->check(CLI::Range(0.0, 60000.0))
      ->type_name("MS");
  matrix->add_option("--uplink-latency-ms", o->uplink_latency_ms,
                     "One-way latency NAT <-> internet; a path between NATs is twice this (default 5)")
      ->check(CLI::Range(0.0, 60000.0))
      ->type_name("MS");
  matrix->add_option("--start-skew-ms", o->start_skew_ms,
                     "Peer B starts this long after peer A (default 0: a perfectly coordinated start)")
      ->check(CLI::Range(0.0, 86400000.0))
      ->type_name("MS");
  matrix->add_option("--loss", o->loss, "Probability a packet is lost on each NAT's uplink, each way (default 0)")
      ->check(CLI::Range(0.0, 1.0))
      ->type_name("P");
  matrix->add_option("--profiles", o->profiles,
                     "Take carriers from the profiles in DIR (e.g. profiles/); a carrier is a profile id (kpn-nl) "
                     "or a name whose one non-roaming profile is NAME-CC; carriers without a profile keep the "
                     "built-in preset")
      ->check(CLI::ExistingDirectory)
      ->type_name("DIR");
  matrix->footer(
      "Each run: peer A behind carrier A's NAT and peer B behind carrier B's, both start Algorithm 1 at\n"
      "the same moment; a run succeeds (S) when a probe of one side reaches the other. Carrier NATs come\n"
      "from the thesis's Tables II-V (type, port allocator, timeouts, MTU); Odido was not measured and is\n"
      "an explicit assumption. Built-in presets match profiles/*.json; --profiles reads those files instead.\n"
      "Paths (defaults): 10 ms phone <-> NAT, 5 ms NAT <-> internet, each way, no loss.\n"
      "Progress and throughput go to stderr; the table to stdout.\n"
      "Examples:\n"
      "  natpunch simulate matrix --strategy naive --runs 10 --probes 170000\n"
      "  natpunch simulate matrix --carriers kpn,vodafone --runs 100 --seed 7 --csv\n"
      "  natpunch simulate matrix --probes 20000 --send-interval-ms 1 --json\n"
      "  natpunch simulate matrix --profiles profiles --carriers kpn,vodafone,lycamobile-be\n"
      "Exit codes: 0 ok, 2 bad arguments.");
  matrix->callback([o, &exit_code] { exit_code = run_simulate_matrix(*o); });
}

}  // namespace natpunch::cli

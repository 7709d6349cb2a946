// `natpunch simulate matrix`: the thesis's Tables I and VI in the
// simulator. Every pair of carriers runs a punching strategy (the naive
// birthday attack of Algorithm 1, the improved attack, or what strategy
// selection picks) through modelled NATs in virtual time, `--runs` times;
// the output is the S/F grid plus success rate and medians, or with
// --strategy compare naive and improved side by side with the probes each
// needs for 99 % success. Reproducible: the same --seed gives the same
// table whatever --threads is.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "io/stop_signals.hpp"
#include "io/profile_files.hpp"
#include "io/trace_file.hpp"
#include "nat/nat_table.hpp"
#include "nat/profile.hpp"
#include "sim/carrier_presets.hpp"
#include "punch/strategy_selection.hpp"
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
  bool no_prediction = false;
  std::uint32_t sockets = 256;
  std::uint32_t background_subscribers = 0;
  std::optional<double> background_hold_s;
  std::optional<std::size_t> max_mappings;
  std::vector<std::string> traces;  // CARRIER=FILE
};

sim::StrategyMode mode_of(const std::string& strategy) {
  if (strategy == "improved") return sim::StrategyMode::Improved;
  if (strategy == "auto") return sim::StrategyMode::Auto;
  return sim::StrategyMode::Naive;
}

const char* mode_title(sim::StrategyMode mode) {
  switch (mode) {
    case sim::StrategyMode::Naive: return "Naive birthday attack (Algorithm 1)";
    case sim::StrategyMode::Improved: return "Improved birthday attack (prediction, carrier-biased ports, many sockets)";
    case sim::StrategyMode::Auto: return "Strategy chosen per pair (direct / hole punch / one hard side / birthday)";
  }
  return "";
}

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

std::string load_text(const sim::CarrierLoad& load) {
  if (load.none()) return "none (each phone alone on its NAT, no mapping quota)";
  std::string out;
  if (load.block_background_subscribers > 0) {
    out += std::to_string(load.block_background_subscribers) + " other subscribers holding blocks of each block carrier";
    out += load.background_hold
               ? " (" + fixed(std::chrono::duration<double>(*load.background_hold).count(), 0) + " s each)"
               : " (each for the carrier's pending timeout)";
  }
  if (load.max_mappings_per_subscriber) {
    if (!out.empty()) out += "; ";
    out += "at most " + std::to_string(*load.max_mappings_per_subscriber) + " mappings per subscriber";
  }
  return out;
}

nlohmann::json load_json(const sim::CarrierLoad& load) {
  return {{"block_background_subscribers", load.block_background_subscribers},
          {"background_hold_s", load.background_hold
                                    ? nlohmann::json(std::chrono::duration<double>(*load.background_hold).count())
                                    : nlohmann::json(nullptr)},
          {"max_mappings_per_subscriber", load.max_mappings_per_subscriber
                                              ? nlohmann::json(*load.max_mappings_per_subscriber)
                                              : nlohmann::json(nullptr)}};
}

std::size_t finished_runs(const sim::MatrixResult& result) {
  std::size_t n = 0;
  for (const auto& cell : result.cells) n += cell.runs.size();
  return n;
}

void print_text(const sim::MatrixConfig& config, const sim::MatrixResult& result) {
  const auto& carriers = config.carriers;
  std::size_t name_width = 0;
  for (const auto& c : carriers) name_width = std::max(name_width, c.display.size());
  const std::size_t cell_width = std::max<std::size_t>(name_width, config.runs * 2);

  std::cout << mode_title(config.mode) << ", " << config.runs << " runs x " << grouped(double(config.probes))
            << " probes per side, one probe per " << fixed(std::chrono::duration<double, std::milli>(config.send_interval).count(), 2)
            << " ms, seed " << config.seed << "\n";
  const auto ms = [](Duration d) { return fixed(std::chrono::duration<double, std::milli>(d).count(), 1); };
  std::cout << "Paths: " << ms(config.path.access.latency) << " ms phone <-> NAT, " << ms(config.path.uplink.latency)
            << " ms NAT <-> internet, loss " << config.path.uplink.loss << " per uplink, B starts "
            << ms(config.start_skew) << " ms after A\n";
  std::cout << "Carrier load: " << load_text(config.load) << "\n";
  if (config.mode != sim::StrategyMode::Naive)
    std::cout << "Peers register at a rendezvous first (it observes their external ports"
              << (config.predict ? ", used for prediction" : "; prediction off") << "); EIM sides probe from "
              << config.many_sockets << " sockets\n";
  std::cout << "S = connected during the attack, F = no probe got through (cf. thesis Table "
            << (config.mode == sim::StrategyMode::Naive ? "I" : "VI") << ")\n\n";
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
    std::cout << "  " << carriers[cell.row].display << " x " << carriers[cell.column].display << ": ";
    if (cell.runs.empty()) {  // interrupted before this pair's first run
      std::cout << "not run\n";
      continue;
    }
    std::cout << cell.successes() << "/" << cell.runs.size() << " ("
              << fixed(100.0 * double(cell.successes()) / double(std::max<std::size_t>(cell.runs.size(), 1)), 0)
              << " %)";
    if (auto p = cell.median_probes()) std::cout << ", median " << grouped(*p) << " probes per side";
    if (auto s = cell.median_seconds()) std::cout << ", " << fixed(*s, 1) << " s to connect";
    if (config.mode == sim::StrategyMode::Auto && !cell.runs.empty())
      std::cout << " [" << punch::to_string(cell.runs.front().kind) << "]";
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
    nlohmann::json drops = nlohmann::json::object();
    const auto totals = cell.drops();
    for (std::size_t i = 0; i < totals.size(); ++i)
      drops[std::string(nat::to_string(static_cast<nat::Drop>(i)))] = totals[i];
    cells.push_back({{"a", config.carriers[cell.row].name},
                     {"b", config.carriers[cell.column].name},
                     {"successes", cell.successes()},
                     {"success_rate", double(cell.successes()) / double(std::max<std::size_t>(cell.runs.size(), 1))},
                     {"median_probes_per_side", p ? nlohmann::json(*p) : nlohmann::json(nullptr)},
                     {"median_seconds", s ? nlohmann::json(*s) : nlohmann::json(nullptr)},
                     {"drops", drops},
                     {"runs", runs}});
  }
  const char* strategy = config.mode == sim::StrategyMode::Naive      ? "naive"
                         : config.mode == sim::StrategyMode::Improved ? "improved"
                                                                       : "auto";
  if (config.mode == sim::StrategyMode::Auto)
    for (std::size_t i = 0; i < result.cells.size(); ++i)
      if (!result.cells[i].runs.empty())
        cells[i]["strategy"] = std::string(punch::to_string(result.cells[i].runs.front().kind));
  std::cout << nlohmann::json{{"strategy", strategy},
                              {"prediction", config.mode != sim::StrategyMode::Naive && config.predict},
                              {"runs", config.runs},
                              {"probes_per_side", config.probes},
                              {"send_interval_ms", std::chrono::duration<double, std::milli>(config.send_interval).count()},
                              {"seed", config.seed},
                              {"access_latency_ms", std::chrono::duration<double, std::milli>(config.path.access.latency).count()},
                              {"uplink_latency_ms", std::chrono::duration<double, std::milli>(config.path.uplink.latency).count()},
                              {"loss", config.path.uplink.loss},
                              {"start_skew_ms", std::chrono::duration<double, std::milli>(config.start_skew).count()},
                              {"full_grid", config.full_grid},
                              {"load", load_json(config.load)},
                              {"carriers", carriers},
                              {"interrupted", result.interrupted},
                              {"cells", cells}}
                   .dump()
            << "\n";
}

// One cell of the comparison: "S/N, median, 99 %" figures of a strategy.
nlohmann::json cell_json(const sim::MatrixCell& cell) {
  const auto p = cell.median_probes();
  const auto p99 = cell.probes_for_success(0.99);
  return {{"successes", cell.successes()},
          {"runs", cell.runs.size()},
          {"median_probes_per_side", p ? nlohmann::json(*p) : nlohmann::json(nullptr)},
          {"probes_for_99_percent", p99 ? nlohmann::json(*p99) : nlohmann::json(nullptr)}};
}

// naive / improved probes for 99 % success, as text: "123x" or, when the
// naive attack never reached 99 % within its budget, ">= 123x" (a lower
// bound: the budget stands in for the unknown naive figure).
struct Ratio {
  std::optional<double> value;
  bool lower_bound = false;
};
Ratio ratio_99(const sim::MatrixCell& naive, const sim::MatrixCell& improved, std::uint64_t budget) {
  const auto n = naive.probes_for_success(0.99);
  const auto i = improved.probes_for_success(0.99);
  if (!i) return {};
  const double denominator = std::max<double>(1.0, double(*i));
  if (!n) return {double(budget) / denominator, true};
  return {std::max<double>(1.0, double(*n)) / denominator, false};
}

void print_compare(const sim::MatrixConfig& config, const sim::MatrixResult& naive, const sim::MatrixResult& improved,
                   bool json, bool csv) {
  const auto& carriers = config.carriers;
  const auto figure = [](std::optional<std::uint64_t> v, std::uint64_t budget) {
    return v ? grouped(double(*v)) : "> " + grouped(double(budget));
  };
  if (json) {
    nlohmann::json pairs = nlohmann::json::array();
    for (std::size_t i = 0; i < improved.cells.size(); ++i) {
      const auto& n = naive.cells[i];
      const auto& m = improved.cells[i];
      const Ratio r = ratio_99(n, m, config.probes);
      pairs.push_back({{"a", carriers[m.row].name},
                       {"b", carriers[m.column].name},
                       {"naive", cell_json(n)},
                       {"improved", cell_json(m)},
                       {"ratio_99", r.value ? nlohmann::json(*r.value) : nlohmann::json(nullptr)},
                       {"ratio_99_is_lower_bound", r.lower_bound}});
    }
    std::cout << nlohmann::json{{"strategy", "compare"},
                                {"runs", config.runs},
                                {"probes_per_side", config.probes},
                                {"send_interval_ms", std::chrono::duration<double, std::milli>(config.send_interval).count()},
                                {"seed", config.seed},
                                {"prediction", config.predict},
                                {"sockets", config.many_sockets},
                                {"load", load_json(config.load)},
                                {"interrupted", naive.interrupted || improved.interrupted},
                                {"pairs", pairs}}
                     .dump()
              << "\n";
    return;
  }
  if (csv) {
    std::cout << "a,b,naive_successes,naive_median_probes,naive_probes_99,improved_successes,improved_median_probes,"
                 "improved_probes_99,ratio_99,ratio_is_lower_bound\n";
    for (std::size_t i = 0; i < improved.cells.size(); ++i) {
      const auto& n = naive.cells[i];
      const auto& m = improved.cells[i];
      const auto opt = [](auto v) { return v ? fixed(double(*v), 1) : std::string(); };
      const Ratio r = ratio_99(n, m, config.probes);
      std::cout << carriers[m.row].name << "," << carriers[m.column].name << "," << n.successes() << ","
                << opt(n.median_probes()) << "," << opt(n.probes_for_success(0.99)) << "," << m.successes() << ","
                << opt(m.median_probes()) << "," << opt(m.probes_for_success(0.99)) << ","
                << (r.value ? fixed(*r.value, 1) : "") << "," << (r.lower_bound ? "true" : "false") << "\n";
    }
    return;
  }
  std::cout << "Naive (Algorithm 1) vs improved birthday attack, " << config.runs << " runs x "
            << grouped(double(config.probes)) << " probes per side, one probe per "
            << fixed(std::chrono::duration<double, std::milli>(config.send_interval).count(), 2) << " ms, seed "
            << config.seed << ", prediction " << (config.predict ? "on" : "off") << "\n";
  std::cout << "Carrier load: " << load_text(config.load) << "\n";
  std::cout << "Probes per side to connect: median over the successful runs, and the budget that " << "99 % of the runs needed\n"
            << "(the 99th percentile of the runs; '> budget' when fewer than 99 % connected). Ratio = naive / improved.\n\n";
  std::size_t name_width = 4;
  for (const auto& c : carriers) name_width = std::max(name_width, 2 * c.display.size() + 3);
  std::cout << std::left << std::setw(static_cast<int>(name_width)) << "pair" << "  " << std::right << std::setw(7)
            << "naive" << std::setw(12) << "median" << std::setw(14) << "99 %" << "   " << std::setw(7) << "improved"
            << std::setw(10) << "median" << std::setw(12) << "99 %" << std::setw(14) << "ratio 99 %" << "\n";
  for (std::size_t i = 0; i < improved.cells.size(); ++i) {
    const auto& n = naive.cells[i];
    const auto& m = improved.cells[i];
    const Ratio r = ratio_99(n, m, config.probes);
    const std::string pair = carriers[m.row].display + " x " + carriers[m.column].display;
    const auto success = [](const sim::MatrixCell& c) {
      return std::to_string(c.successes()) + "/" + std::to_string(c.runs.size());
    };
    const auto median = [](const sim::MatrixCell& c) {
      const auto p = c.median_probes();
      return p ? grouped(*p) : std::string("-");
    };
    std::cout << std::left << std::setw(static_cast<int>(name_width)) << pair << "  " << std::right << std::setw(7)
              << success(n) << std::setw(12) << median(n) << std::setw(14)
              << figure(n.probes_for_success(0.99), config.probes) << "   " << std::setw(7) << success(m)
              << std::setw(10) << median(m) << std::setw(12) << figure(m.probes_for_success(0.99), config.probes)
              << std::setw(14)
              << (r.value ? (r.lower_bound ? ">= " : "") + grouped(*r.value) + "x" : std::string("-")) << "\n";
  }
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
  sim::CarrierModel carrier{name, profile.name, std::move(*config), false, profile.file, std::nullopt};
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
  for (std::string name : names) {
    // Ids are lower case; the names the table prints ("KPN", "VodaFone") work too.
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
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
  // --trace CARRIER=FILE: that carrier's NAT replays a real log's ports,
  // while the peers are still told its profile's allocator.
  for (const auto& item : o.traces) {
    const auto equals = item.find('=');
    const std::string name = item.substr(0, equals);
    auto carrier = std::find_if(config.carriers.begin(), config.carriers.end(),
                                [&](const sim::CarrierModel& c) { return c.name == name; });
    if (equals == std::string::npos || carrier == config.carriers.end()) {
      std::cerr << "error: --trace '" << item << "': expected CARRIER=FILE with CARRIER one of the carriers simulated\n";
      return kExitUsage;
    }
    auto trace = io::load_trace(item.substr(equals + 1));
    if (!trace) {
      std::cerr << "error: --trace " << name << ": " << trace.error() << "\n";
      return kExitUsage;
    }
    if (!carrier->told_allocator) carrier->told_allocator = carrier->nat.allocator;
    carrier->nat.allocator = std::move(*trace);
    carrier->source += "; ports replayed from " + item.substr(equals + 1);
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
  config.mode = mode_of(o.strategy);
  config.predict = !o.no_prediction;
  config.many_sockets = o.sockets;
  config.load.block_background_subscribers = o.background_subscribers;
  if (o.background_hold_s) config.load.background_hold = from_ms(*o.background_hold_s * 1000);
  config.load.max_mappings_per_subscriber = o.max_mappings;
  const bool compare = o.strategy == "compare";

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
  // Ctrl-C / SIGTERM: no new run starts, the matrix so far is printed
  // (cells with the runs that finished) and the exit code is 130.
  io::StopSignals stop;
  config.stop = stop.predicate();
  // Compare: naive first, then improved on the same pairs and seeds.
  std::optional<sim::MatrixResult> naive;
  if (compare) {
    sim::MatrixConfig naive_config = config;
    naive_config.mode = sim::StrategyMode::Naive;
    auto naive_result = sim::run_matrix(naive_config, progress);
    if (!naive_result) {
      std::cerr << "error: " << naive_result.error() << "\n";
      return kExitUsage;
    }
    naive = std::move(*naive_result);
    config.mode = sim::StrategyMode::Improved;
    last_tenth = 0;
    if (naive->interrupted) {  // the naive matrix so far, alone
      if (!o.quiet && tty) std::cerr << "\n";  // after the progress line
      std::cerr << "interrupted: " << finished_runs(*naive) << " naive runs finished, no improved run started\n";
      naive_config.mode = sim::StrategyMode::Naive;
      if (o.json) print_json(naive_config, *naive);
      else if (o.csv) print_csv(naive_config, *naive);
      else print_text(naive_config, *naive);
      return kExitInterrupted;
    }
  }
  auto result = sim::run_matrix(config, progress);
  if (!result) {
    std::cerr << "error: " << result.error() << "\n";
    return kExitUsage;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::uint64_t probes = result->probes + (naive ? naive->probes : 0);
  const std::uint64_t events = result->events + (naive ? naive->events : 0);
  if (!o.quiet)
    std::cerr << "simulated " << grouped(double(probes)) << " probes, " << grouped(double(events)) << " events in "
              << fixed(wall, 2) << " s on " << config.threads << " threads ("
              << fixed(double(events) / wall / 1e6, 1) << " M events/s)\n";

  if (compare) print_compare(config, *naive, *result, o.json, o.csv);
  else if (o.json) print_json(config, *result);
  else if (o.csv) print_csv(config, *result);
  else print_text(config, *result);
  if (result->interrupted) {
    if (!o.quiet && tty) std::cerr << "\n";
    std::cerr << "interrupted: " << finished_runs(*result) << " of " << result->cells.size() * config.runs
              << " runs finished; the matrix shows those\n";
    return kExitInterrupted;
  }
  return kExitOk;
}

}  // namespace

void add_simulate_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("simulate", "Run punching strategies through modelled NATs in virtual time");
  cmd->require_subcommand(1);
  auto o = std::make_shared<SimulateMatrixOptions>();
  auto* matrix = cmd->add_subcommand(
      "matrix", "Carrier x carrier success matrix of a punching strategy (the thesis's Tables I and VI)");
  matrix->add_option("--strategy", o->strategy,
                     "naive: Algorithm 1 (Table I); improved: prediction + carrier-biased ports + many sockets "
                     "(Table VI); auto: the strategy selection picks per pair; compare: naive and improved side by "
                     "side with the probes each needs for 99 % success")
      ->check(CLI::IsMember({"naive", "improved", "auto", "compare"}))
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
  matrix->add_flag("--no-prediction", o->no_prediction,
                   "improved/auto: ignore the external ports the rendezvous observed (carrier-biased order only)");
  matrix->add_option("--sockets", o->sockets,
                     "improved/auto: local sockets an endpoint-independent side probes from (default 256)")
      ->check(CLI::Range(1U, 4096U))
      ->type_name("N");
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
  matrix->add_option("--background-subscribers", o->background_subscribers,
                     "Other subscribers sharing each block carrier's NAT (KPN, Lebara), each holding one 256-port "
                     "block at a time; 252 fill a public address (default 0: the phone is alone)")
      ->check(CLI::Range(0U, 65534U))
      ->type_name("N");
  matrix->add_option("--background-hold-s", o->background_hold_s,
                     "How long a background subscriber keeps a block before taking another (default: the "
                     "carrier's pending timeout)")
      ->check(CLI::Range(0.001, 86400.0))
      ->type_name("S");
  matrix->add_option("--max-mappings", o->max_mappings,
                     "Per-subscriber mapping quota of every carrier (RFC 6888 REQ-4; default: none). Bites only "
                     "where probes make new mappings: symmetric sides, or --local-ports fresh")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->type_name("N");
  matrix->add_option("--trace", o->traces,
                     "CARRIER=FILE: that carrier's NAT hands out the ports of a real log (natpunch analyze "
                     "--trace-out), from a seeded offset per run, looping; the peers are still told its profile's "
                     "allocator. Repeat for more carriers")
      ->type_name("CARRIER=FILE");
  matrix->add_option("--profiles", o->profiles,
                     "Take carriers from the profiles in DIR (e.g. profiles/); a carrier is a profile id (kpn-nl) "
                     "or a name whose one non-roaming profile is NAME-CC; carriers without a profile keep the "
                     "built-in preset")
      ->check(CLI::ExistingDirectory)
      ->type_name("DIR");
  matrix->footer(
      "Each run: peer A behind carrier A's NAT and peer B behind carrier B's, both start the strategy at\n"
      "the same moment; a run succeeds (S) when the authenticated probe/ack/confirm handshake completes.\n"
      "improved/auto first register both peers at a rendezvous, which observes their external ports. Carrier NATs come\n"
      "from the thesis's Tables II-V (type, port allocator, timeouts, MTU); Odido was not measured and is\n"
      "an explicit assumption. Built-in presets match profiles/*.json; --profiles reads those files instead.\n"
      "Paths (defaults): 10 ms phone <-> NAT, 5 ms NAT <-> internet, each way, no loss.\n"
      "Carrier load (default none; the thesis measured neither): --background-subscribers shares the block\n"
      "carriers' port blocks with other subscribers, --max-mappings caps each subscriber's mappings.\n"
      "Progress and throughput go to stderr; the table to stdout.\n"
      "Examples:\n"
      "  natpunch simulate matrix --strategy naive --runs 10 --probes 170000\n"
      "  natpunch simulate matrix --strategy improved --runs 10            # Table VI\n"
      "  natpunch simulate matrix --strategy compare --runs 100 --no-prediction\n"
      "  natpunch simulate matrix --strategy auto --json\n"
      "  natpunch simulate matrix --carriers kpn,vodafone --runs 100 --seed 7 --csv\n"
      "  natpunch simulate matrix --probes 20000 --send-interval-ms 1 --json\n"
      "  natpunch simulate matrix --profiles profiles --carriers kpn,vodafone,lycamobile-be\n"
      "  natpunch simulate matrix --carriers kpn,lebara --strategy compare --background-subscribers 100\n"
      "  natpunch simulate matrix --max-mappings 2048 --runs 20       # a CGNAT port quota\n"
      "  natpunch simulate matrix --strategy compare --carriers vodafone,lebara --trace vodafone=voda.trace\n"
      "Ctrl-C / SIGTERM: no new run starts; the matrix of the runs finished so far is printed (\"interrupted\": true\n"
      "under --json) and the exit code is 130.\n"
      "Exit codes: 0 ok, 2 bad arguments, 130 interrupted.");
  matrix->callback([o, &exit_code] { exit_code = run_simulate_matrix(*o); });
}

}  // namespace natpunch::cli

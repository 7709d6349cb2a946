// `natpunch predict PHONE_LOG SERVER_LOG --profile P`: how well the port
// chooser a carrier profile describes predicts a real carrier's next
// external port (issue 17). The logs are replayed mapping by mapping; before
// each, the chooser proposes ports from the run's earlier ports, as a peer
// would from the rendezvous's view; a hit at budget N is the true port among
// its first N. Printed for N = 1..1024, beside the plain choosers that use
// no history (src/punch/prediction_replay.hpp).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "analyze/collection_logs.hpp"
#include "commands.hpp"
#include "io/profile_files.hpp"
#include "punch/prediction_replay.hpp"

namespace natpunch::cli {

namespace {

using Json = nlohmann::ordered_json;

constexpr std::size_t kCurveBudget = 1024;

struct PredictOptions {
  std::vector<std::string> logs;
  std::string profile;
  std::size_t budget = 256;
  std::uint64_t seed = 1;
  bool json = false;
};

std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %%", 100.0 * fraction);
  return buf;
}

bool read_text(const std::string& path, std::string& text, std::string& error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    error = path + " is a directory; give the log file itself";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open " + path + " (check the path and that it is readable)";
    return false;
  }
  std::ostringstream out;
  out << in.rdbuf();
  text = std::move(out).str();
  return true;
}

int run_predict(const PredictOptions& o) {
  auto profile = io::load_profile_by_name(o.profile, io::default_profile_directories());
  if (!profile) {
    std::cerr << "error: " << profile.error().to_string() << "\n";
    return kExitUsage;
  }
  if (!profile->allocator) {
    std::cerr << "error: " << profile->file << ": allocator: null (not measured): nothing to predict with\n";
    return kExitUsage;
  }
  std::vector<analyze::LogFile> files;
  for (const auto& path : o.logs) {
    analyze::LogFile file{path, {}};
    std::string error;
    if (!read_text(path, file.text, error)) {
      std::cerr << "error: " << error << "\n";
      return kExitUsage;
    }
    files.push_back(std::move(file));
  }
  auto collections = analyze::read_collections(files);
  if (!collections) {
    std::cerr << "error: " << collections.error() << "\n";
    return kExitUsage;
  }
  for (const auto& note : collections->notes) std::cerr << "note: " << note << "\n";
  std::vector<std::vector<std::uint16_t>> runs;
  std::size_t predictions = 0;
  for (const auto& run : collections->runs) {
    std::vector<std::uint16_t> ports;
    ports.reserve(run.joined.rows.size());
    for (const auto& row : run.joined.rows) ports.push_back(row.mapped_port);
    predictions += ports.size() - 1;
    runs.push_back(std::move(ports));
  }
  if (predictions == 0) {
    std::cerr << "error: " << o.logs.front() << ": a collection needs at least two joined rows to predict one\n";
    return kExitUsage;
  }

  std::vector<punch::ReplayChooser> choosers{punch::profile_chooser(*profile->allocator)};
  for (auto& plain : punch::plain_choosers(*profile->allocator)) choosers.push_back(std::move(plain));
  const auto curves = punch::replay_predictions(runs, choosers, kCurveBudget, o.seed);
  const punch::ReplayCurve& own = curves.front();
  const punch::ReplayCurve* best_plain = &curves[1];
  for (std::size_t i = 2; i < curves.size(); ++i)
    if (curves[i].hit_rate(o.budget) > best_plain->hit_rate(o.budget)) best_plain = &curves[i];

  if (o.json) {
    Json choosers_json = Json::array();
    for (const auto& curve : curves) {
      Json rates = Json::array();
      for (std::size_t n = 1; n <= kCurveBudget; ++n) rates.push_back(curve.hit_rate(n));
      choosers_json.push_back(Json{{"name", curve.name}, {"hit_rate", curve.hit_rate(o.budget)}, {"curve", rates}});
    }
    Json run_names = Json::array();
    for (const auto& run : collections->runs) run_names.push_back(Json{{"client", run.client_path}, {"server", run.server_path}});
    std::cout << Json{{"profile", profile->file},
                      {"allocator", std::string(nat::kind_name(*profile->allocator))},
                      {"runs", run_names},
                      {"rows", predictions},
                      {"budget", o.budget},
                      {"hit_rate", own.hit_rate(o.budget)},
                      {"best_plain", Json{{"name", best_plain->name}, {"hit_rate", best_plain->hit_rate(o.budget)}}},
                      {"curve_budgets", "curve[n - 1] is the hit rate with budget n, n = 1.." +
                                            std::to_string(kCurveBudget)},
                      {"choosers", choosers_json}}
                     .dump()
              << "\n";
    return kExitOk;
  }
  std::cout << "predicted " << predictions << " mappings of " << runs.size() << " collection"
            << (runs.size() == 1 ? "" : "s") << " with " << profile->file << " (" << nat::kind_name(*profile->allocator)
            << " allocator)\n";
  std::cout << "hit rate with " << o.budget << " port" << (o.budget == 1 ? "" : "s") << ": profile "
            << percent(own.hit_rate(o.budget)) << ", best plain chooser (" << best_plain->name << ") "
            << percent(best_plain->hit_rate(o.budget)) << "\n";
  std::printf("%-14s", "N");
  for (std::size_t n = 1; n <= kCurveBudget; n *= 2) std::printf("%9zu", n);
  std::printf("\n");
  for (const auto& curve : curves) {
    std::printf("%-14s", curve.name.c_str());
    for (std::size_t n = 1; n <= kCurveBudget; n *= 2) std::printf("%8.2f%%", 100.0 * curve.hit_rate(n));
    std::printf("\n");
  }
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace

void add_predict_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<PredictOptions>();
  auto* cmd = app.add_subcommand(
      "predict", "Replay a real mapping collection and measure how often a profile's port chooser guesses the next port");
  cmd->add_option("LOGS", o->logs,
                  "PHONE_LOG SERVER_LOG of one collection (as for analyze, in either order); more pairs replay "
                  "several collections, each from its own start")
      ->required()
      ->expected(2, -1)
      ->type_name("PHONE_LOG SERVER_LOG");
  cmd->add_option("--profile", o->profile,
                  "Carrier profile whose allocator describes the chooser: an id from profiles/ (vodafone-nl) or a "
                  "JSON file, e.g. one `natpunch analyze --profile-out` derived from other runs")
      ->required()
      ->type_name("NAME|FILE");
  cmd->add_option("--budget", o->budget, "Ports a chooser may propose per mapping for the headline hit rate (1-1024)")
      ->default_val(256)
      ->check(CLI::Range(std::size_t{1}, kCurveBudget))
      ->type_name("N");
  cmd->add_option("--seed", o->seed, "Seed of the choosers' random orders; the same seed gives the same figures")
      ->default_val(1)
      ->type_name("S");
  cmd->add_flag("--json", o->json,
                "Print one JSON object: rows (mappings predicted), budget, hit_rate (the profile's, 0..1), "
                "best_plain, and every chooser's curve for N = 1..1024");
  cmd->footer(
      "Before each mapping of a collection (not the first), the chooser proposes ports from the\n"
      "external ports seen so far; a hit at budget N is the true port among its first N proposals.\n"
      "Choosers: profile (prediction from the last port by the allocator's rule: the rest of a block,\n"
      "the window it sits in, then the allocator's order), and plain ones using no history: uniform\n"
      "over the profile's range, beta-densest (the profile's Beta law, when it has one),\n"
      "block-starts (its block or window grid, else 256-port blocks), offset-major.\n"
      "Cross-validation: derive the profile from other runs of the carrier, e.g.\n"
      "  natpunch analyze run1_phone.csv run1_server.csv run4_phone.csv run4_server.csv \\\n"
      "      --profile-out voda.json --name Vodafone --country NL\n"
      "  natpunch predict run5_phone.csv run5_server.csv --profile voda.json --budget 32\n"
      "  natpunch predict run5_phone.csv run5_server.csv --profile voda.json --json\n"
      "Exit codes: 0 ok, 2 unreadable or unusable log, bad profile, or bad options.");
  cmd->callback([o, &exit_code] { exit_code = run_predict(*o); });
}

}  // namespace natpunch::cli

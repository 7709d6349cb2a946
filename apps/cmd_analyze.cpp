// `natpunch analyze CLIENT_LOG SERVER_LOG`: turns the two logs of a mapping
// collection into the carrier's port allocator (thesis Sections III-E and
// VI-A), with the evidence, optionally as a carrier profile, figures
// (drawn by scripts/plot_mappings.py with matplotlib) and a Markdown report.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "analyze/allocator_detect.hpp"
#include "analyze/analysis_summary.hpp"
#include "analyze/collection_logs.hpp"
#include "analyze/mapping_join.hpp"
#include "analyze/mapping_log.hpp"
#include "analyze/markdown_report.hpp"
#include "analyze/plot_data.hpp"
#include "analyze/profile_export.hpp"
#include "commands.hpp"
#include "nat/trace_text.hpp"

namespace natpunch::cli {

namespace {

using namespace natpunch::analyze;
using Json = nlohmann::ordered_json;

struct AnalyzeOptions {
  std::vector<std::string> logs;  // pairs: a collection's phone log and server log, in either order
  bool json = false;
  std::string profile_out;
  std::string name;
  std::string country;
  bool roaming = false;
  double session_gap_s = 30;
  std::string plots_dir;
  std::string plot_format = "png";
  std::string plot_script;  // empty: look next to the binary, then in the source tree
  std::string python = "/usr/bin/python3";
  std::string report;
  std::string trace_out;
};

std::optional<std::string> read_file(const std::string& path, std::string& error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    error = path + " is a directory; give the log file itself";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open " + path + " (check the path and that it is readable)";
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    error = "cannot read " + path;
    return std::nullopt;
  }
  return std::move(text).str();
}

// Written beside the target and renamed, so a failed run never leaves a
// half-written profile where a loader would find it.
bool write_file_atomically(const std::string& path, const std::string& text, std::string& error) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      error = "cannot write " + temporary;
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    error = "cannot rename " + temporary + " to " + path + ": " + ec.message();
    std::filesystem::remove(temporary, ec);
    return false;
  }
  return true;
}

std::string fixed(double value, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, value);
  return buf;
}

void print_log_text(std::string_view label, const std::string& path, const ParsedLog& log) {
  std::cout << label << path << ": " << log.records.size() << " rows (" << to_string(log.dialect) << " format), "
            << log.malformed_total() << " malformed";
  bool first = true;
  for (std::size_t i = 0; i < kMalformedReasonCount; ++i) {
    if (log.malformed[i] == 0) continue;
    std::cout << (first ? ": " : ", ") << log.malformed[i] << " " << to_string(static_cast<MalformedReason>(i));
    first = false;
  }
  std::cout << "\n";
}

void print_text(const AnalyzeOptions& o, const Collections& c, const DetectedAllocator& d) {
  for (const auto& run : c.runs) {
    print_log_text("client ", run.client_path, run.client);
    print_log_text("server ", run.server_path, run.server);
  }
  const JoinedMappings joined = join_totals(c.runs);
  std::cout << "joined " << c.rows.size() << " rows on the message id";
  if (c.runs.size() > 1) std::cout << " in " << c.runs.size() << " collections";
  std::cout << " (" << joined.client_only
            << " sent but not received, " << joined.server_only << " received but not sent, "
            << joined.duplicate_client_ids + joined.duplicate_server_ids << " duplicate ids)\n";
  std::cout << "allocator: " << to_string(d.kind);
  const auto& e = d.evidence;
  if (d.block_size) {
    std::cout << ", block_size " << *d.block_size;
    if (d.block_offset.value_or(0) != 0) std::cout << " at offset " << *d.block_offset;
    std::cout << ", ports taken " << (d.block_order == BlockOrder::Random ? "in random order" : "in order");
    if (d.block_reset)
      std::cout << ", a stay ends after "
                << (d.block_reset->rule == ResetRule::Hold ? fixed(d.block_reset->hold_s, 1) + " s"
                                                           : std::to_string(d.block_reset->mappings) + " mappings");
    if (d.alpha)
      std::cout << "; blocks placed by B(alpha " << fixed(*d.alpha, 3) << ", beta " << fixed(*d.beta, 3) << ", loc "
                << fixed(*d.loc, 0) << ", scale " << fixed(*d.scale, 0) << ")";
    else if (d.min && d.max)
      std::cout << "; blocks placed uniformly in " << *d.min << ".." << *d.max;
    std::cout << (d.plain_block() ? " (the thesis's block)" : " (a window with locality)");
  } else {
    if (d.min && d.max) std::cout << ", ports " << *d.min << ".." << *d.max;
    if (d.alpha)
      std::cout << ", B(alpha " << fixed(*d.alpha, 3) << ", beta " << fixed(*d.beta, 3) << ", loc " << fixed(*d.loc, 0)
                << ", scale " << fixed(*d.scale, 0) << ")";
  }
  std::cout << "\n  why: " << e.reason << "\n";
  std::cout << "  sessions (split at pauses > " << fixed(o.session_gap_s, 1) << " s): " << e.sessions
            << "; mapped == local in " << fixed(100 * e.preserved_fraction, 1) << " % of rows; +1 steps "
            << fixed(100 * e.step_fraction, 1) << " %\n";
  if (const auto& b = e.block) {
    std::cout << "  block visits " << b->visits << ": starting at the block's first port "
              << fixed(100 * b->start_aligned_fraction, 1) << " %, consumed whole "
              << fixed(100 * b->consumed_whole_fraction, 1) << " %, +1 steps inside a visit "
              << fixed(100 * b->in_visit_step_fraction, 1) << " %\n";
    if (b->order == BlockOrder::InOrder)
      std::cout << "  boundary crossings " << b->boundary_crossings << " (sequential would make ~"
                << fixed(b->expected_sequential_crossings, 0) << ")\n";
    std::cout << "  transitions staying in one block " << fixed(100 * b->same_block_fraction, 2) << " %";
    if (b->order == BlockOrder::Random) std::cout << " (by chance " << fixed(100 * b->same_block_by_chance, 1) << " %)";
    std::cout << "; jump rate " << fixed(100 * (1 - b->same_block_fraction), 2) << " % per mapping\n";
    std::cout << "  complete visits " << b->complete_visits << ": median " << fixed(b->median_mappings, 0)
              << " mappings (cv " << fixed(b->mappings_cv, 3) << "), held " << fixed(b->median_hold_s, 1)
              << " s (cv " << fixed(b->hold_cv, 3) << "); reset: " << b->reset.why << "\n";
    std::cout << "  placement: " << b->placement_why;
    if (const auto& u = b->placement_uniform) std::cout << "; uniform KS D " << fixed(u->ks_d, 4) << ", p " << fixed(u->ks_p, 4);
    if (const auto& f = b->placement_beta)
      std::cout << "; Beta fit KS D " << fixed(f->ks_d, 4) << ", p " << fixed(f->ks_p, 4)
                << (f->converged ? "" : " (optimiser did not converge)");
    std::cout << " (one sample per visit)\n";
    std::cout << "  reuse across sessions: start port " << fixed(100 * b->reused_start_fraction, 1) << " %, block "
              << fixed(100 * b->reused_block_fraction, 1) << " % of visits\n";
  }
  if (const auto& u = e.uniform)
    std::cout << "  uniform test: KS D " << fixed(u->ks_d, 4) << ", p " << fixed(u->ks_p, 4) << "; chi-square "
              << fixed(u->chi_square.statistic, 1) << " on " << u->chi_square.dof << " dof, p "
              << fixed(u->chi_square.p, 4) << "\n";
  if (const auto& f = e.beta)
    std::cout << "  Beta fit: KS D " << fixed(f->ks_d, 4) << ", p " << fixed(f->ks_p, 4) << " on " << f->samples
              << " ports; chi-square " << fixed(f->chi_square.statistic, 1) << " on " << f->chi_square.dof
              << " dof, p " << fixed(f->chi_square.p, 4) << (f->converged ? "" : " (optimiser did not converge)")
              << "\n";
  if (!e.run_lengths.empty()) {
    std::size_t runs = 0, longest = 0;
    for (const auto& [length, count] : e.run_lengths) {
      runs += count;
      longest = length;
    }
    std::cout << "  runs of consecutive ports: " << runs << ", mean length "
              << fixed(static_cast<double>(e.rows) / static_cast<double>(runs), 1) << ", longest " << longest << "\n";
  }
}

// The plotting script: --plot-script, else next to an installed binary
// (PREFIX/share/natpunch/), else in the source tree this binary was built
// from (a build directory's binary).
std::optional<std::filesystem::path> find_plot_script(const AnalyzeOptions& o) {
  namespace fs = std::filesystem;
  if (!o.plot_script.empty()) return fs::path(o.plot_script);
  std::error_code ec;
  std::vector<fs::path> candidates;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(exe.parent_path().parent_path() / "share" / "natpunch" / "plot_mappings.py");
  // The source tree's copy, for a binary run from its build directory (an
  // absolute path set by CMake: __FILE__ may be relative or remapped).
  candidates.push_back(fs::path(NATPUNCH_SOURCE_SCRIPTS_DIR) / "plot_mappings.py");
  for (const auto& candidate : candidates)
    if (fs::is_regular_file(candidate, ec)) return candidate;
  return std::nullopt;
}

// Runs `python script dir --format F` and waits. The script's stdout goes to
// our stderr, so --json output on stdout stays one JSON object.
int run_plot_script(const std::string& python, const std::string& script, const std::string& dir,
                    const std::string& format, std::string& error) {
  std::vector<std::string> args{python, script, dir, "--format", format};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  pid_t pid = 0;
  const int spawn_error = posix_spawn(&pid, python.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawn_error != 0) {
    error = "cannot run " + python + ": " + std::strerror(spawn_error) +
            (spawn_error == ENOENT ? " (install Python 3 with matplotlib: apt-get install python3 python3-matplotlib, "
                                     "or pass --python)"
                                   : "");
    return -1;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) {
      error = std::string("waiting for the plotting script: ") + std::strerror(errno);
      return -1;
    }
  if (!WIFEXITED(status)) {
    error = "the plotting script was killed";
    return -1;
  }
  const int code = WEXITSTATUS(status);
  if (code == 3)
    error = python + " has no matplotlib: install it (Debian/Ubuntu: apt-get install python3-matplotlib) or pass "
                     "--python with one that has it";
  else if (code != 0)
    error = script + " failed with exit code " + std::to_string(code) + " (its message is above)";
  return code;
}

struct PlotOutcome {
  bool drawn = false;
  std::vector<std::filesystem::path> figures;
};

// Writes the figures' data into the plots directory and draws them. The data
// files are written even when drawing fails, so they can be plotted later.
bool write_plots(const AnalyzeOptions& o, const Analysis& analysis, PlotOutcome& outcome, std::string& error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(o.plots_dir, ec);
  if (ec) {
    error = "cannot create " + o.plots_dir + ": " + ec.message();
    return false;
  }
  const fs::path dir(o.plots_dir);
  const std::pair<const char*, std::string> files[] = {
      {"analysis.json", analysis_json(analysis) + "\n"},
      {"mappings.csv", mappings_csv(analysis.rows, o.session_gap_s * 1000.0)},
      {"run_lengths.csv", run_lengths_csv(analysis.detected.evidence)},
      {"histogram.csv", histogram_csv(analysis.rows, analysis.detected)},
  };
  for (const auto& [name, text] : files)
    if (!write_file_atomically((dir / name).string(), text, error)) return false;
  const auto script = find_plot_script(o);
  if (!script) {
    error = "cannot find plot_mappings.py (looked next to the binary and in the source tree); pass --plot-script; "
            "the figures' data is in " + o.plots_dir;
    return false;
  }
  std::cerr << "drawing figures into " << o.plots_dir << " ...\n";
  if (run_plot_script(o.python, script->string(), o.plots_dir, o.plot_format, error) != 0) return false;
  for (const char* name : {"ports_over_time", "run_lengths", "port_histogram"}) {
    const fs::path figure = dir / (std::string(name) + "." + o.plot_format);
    if (fs::is_regular_file(figure, ec)) outcome.figures.push_back(figure);
  }
  outcome.drawn = true;
  return true;
}

std::vector<ReportFigure> report_figures(const AnalyzeOptions& o, const PlotOutcome& plots) {
  namespace fs = std::filesystem;
  std::vector<ReportFigure> figures;
  const fs::path report_dir = fs::absolute(fs::path(o.report)).parent_path();
  for (const auto& figure : plots.figures) {
    std::error_code ec;
    fs::path link = fs::relative(fs::absolute(figure), report_dir, ec);
    if (ec || link.empty()) link = fs::absolute(figure);
    const std::string stem = figure.stem().string();
    std::string caption = stem == "ports_over_time" ? "Mapped port through time (cf. the thesis's Fig. 1)"
                          : stem == "run_lengths"   ? "Runs of consecutive ports (cf. Figs. 2 and 3)"
                                                    : "Histogram of mapped ports with the fitted law (cf. Fig. 4)";
    figures.push_back(ReportFigure{link.generic_string(), caption});
  }
  return figures;
}

int run_analyze(const AnalyzeOptions& o) {
  std::string error;
  std::vector<LogFile> files;
  for (const auto& path : o.logs) {
    auto text = read_file(path, error);
    if (!text) {
      std::cerr << "error: " << error << "\n";
      return kExitUsage;
    }
    files.push_back(LogFile{path, std::move(*text)});
  }
  auto collections = read_collections(files);
  if (!collections) {
    std::cerr << "error: " << collections.error() << "\n";
    return kExitUsage;
  }
  const Collections& c = *collections;
  for (const auto& note : c.notes) std::cerr << "note: " << note << "\n";
  DetectOptions detect_options;
  detect_options.session_gap_ms = o.session_gap_s * 1000.0;
  const DetectedAllocator detected = detect_allocator(c.rows, detect_options);
  const Analysis analysis{c.runs, c.rows, detected, detect_options};

  std::string sources;
  for (const auto& path : o.logs) sources += " " + path;
  // A run is named by its phone log without "_phone.csv" and with its
  // directory: vodafone-nl/run1.
  std::vector<std::string> runs;
  for (const auto& run : c.runs) {
    const std::filesystem::path phone(run.client_path);
    std::string stem = phone.stem().string();
    if (stem.ends_with("_phone")) stem.resize(stem.size() - 6);
    const std::string dir = phone.parent_path().filename().string();
    runs.push_back(dir.empty() ? stem : dir + "/" + stem);
  }
  const ProfileIdentity identity{o.name, o.country, o.roaming,
                                 "natpunch analyze" + sources + ": " + std::to_string(c.rows.size()) + " joined rows",
                                 runs, "natpunch analyze" + sources};
  if (!o.trace_out.empty()) {
    std::vector<std::uint16_t> ports;
    ports.reserve(c.rows.size());
    for (const auto& row : c.rows) ports.push_back(row.mapped_port);
    if (!write_file_atomically(o.trace_out, nat::trace_text(ports, identity.source), error)) {
      std::cerr << "error: " << error << "\n";
      return kExitUsage;
    }
  }
  if (!o.profile_out.empty()) {
    if (!write_file_atomically(o.profile_out, profile_json(detected, identity), error)) {
      std::cerr << "error: " << error << "\n";
      return kExitUsage;
    }
  }

  // Figures and report come after the profile: a missing matplotlib must
  // not cost the rest of the analysis.
  int exit_code = kExitOk;
  PlotOutcome plots;
  std::string figures_note;
  if (!o.plots_dir.empty() && !write_plots(o, analysis, plots, error)) {
    std::cerr << "error: figures not drawn: " << error << "\n";
    figures_note = "Not drawn: " + error + ".";
    exit_code = kExitNoAnswer;
  }
  if (!o.report.empty()) {
    const std::string snippet =
        o.name.empty() ? Json{{"allocator", Json::parse(allocator_object_json(detected))}}.dump(2)
                       : profile_json(detected, identity);
    const auto figures = report_figures(o, plots);
    if (!write_file_atomically(o.report, markdown_report(analysis, figures, snippet, figures_note), error)) {
      std::cerr << "error: " << error << "\n";
      return kExitUsage;
    }
  }

  if (o.json) {
    std::cout << analysis_json(analysis) << "\n";
  } else {
    print_text(o, c, detected);
    if (!o.profile_out.empty()) std::cout << "profile written to " << o.profile_out << "\n";
    if (!o.trace_out.empty()) std::cout << "trace of " << c.rows.size() << " ports written to " << o.trace_out << "\n";
    if (plots.drawn) std::cout << "figures written to " << o.plots_dir << "\n";
    if (!o.report.empty()) std::cout << "report written to " << o.report << "\n";
  }
  return exit_code;
}

}  // namespace

void add_analyze_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<AnalyzeOptions>();
  auto* cmd = app.add_subcommand("analyze", "Detect a NAT's port allocator from a mapping collection's two logs");
  cmd->add_option("LOGS", o->logs,
                  "PHONE_LOG SERVER_LOG of one collection (thesis CSV or natpunch's), in either order: the sides "
                  "are told apart by their headers and the phone's Success column; more pairs analyse several "
                  "collections of one carrier together")
      ->required()
      ->expected(2, -1)
      ->type_name("PHONE_LOG SERVER_LOG");
  cmd->add_flag("--json", o->json, "Print one JSON object on stdout");
  auto* out = cmd->add_option("--profile-out", o->profile_out, "Also write a carrier profile JSON with the allocator")
                  ->type_name("FILE");
  auto* name = cmd->add_option("--name", o->name, "Carrier name for --profile-out, e.g. KPN");
  auto* country = cmd->add_option("--country", o->country, "Carrier country for --profile-out (ISO 3166-1, e.g. NL)")
                      ->check([](const std::string& s) -> std::string {
                        if (s.size() == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z') return {};
                        return "must be two capital letters (ISO 3166-1 alpha-2), such as NL";
                      });
  cmd->add_flag("--roaming", o->roaming, "For --profile-out: the logs were taken while roaming");
  out->needs(name);
  out->needs(country);
  cmd->add_option("--session-gap", o->session_gap_s,
                  "A pause longer than this (seconds, phone's clock) between two rows starts a new session: runs "
                  "and block visits end there, and block reuse is counted across sessions")
      ->default_val(30)
      ->check(positive_number());
  cmd->add_option("--plots", o->plots_dir,
                  "Write the figures (ports over time, run lengths, port histogram with the fitted law) and their "
                  "data (CSV, analysis.json) into this directory")
      ->type_name("DIR");
  cmd->add_option("--plot-format", o->plot_format, "Figure format for --plots")
      ->default_val("png")
      ->check(CLI::IsMember({"png", "svg"}));
  cmd->add_option("--plot-script", o->plot_script,
                  "plot_mappings.py to use (default: PREFIX/share/natpunch/, else the source tree's scripts/)")
      ->type_name("FILE");
  cmd->add_option("--python", o->python, "Python 3 with matplotlib for --plots")->default_val("/usr/bin/python3");
  cmd->add_option("--trace-out", o->trace_out,
                  "Also write the joined external ports in allocation order (all collections, one after the other), "
                  "one per line: the trace natd --allocator trace:FILE and simulate matrix --trace replay")
      ->type_name("FILE");
  cmd->add_option("--report", o->report,
                  "Write a one-page Markdown report (sources, malformed rows, allocator and evidence, figures from "
                  "--plots, profile snippet)")
      ->type_name("FILE");
  cmd->footer(
      "Examples:\n"
      "  natpunch analyze phone.csv server.csv\n"
      "  natpunch analyze phone.csv server.csv --json\n"
      "  natpunch analyze phone.csv server.csv --profile-out kpn.json --name KPN --country NL\n"
      "  natpunch analyze phone.csv server.csv --plots kpn-figs --report kpn-report.md\n"
      "  natpunch analyze run1_phone.csv run1_server.csv run4_phone.csv run4_server.csv   # two runs together\n"
      "  natpunch analyze phone.csv server.csv --trace-out voda.trace   # then natd --allocator trace:voda.trace\n"
      "Logs: thesis format 'Message id, Time, Sender Port, Receiver Port[, Success]' or natpunch's\n"
      "'uuid,time_ms,local_port,server_port'. Bad rows are counted and skipped.\n"
      "Allocators: block (KPN's and Lebara's: in order from a block's first port until used up), windows\n"
      "with locality (blocks at an offset, in random order, or held for a time: written as a uniform or\n"
      "beta allocator with a \"locality\" object), uniform, beta, sequential, preserving, unknown.\n"
      "--plots needs /usr/bin/python3 with matplotlib (apt-get install python3-matplotlib); without\n"
      "it the data files, profile and report are still written.\n"
      "Exit codes: 0 ok, 1 figures could not be drawn (everything else was written),\n"
      "2 unreadable file, nothing usable, two logs of one side, or bad options.\n");
  cmd->callback([o, &exit_code] { exit_code = run_analyze(*o); });
}

}  // namespace natpunch::cli

// `natpunch analyze CLIENT_LOG SERVER_LOG`: turns the two logs of a mapping
// collection into the carrier's port allocator (thesis Sections III-E and
// VI-A), with the evidence, optionally as a carrier profile.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>

#include "analyze/allocator_detect.hpp"
#include "analyze/mapping_join.hpp"
#include "analyze/mapping_log.hpp"
#include "analyze/profile_export.hpp"
#include "commands.hpp"

namespace natpunch::cli {

namespace {

using namespace natpunch::analyze;
using Json = nlohmann::ordered_json;

struct AnalyzeOptions {
  std::string client_log;
  std::string server_log;
  bool json = false;
  std::string profile_out;
  std::string name;
  std::string country;
  bool roaming = false;
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

Json malformed_json(const ParsedLog& log) {
  Json object = Json::object();
  for (std::size_t i = 0; i < kMalformedReasonCount; ++i)
    if (log.malformed[i] > 0) object[std::string(to_string(static_cast<MalformedReason>(i)))] = log.malformed[i];
  return object;
}

Json log_json(const ParsedLog& log) {
  return Json{{"dialect", std::string(to_string(log.dialect))}, {"lines", log.lines},
              {"header_lines", log.header_lines}, {"rows", log.records.size()},
              {"malformed", malformed_json(log)}};
}

Json evidence_json(const AllocatorEvidence& e) {
  Json object{{"rows", e.rows}, {"reason", std::string(e.reason)}, {"preserved_fraction", e.preserved_fraction},
              {"step_fraction", e.step_fraction}};
  Json runs = Json::object();
  for (const auto& [length, count] : e.run_lengths) runs[std::to_string(length)] = count;
  object["run_lengths"] = runs;
  if (e.block)
    object["block"] = Json{{"blocks", e.block->blocks},
                           {"start_aligned_fraction", e.block->start_aligned_fraction},
                           {"consumed_whole_fraction", e.block->consumed_whole_fraction},
                           {"boundary_crossings", e.block->boundary_crossings},
                           {"expected_sequential_crossings", e.block->expected_sequential_crossings}};
  if (e.uniform) object["uniform"] = Json{{"ks_d", e.uniform->ks_d}, {"ks_p", e.uniform->ks_p}};
  if (e.beta)
    object["beta_fit"] = Json{{"alpha", e.beta->alpha},       {"beta", e.beta->beta},
                              {"loc", e.beta->loc},           {"scale", e.beta->scale},
                              {"ks_d", e.beta->ks_d},         {"log_likelihood", e.beta->log_likelihood},
                              {"samples", e.beta->samples},   {"converged", e.beta->converged}};
  return object;
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

void print_text(const AnalyzeOptions& o, const ParsedLog& client, const ParsedLog& server, const JoinedMappings& joined,
                const DetectedAllocator& d) {
  print_log_text("client ", o.client_log, client);
  print_log_text("server ", o.server_log, server);
  std::cout << "joined " << joined.rows.size() << " rows on the message id (" << joined.client_only
            << " sent but not received, " << joined.server_only << " received but not sent, "
            << joined.duplicate_client_ids + joined.duplicate_server_ids << " duplicate ids)\n";
  std::cout << "allocator: " << to_string(d.kind);
  if (d.block_size) std::cout << ", block_size " << *d.block_size;
  if (d.min && d.max) std::cout << ", ports " << *d.min << ".." << *d.max;
  if (d.alpha)
    std::cout << ", B(alpha " << fixed(*d.alpha, 3) << ", beta " << fixed(*d.beta, 3) << ", loc " << fixed(*d.loc, 0)
              << ", scale " << fixed(*d.scale, 0) << ")";
  std::cout << "\n  why: " << d.evidence.reason << "\n";
  const auto& e = d.evidence;
  std::cout << "  mapped == local in " << fixed(100 * e.preserved_fraction, 1) << " % of rows; +1 steps "
            << fixed(100 * e.step_fraction, 1) << " %\n";
  if (e.block)
    std::cout << "  blocks seen " << e.block->blocks << ": starting at a multiple of 256 "
              << fixed(100 * e.block->start_aligned_fraction, 1) << " %, consumed whole "
              << fixed(100 * e.block->consumed_whole_fraction, 1) << " %; boundary crossings "
              << e.block->boundary_crossings << " (sequential would make ~"
              << fixed(e.block->expected_sequential_crossings, 0) << ")\n";
  if (e.uniform)
    std::cout << "  uniform test: KS D " << fixed(e.uniform->ks_d, 4) << ", p " << fixed(e.uniform->ks_p, 4) << "\n";
  if (e.beta)
    std::cout << "  Beta fit: KS D " << fixed(e.beta->ks_d, 4) << " on " << e.beta->samples << " ports"
              << (e.beta->converged ? "" : " (optimiser did not converge)") << "\n";
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

int run_analyze(const AnalyzeOptions& o) {
  std::string error;
  const auto client_text = read_file(o.client_log, error);
  if (!client_text) {
    std::cerr << "error: " << error << "\n";
    return kExitUsage;
  }
  const auto server_text = read_file(o.server_log, error);
  if (!server_text) {
    std::cerr << "error: " << error << "\n";
    return kExitUsage;
  }
  const ParsedLog client = parse_mapping_log(*client_text, LogSide::Client);
  const ParsedLog server = parse_mapping_log(*server_text, LogSide::Server);
  for (const auto* side : {&client, &server})
    if (side->records.empty()) {
      std::cerr << "error: " << (side == &client ? o.client_log : o.server_log)
                << " has no usable rows (" << side->malformed_total() << " malformed of " << side->lines
                << " lines); expected CSV rows like 'id, time, sender port, receiver port'\n";
      return kExitUsage;
    }
  const JoinedMappings joined = join_mappings(client, server);
  if (joined.rows.empty()) {
    std::cerr << "error: no message id appears in both logs; are " << o.client_log << " and " << o.server_log
              << " from the same collection, client first?\n";
    return kExitUsage;
  }
  const DetectedAllocator detected = detect_allocator(joined.rows);

  if (!o.profile_out.empty()) {
    const ProfileIdentity identity{o.name, o.country, o.roaming,
                                   "natpunch analyze " + o.client_log + " " + o.server_log + ": " +
                                       std::to_string(joined.rows.size()) + " joined rows"};
    if (!write_file_atomically(o.profile_out, profile_json(detected, identity), error)) {
      std::cerr << "error: " << error << "\n";
      return kExitUsage;
    }
  }

  if (o.json) {
    Json report{{"client", log_json(client)},
                {"server", log_json(server)},
                {"joined", Json{{"rows", joined.rows.size()},
                                {"client_only", joined.client_only},
                                {"server_only", joined.server_only},
                                {"duplicate_client_ids", joined.duplicate_client_ids},
                                {"duplicate_server_ids", joined.duplicate_server_ids}}}};
    Json allocator = Json::parse(allocator_object_json(detected));
    if (detected.min) allocator["observed_min"] = *detected.min;
    if (detected.max) allocator["observed_max"] = *detected.max;
    allocator["evidence"] = evidence_json(detected.evidence);
    report["allocator"] = allocator;
    std::cout << report.dump(2) << "\n";
  } else {
    print_text(o, client, server, joined, detected);
    if (!o.profile_out.empty()) std::cout << "profile written to " << o.profile_out << "\n";
  }
  return kExitOk;
}

}  // namespace

void add_analyze_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<AnalyzeOptions>();
  auto* cmd = app.add_subcommand("analyze", "Detect a NAT's port allocator from a mapping collection's two logs");
  cmd->add_option("CLIENT_LOG", o->client_log, "The phone's log (thesis CSV or natpunch's)")->required();
  cmd->add_option("SERVER_LOG", o->server_log, "The server's log of the same collection")->required();
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
  cmd->footer(
      "Examples:\n"
      "  natpunch analyze phone.csv server.csv\n"
      "  natpunch analyze phone.csv server.csv --json\n"
      "  natpunch analyze phone.csv server.csv --profile-out kpn.json --name KPN --country NL\n"
      "Logs: thesis format 'Message id, Time, Sender Port, Receiver Port[, Success]' or natpunch's\n"
      "'uuid,time_ms,local_port,server_port'. Bad rows are counted and skipped.\n"
      "Exit codes: 0 ok, 2 unreadable file, nothing usable, or bad options.\n");
  cmd->callback([o, &exit_code] { exit_code = run_analyze(*o); });
}

}  // namespace natpunch::cli

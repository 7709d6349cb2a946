#include "analyze/analysis_summary.hpp"

#include <nlohmann/json.hpp>

#include "analyze/profile_export.hpp"

namespace natpunch::analyze {

namespace {

using Json = nlohmann::ordered_json;

Json malformed_json(const ParsedLog& log) {
  Json object = Json::object();
  for (std::size_t i = 0; i < kMalformedReasonCount; ++i)
    if (log.malformed[i] > 0) object[std::string(to_string(static_cast<MalformedReason>(i)))] = log.malformed[i];
  return object;
}

Json log_json(const std::string& path, const ParsedLog& log) {
  return Json{{"path", path},
              {"dialect", std::string(to_string(log.dialect))},
              {"lines", log.lines},
              {"header_lines", log.header_lines},
              {"rows", log.records.size()},
              {"malformed", malformed_json(log)}};
}

Json chi_square_json(const ChiSquareTest& t) {
  return Json{{"statistic", t.statistic}, {"bins", t.bins}, {"dof", t.dof}, {"p", t.p}};
}

Json evidence_json(const AllocatorEvidence& e) {
  Json object{{"rows", e.rows},
              {"sessions", e.sessions},
              {"reason", std::string(e.reason)},
              {"preserved_fraction", e.preserved_fraction},
              {"step_fraction", e.step_fraction}};
  Json runs = Json::object();
  for (const auto& [length, count] : e.run_lengths) runs[std::to_string(length)] = count;
  object["run_lengths"] = runs;
  if (const auto& b = e.block) {
    Json repeated = Json::array();
    for (const auto& [port, sessions] : b->repeated_starts) repeated.push_back(Json{{"port", port}, {"sessions", sessions}});
    Json placement = Json{{"why", b->placement_why}};
    if (const auto& u = b->placement_uniform) placement["uniform"] = Json{{"ks_d", u->ks_d}, {"ks_p", u->ks_p}};
    if (const auto& f = b->placement_beta)
      placement["beta_fit"] = Json{{"alpha", f->alpha}, {"beta", f->beta}, {"loc", f->loc}, {"scale", f->scale},
                                   {"ks_d", f->ks_d},   {"ks_p", f->ks_p},  {"samples", f->samples},
                                   {"converged", f->converged}};
    Json reset{{"rule", std::string(to_string(b->reset.rule))}, {"why", b->reset.why}};
    if (b->reset.rule == ResetRule::Hold) reset["hold_s"] = b->reset.hold_s;
    else reset["mappings"] = b->reset.mappings;
    object["block"] = Json{{"order", std::string(to_string(b->order))},
                           {"offset", b->offset},
                           {"jump_rate", 1 - b->same_block_fraction},
                           {"complete_visits", b->complete_visits},
                           {"median_mappings", b->median_mappings},
                           {"mappings_cv", b->mappings_cv},
                           {"median_hold_s", b->median_hold_s},
                           {"hold_cv", b->hold_cv},
                           {"reset", reset},
                           {"placement", placement},
                           {"visits", b->visits},
                           {"start_aligned_fraction", b->start_aligned_fraction},
                           {"consumed_whole_fraction", b->consumed_whole_fraction},
                           {"in_visit_step_fraction", b->in_visit_step_fraction},
                           {"boundary_crossings", b->boundary_crossings},
                           {"expected_sequential_crossings", b->expected_sequential_crossings},
                           {"same_block_fraction", b->same_block_fraction},
                           {"same_block_by_chance", b->same_block_by_chance},
                           {"reused_start_fraction", b->reused_start_fraction},
                           {"reused_block_fraction", b->reused_block_fraction},
                           {"repeated_starts", repeated}};
  }
  if (const auto& u = e.uniform)
    object["uniform"] = Json{{"ks_d", u->ks_d}, {"ks_p", u->ks_p}, {"chi_square", chi_square_json(u->chi_square)}};
  if (const auto& f = e.beta)
    object["beta_fit"] = Json{{"alpha", f->alpha},
                              {"beta", f->beta},
                              {"loc", f->loc},
                              {"scale", f->scale},
                              {"ks_d", f->ks_d},
                              {"ks_p", f->ks_p},
                              {"chi_square", chi_square_json(f->chi_square)},
                              {"log_likelihood", f->log_likelihood},
                              {"samples", f->samples},
                              {"converged", f->converged}};
  return object;
}

Json joined_json(const JoinedMappings& joined, std::size_t rows) {
  return Json{{"rows", rows},
              {"client_only", joined.client_only},
              {"server_only", joined.server_only},
              {"duplicate_client_ids", joined.duplicate_client_ids},
              {"duplicate_server_ids", joined.duplicate_server_ids}};
}

}  // namespace

JoinedMappings join_totals(std::span<const CollectionRun> runs) {
  JoinedMappings total;
  for (const auto& run : runs) {
    total.client_only += run.joined.client_only;
    total.server_only += run.joined.server_only;
    total.duplicate_client_ids += run.joined.duplicate_client_ids;
    total.duplicate_server_ids += run.joined.duplicate_server_ids;
  }
  return total;
}

std::string analysis_json(const Analysis& a) {
  const auto& detected = a.detected;
  Json report = Json::object();
  // One collection: its logs at the top, as before several could be given.
  if (a.runs.size() == 1) {
    report["client"] = log_json(a.runs[0].client_path, a.runs[0].client);
    report["server"] = log_json(a.runs[0].server_path, a.runs[0].server);
  }
  Json runs = Json::array();
  for (const auto& run : a.runs)
    runs.push_back(Json{{"client", log_json(run.client_path, run.client)},
                        {"server", log_json(run.server_path, run.server)},
                        {"joined", joined_json(run.joined, run.joined.rows.size())}});
  report["runs"] = runs;
  report["joined"] = joined_json(join_totals(a.runs), a.rows.size());
  report["session_gap_ms"] = a.options.session_gap_ms;
  Json allocator = Json::parse(allocator_object_json(detected));
  if (detected.min) allocator["observed_min"] = *detected.min;
  if (detected.max) allocator["observed_max"] = *detected.max;
  allocator["evidence"] = evidence_json(detected.evidence);
  report["allocator"] = allocator;
  return report.dump(2);
}

}  // namespace natpunch::analyze

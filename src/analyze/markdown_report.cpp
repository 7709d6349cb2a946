#include "analyze/markdown_report.hpp"

#include <array>
#include <cstdio>

#include "analyze/analysis_summary.hpp"

namespace natpunch::analyze {

namespace {

std::string fixed(double value, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, value);
  return buf;
}

std::string percent(double fraction) { return fixed(100.0 * fraction, 1) + " %"; }

// Table cells hold file names; a '|' in one would split the cell.
std::string cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out;
}

void log_row(std::string& md, std::string_view side, const std::string& path, const ParsedLog& log) {
  md += "| " + std::string(side) + " | `" + cell(path) + "` | " + std::string(to_string(log.dialect)) + " | " +
        std::to_string(log.lines) + " | " + std::to_string(log.header_lines) + " | " +
        std::to_string(log.records.size()) + " | " + std::to_string(log.malformed_total()) + " |\n";
}

std::string parameters(const DetectedAllocator& d) {
  std::string text;
  if (d.block_size) {
    text += "block_size " + std::to_string(*d.block_size) + ", ports taken " +
            (d.block_order == BlockOrder::Random ? "in random order" : "in order") + " inside a block";
    if (d.block_offset.value_or(0) != 0) text += " starting at offset " + std::to_string(*d.block_offset);
    if (d.block_reset)
      text += "; a stay ends after " + (d.block_reset->rule == ResetRule::Hold
                                            ? fixed(d.block_reset->hold_s, 1) + " s"
                                            : std::to_string(d.block_reset->mappings) + " mappings");
    text += "; blocks placed ";
    if (!d.alpha) text += d.min && d.max ? "uniformly in " + std::to_string(*d.min) + "-" + std::to_string(*d.max) : "uniformly";
    return text + (d.alpha ? "by B(alpha " + fixed(*d.alpha, 3) + ", beta " + fixed(*d.beta, 3) + ", loc " +
                                 fixed(*d.loc, 1) + ", scale " + fixed(*d.scale, 1) + ")"
                           : "");
  }
  if (d.min && d.max) text += "observed range " + std::to_string(*d.min) + "-" + std::to_string(*d.max);
  if (d.alpha)
    text += "B(alpha " + fixed(*d.alpha, 3) + ", beta " + fixed(*d.beta, 3) + ", loc " + fixed(*d.loc, 1) +
            ", scale " + fixed(*d.scale, 1) + ")";
  return text.empty() ? "none" : text;
}

void evidence_rows(std::string& md, const AllocatorEvidence& e) {
  const auto row = [&md](std::string_view what, const std::string& value) {
    md += "| " + std::string(what) + " | " + value + " |\n";
  };
  md += "| evidence | value |\n|---|---|\n";
  row("joined rows", std::to_string(e.rows));
  row("sessions (pauses longer than the session gap split them)", std::to_string(e.sessions));
  row("mapped port == local port", percent(e.preserved_fraction));
  row("+1 steps between consecutive rows", percent(e.step_fraction));
  if (!e.run_lengths.empty()) {
    std::size_t runs = 0;
    std::uint32_t longest = 0;
    for (const auto& [length, count] : e.run_lengths) {
      runs += count;
      longest = length;
    }
    row("runs of consecutive ports", std::to_string(runs) + " (mean length " +
                                         fixed(static_cast<double>(e.rows) / static_cast<double>(runs), 2) +
                                         ", longest " + std::to_string(longest) + ")");
  }
  if (const auto& b = e.block) {
    row("block visits", std::to_string(b->visits));
    row("visits starting at a multiple of 256 (thesis, KPN: 36.9 %)", percent(b->start_aligned_fraction));
    row("visits that consumed the whole block (thesis, KPN: 32.3 %)", percent(b->consumed_whole_fraction));
    row("+1 steps inside visits", percent(b->in_visit_step_fraction));
    row("first port of each block, modulo the block size", std::to_string(b->offset));
    row("jump rate (transitions leaving the block)", percent(1 - b->same_block_fraction));
    row("complete visits: median mappings (cv)", fixed(b->median_mappings, 0) + " (" + fixed(b->mappings_cv, 3) + ")");
    row("complete visits: median hold (cv)", fixed(b->median_hold_s, 1) + " s (" + fixed(b->hold_cv, 3) + ")");
    row("what ends a stay", std::string(to_string(b->reset.rule)) + ": " + b->reset.why);
    row("where blocks sit", b->placement_why);
    if (const auto& u = b->placement_uniform)
      row("placement, uniform KS (one sample per visit)", "D " + fixed(u->ks_d, 4) + ", p " + fixed(u->ks_p, 4));
    if (const auto& f = b->placement_beta)
      row("placement, Beta fit KS (one sample per visit)", "D " + fixed(f->ks_d, 4) + ", p " + fixed(f->ks_p, 4));
    if (b->order == BlockOrder::InOrder)
      row("+1 steps crossing a block boundary", std::to_string(b->boundary_crossings) + " (sequential would make ~" +
                                                    fixed(b->expected_sequential_crossings, 0) + ")");
    else
      row("transitions staying in one block", percent(b->same_block_fraction) + " (by chance: " +
                                                  percent(b->same_block_by_chance) + ")");
    row("visits whose start port began a visit in an earlier session", percent(b->reused_start_fraction));
    row("visits to a block visited in an earlier session", percent(b->reused_block_fraction));
    if (!b->repeated_starts.empty()) {
      std::string list;
      for (const auto& [port, sessions] : b->repeated_starts)
        list += (list.empty() ? "" : ", ") + std::to_string(port) + " (" + std::to_string(sessions) + " sessions)";
      row("start ports reused across sessions", list);
    }
  }
  if (const auto& u = e.uniform) {
    row("uniformity, Kolmogorov-Smirnov", "D " + fixed(u->ks_d, 4) + ", p " + fixed(u->ks_p, 4));
    row("uniformity, chi-square", fixed(u->chi_square.statistic, 1) + " on " + std::to_string(u->chi_square.dof) +
                                      " dof, p " + fixed(u->chi_square.p, 4));
  }
  if (const auto& f = e.beta) {
    row("Beta ML fit", "alpha " + fixed(f->alpha, 3) + ", beta " + fixed(f->beta, 3) + ", loc " + fixed(f->loc, 1) +
                           ", scale " + fixed(f->scale, 1) + (f->converged ? "" : " (did not converge)"));
    row("Beta fit, Kolmogorov-Smirnov", "D " + fixed(f->ks_d, 4) + ", p " + fixed(f->ks_p, 4) + " on " +
                                            std::to_string(f->samples) + " ports");
    row("Beta fit, chi-square", fixed(f->chi_square.statistic, 1) + " on " + std::to_string(f->chi_square.dof) +
                                    " dof, p " + fixed(f->chi_square.p, 4));
  }
}

}  // namespace

std::string markdown_report(const Analysis& a, std::span<const ReportFigure> figures,
                            std::string_view profile_json_text, std::string_view figures_note) {
  const auto& d = a.detected;
  std::string md = "# Mapping analysis: " + std::string(to_string(d.kind)) + " allocator\n\n";
  md += a.runs.size() == 1 ? "Written by `natpunch analyze` from the two logs of one mapping collection (thesis Section "
                             "III-E).\n\n"
                           : "Written by `natpunch analyze` from the logs of " + std::to_string(a.runs.size()) +
                                 " mapping collections (thesis Section III-E), analysed together; a session never "
                                 "spans two collections.\n\n";

  md += "## Sources\n\n| side | file | format | lines | headers | rows | malformed |\n|---|---|---|---|---|---|---|\n";
  for (std::size_t r = 0; r < a.runs.size(); ++r) {
    const std::string suffix = a.runs.size() == 1 ? "" : " " + std::to_string(r + 1);
    log_row(md, "phone" + suffix, a.runs[r].client_path, a.runs[r].client);
    log_row(md, "server" + suffix, a.runs[r].server_path, a.runs[r].server);
  }
  std::array<std::size_t, kMalformedReasonCount> phone{}, server{};
  bool any_malformed = false;
  for (const auto& run : a.runs)
    for (std::size_t i = 0; i < kMalformedReasonCount; ++i) {
      phone[i] += run.client.malformed[i];
      server[i] += run.server.malformed[i];
      any_malformed = any_malformed || phone[i] + server[i] > 0;
    }
  if (any_malformed) {
    md += "\nMalformed rows (skipped), by reason:\n\n| reason | phone | server |\n|---|---|---|\n";
    for (std::size_t i = 0; i < kMalformedReasonCount; ++i)
      if (phone[i] + server[i] > 0)
        md += "| " + std::string(to_string(static_cast<MalformedReason>(i))) + " | " + std::to_string(phone[i]) +
              " | " + std::to_string(server[i]) + " |\n";
  }
  const auto j = join_totals(a.runs);
  md += "\nJoined on the message id: **" + std::to_string(a.rows.size()) + " rows**; " + std::to_string(j.client_only) +
        " sent but never received, " + std::to_string(j.server_only) + " received but not in the phone's log, " +
        std::to_string(j.duplicate_client_ids + j.duplicate_server_ids) + " duplicate ids (first kept).\n\n";

  md += "## Allocator\n\n**" + std::string(to_string(d.kind)) + "**: " + parameters(d) + ".\n\n";
  md += "Why: " + std::string(d.evidence.reason) + ". A session ends at a pause of more than " +
        fixed(a.options.session_gap_ms / 1000.0, 1) + " s between two rows.\n\n";
  evidence_rows(md, d.evidence);

  if (!figures.empty()) {
    md += "\n## Figures\n\n";
    for (const auto& f : figures) md += "![" + f.caption + "](" + f.path + ")\n\n*" + f.caption + "*\n\n";
  } else if (!figures_note.empty()) {
    md += "\n## Figures\n\n" + std::string(figures_note) + "\n";
  }
  md += "\n## Carrier profile\n\n```json\n" + std::string(profile_json_text);
  if (!profile_json_text.empty() && profile_json_text.back() != '\n') md += "\n";
  md += "```\n";
  return md;
}

}  // namespace natpunch::analyze

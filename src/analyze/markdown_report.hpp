#pragma once
// The one-page Markdown report `natpunch analyze --report FILE` writes:
// where the logs came from and what was in them (rows, malformed rows per
// reason), the join, the detected allocator with its parameters and the
// evidence that decided it, the figures, and the carrier-profile snippet.
#include <span>
#include <string>
#include <string_view>

#include "analyze/analysis_summary.hpp"

namespace natpunch::analyze {

struct ReportFigure {
  std::string path;  // as the report should link it (relative to the report's directory)
  std::string caption;
};

// `figures_note`: said under "Figures" when there are none to show (e.g.
// why they could not be drawn); empty for no such section.
std::string markdown_report(const Analysis& analysis, std::span<const ReportFigure> figures,
                            std::string_view profile_json_text, std::string_view figures_note = {});

}  // namespace natpunch::analyze

#pragma once
// The numbers behind the analyzer's figures, as CSV text that
// scripts/plot_mappings.py draws (the thesis's Figures 1-4):
//   mappings.csv    ports over time (Fig. 1): one row per joined mapping
//   run_lengths.csv runs of consecutive ports (Figs. 2-3)
//   histogram.csv   mapped ports binned, with the count each bin expects
//                   under the fitted law (uniform or Beta; Fig. 4)
// Kept apart from the drawing so the data is there (and testable) even
// where matplotlib is not.
#include <span>
#include <string>

#include "analyze/allocator_detect.hpp"
#include "analyze/mapping_join.hpp"

namespace natpunch::analyze {

// row,time_s,session,local_port,mapped_port,server_port; time_s counts from
// the first row on the phone's clock.
std::string mappings_csv(std::span<const MappingRow> rows, double session_gap_ms);

// length,runs
std::string run_lengths_csv(const AllocatorEvidence& evidence);

// bin_lo,bin_hi,count,expected: bins over the observed port range, each
// holding ports bin_lo .. bin_hi inclusive; `expected` is empty when the
// detected kind has no fitted law.
std::string histogram_csv(std::span<const MappingRow> rows, const DetectedAllocator& detected);

}  // namespace natpunch::analyze

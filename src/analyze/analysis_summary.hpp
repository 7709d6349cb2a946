#pragma once
// One analysis of one or more mapping collections, as the machine-readable
// summary `natpunch analyze --json` prints and the plots and the report
// read: each collection's two logs (rows, malformed rows per reason) and
// join, and the detected allocator with every piece of evidence.
#include <span>
#include <string>

#include "analyze/allocator_detect.hpp"
#include "analyze/collection_logs.hpp"

namespace natpunch::analyze {

struct Analysis {
  std::span<const CollectionRun> runs;
  std::span<const MappingRow> rows;  // every run's joined rows, as analysed
  const DetectedAllocator& detected;
  DetectOptions options;
};

// The joins of all runs added up.
JoinedMappings join_totals(std::span<const CollectionRun> runs);

// Pretty-printed JSON object (2-space indent, no trailing newline).
std::string analysis_json(const Analysis& analysis);

}  // namespace natpunch::analyze

#pragma once
// One analysis of a mapping collection, as the machine-readable summary
// `natpunch analyze --json` prints and the plots and the report read: the
// two logs (rows, malformed rows per reason), the join, and the detected
// allocator with every piece of evidence.
#include <string>

#include "analyze/allocator_detect.hpp"
#include "analyze/mapping_join.hpp"
#include "analyze/mapping_log.hpp"

namespace natpunch::analyze {

struct Analysis {
  std::string client_path;
  std::string server_path;
  const ParsedLog& client;
  const ParsedLog& server;
  const JoinedMappings& joined;
  const DetectedAllocator& detected;
  DetectOptions options;
};

// Pretty-printed JSON object (2-space indent, no trailing newline).
std::string analysis_json(const Analysis& analysis);

}  // namespace natpunch::analyze

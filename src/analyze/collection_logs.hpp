#pragma once
// The logs of one or more mapping collections as a user gives them: pairs
// of files, each pair one collection (the phone's log and the server's).
// Which file of a pair is which side is read from the content (headers,
// the phone's Success column), not from the order: swapped logs are read
// the right way round (with a note), and two logs of one side, one file
// twice, a log with no usable row or two logs with no id in common are
// refused with one line that names the files and says why.
#include <cstddef>
#include <string>
#include <vector>

#include "analyze/mapping_join.hpp"
#include "analyze/mapping_log.hpp"
#include "core/result.hpp"

namespace natpunch::analyze {

struct LogFile {
  std::string path;
  std::string text;
};

struct CollectionRun {
  std::string client_path;
  std::string server_path;
  ParsedLog client;
  ParsedLog server;
  JoinedMappings joined;
};

struct Collections {
  std::vector<CollectionRun> runs;
  // Every run's joined rows, run after run, each tagged with its run's
  // index (MappingRow::run): sessions never span two runs.
  std::vector<MappingRow> rows;
  // Lines for the user (e.g. that a pair was given server first).
  std::vector<std::string> notes;
};

// `files` in the order given: files[0] + files[1] is the first collection,
// and so on; an odd count is an error.
Result<Collections, std::string> read_collections(const std::vector<LogFile>& files);

}  // namespace natpunch::analyze

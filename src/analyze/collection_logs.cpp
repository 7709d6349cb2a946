#include "analyze/collection_logs.hpp"

#include <optional>
#include <utility>

namespace natpunch::analyze {

namespace {

std::string side_name(LogSide side) { return side == LogSide::Client ? "phone" : "server"; }

// What told the side of two logs: "headers", "Success columns" or both.
std::string why_sides(const ParsedLog& a, const ParsedLog& b) {
  const bool headers = a.header_side || b.header_side;
  const bool success = !a.header_side || !b.header_side;
  if (headers && success) return "by a header and a Success column";
  return headers ? "by their headers" : "by their Success columns";
}

Result<CollectionRun, std::string> read_pair(const LogFile& first, const LogFile& second, std::vector<std::string>& notes) {
  ParsedLog a = parse_mapping_log(first.text);
  ParsedLog b = parse_mapping_log(second.text);
  const auto side_a = apparent_side(a), side_b = apparent_side(b);
  if (side_a && side_b && *side_a == *side_b)
    return Unexpected{first.path + " and " + second.path + " are both " + side_name(*side_a) + " logs (" +
                      why_sides(a, b) + "); give the phone's log and the server's log of one collection"};
  // Without headers or Success columns one file given twice still is no collection.
  if (first.text == second.text)
    return Unexpected{first.path + " and " + second.path +
                      " hold the same rows: give the phone's log and the server's log of one collection"};
  // Given server first: read them the other way round. Without a header
  // or Success column on either side the content cannot tell, and the
  // order given (phone first) stands.
  const bool swapped = side_a == LogSide::Server || side_b == LogSide::Client;
  CollectionRun run;
  const LogFile& client_file = swapped ? second : first;
  const LogFile& server_file = swapped ? first : second;
  if (swapped) notes.push_back(first.path + " is the server's log and " + second.path + " the phone's: read them so");
  run.client_path = client_file.path;
  run.server_path = server_file.path;
  run.client = std::move(swapped ? b : a);
  run.server = std::move(swapped ? a : b);
  // A server log has no Success column: rows with one are malformed there.
  if (run.server.success_rows > 0) run.server = parse_mapping_log(server_file.text, LogSide::Server);
  for (const auto& [path, log] : {std::pair{&run.client_path, &run.client}, {&run.server_path, &run.server}})
    if (log->records.empty())
      return Unexpected{*path + " has no usable rows (" + std::to_string(log->malformed_total()) + " malformed of " +
                        std::to_string(log->lines) +
                        " lines); expected CSV rows like 'id, time, sender port, receiver port[, success]'"};
  run.joined = join_mappings(run.client, run.server);
  if (run.joined.rows.empty())
    return Unexpected{"no message id appears in both " + run.client_path + " and " + run.server_path +
                      "; are they the two logs of one collection?"};
  return run;
}

}  // namespace

Result<Collections, std::string> read_collections(const std::vector<LogFile>& files) {
  if (files.empty() || files.size() % 2 != 0)
    return Unexpected{"give the logs in pairs, the phone's and the server's of each collection (got " +
                      std::to_string(files.size()) + " file" + (files.size() == 1 ? "" : "s") + ")"};
  Collections collections;
  for (std::size_t i = 0; i < files.size(); i += 2) {
    auto run = read_pair(files[i], files[i + 1], collections.notes);
    if (!run) return Unexpected{run.error()};
    const auto index = static_cast<std::uint32_t>(collections.runs.size());
    for (MappingRow row : run->joined.rows) {
      row.run = index;
      collections.rows.push_back(row);
    }
    collections.runs.push_back(std::move(*run));
  }
  return collections;
}

}  // namespace natpunch::analyze

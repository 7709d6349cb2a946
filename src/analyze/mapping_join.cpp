#include "analyze/mapping_join.hpp"

#include <algorithm>
#include <bit>
#include <functional>
#include <string_view>
#include <vector>

namespace natpunch::analyze {

namespace {

// First-occurrence index of each id of one log, in an open-addressing
// table: node-based maps cost an allocation per id, the bulk of a
// million-row join.
class IdIndex {
 public:
  static constexpr std::size_t kAbsent = static_cast<std::size_t>(-1);

  explicit IdIndex(const ParsedLog& log)
      : log_(log), slots_(std::bit_ceil(std::max<std::size_t>(16, log.records.size() * 2)), kAbsent) {}

  // Index of the row that first carried `id`, or kAbsent.
  std::size_t find(std::string_view id) const {
    for (std::size_t slot = hash(id);; slot = (slot + 1) & mask()) {
      const std::size_t row = slots_[slot];
      if (row == kAbsent || log_.id_of(log_.records[row]) == id) return row;
    }
  }

  // False when the id was already there (the row is a duplicate).
  bool insert(std::size_t row) {
    const std::string_view id = log_.id_of(log_.records[row]);
    for (std::size_t slot = hash(id);; slot = (slot + 1) & mask()) {
      if (slots_[slot] == kAbsent) {
        slots_[slot] = row;
        return true;
      }
      if (log_.id_of(log_.records[slots_[slot]]) == id) return false;
    }
  }

 private:
  std::size_t mask() const { return slots_.size() - 1; }
  std::size_t hash(std::string_view id) const { return std::hash<std::string_view>{}(id) & mask(); }

  const ParsedLog& log_;
  std::vector<std::size_t> slots_;  // at most half full, so probes stay short and always end
};

}  // namespace

JoinedMappings join_mappings(const ParsedLog& client, const ParsedLog& server) {
  JoinedMappings joined;
  IdIndex received(server);
  std::size_t distinct_received = 0;
  for (std::size_t i = 0; i < server.records.size(); ++i) {
    if (received.insert(i)) ++distinct_received;
    else ++joined.duplicate_server_ids;
  }

  IdIndex sent(client);
  joined.rows.reserve(std::min(client.records.size(), distinct_received));
  for (std::size_t i = 0; i < client.records.size(); ++i) {
    if (!sent.insert(i)) {
      ++joined.duplicate_client_ids;
      continue;
    }
    const LogRecord& record = client.records[i];
    const std::size_t match = received.find(client.id_of(record));
    if (match == IdIndex::kAbsent) {
      ++joined.client_only;
      continue;
    }
    const LogRecord& arrival = server.records[match];
    joined.rows.push_back(MappingRow{record.time_ms, record.sender_port, arrival.sender_port, arrival.receiver_port});
  }
  joined.server_only = distinct_received - joined.rows.size();
  // Collections are written in send order, so this is usually already
  // sorted: check before paying for a sort. Stable: rows with equal stamps
  // keep the log's order, which is send order.
  const auto by_time = [](const MappingRow& a, const MappingRow& b) { return a.client_time_ms < b.client_time_ms; };
  if (!std::is_sorted(joined.rows.begin(), joined.rows.end(), by_time))
    std::stable_sort(joined.rows.begin(), joined.rows.end(), by_time);
  return joined;
}

}  // namespace natpunch::analyze

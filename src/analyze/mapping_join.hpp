#pragma once
// The thesis's inner join of the phone's and the server's log on the
// message id (Section III-E): the phone knows the local port it sent from,
// the server sees the port the NAT mapped it to.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "analyze/mapping_log.hpp"

namespace natpunch::analyze {

struct MappingRow {
  double client_time_ms = 0;
  std::uint16_t local_port = 0;
  std::uint16_t mapped_port = 0;
  std::uint16_t server_port = 0;
  // Which collection the row comes from when several are analysed
  // together (collection_logs.hpp); 0 for one.
  std::uint32_t run = 0;
};

struct JoinedMappings {
  std::vector<MappingRow> rows;  // ordered by the phone's clock (the server's is not synchronised)
  // A repeated id keeps its first row: a resent packet or a duplicated
  // datagram says nothing new about the allocator.
  std::size_t duplicate_client_ids = 0;
  std::size_t duplicate_server_ids = 0;
  std::size_t client_only = 0;  // sent but never seen by the server (lost, or never sent)
  std::size_t server_only = 0;  // received but not in the phone's log
};

JoinedMappings join_mappings(const ParsedLog& client, const ParsedLog& server);

}  // namespace natpunch::analyze

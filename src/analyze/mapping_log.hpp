#pragma once
// Mapping logs: one side's record of the UUID-tagged packets of a mapping
// collection (thesis Section III-E). Two dialects are read:
//
// - the thesis apps' CSV, comma + space separated, header optional:
//     phone:  Message id, Time, Sender Port, Receiver Port, Success
//     server: Message id, Time, Sender Port, Receiver Port
// - natpunch's own (written by `natpunch measure mappings`), header required:
//     client: uuid,time_ms,local_port,server_port
//     server: uuid,time_ms,observed_port,server_port
//
// Both put the id, a time, the sending port and the receiving port in the
// same order, so one record type serves all four. Real logs carry junk rows
// and binary garbage: a bad row is counted by reason and skipped, never
// fatal; whether what is left is usable is the caller's call.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace natpunch::analyze {

enum class LogSide { Client, Server };

enum class LogDialect { Unknown, Thesis, Natpunch };

// Why a row was skipped. Order is the report order.
enum class MalformedReason : std::size_t {
  NotText,        // control bytes or non-ASCII: binary garbage
  FieldCount,     // neither 4 nor 5 fields (or 5 on the server side)
  BadId,          // empty, too long, or containing spaces
  BadTime,        // neither a number nor [YYYY-MM-DD ]HH:MM:SS[.fff]
  BadPort,        // not an integer in 1..65535
  BadSuccess,     // the phone's Success column is not true/false/1/0
  Count
};
inline constexpr std::size_t kMalformedReasonCount = static_cast<std::size_t>(MalformedReason::Count);

std::string_view to_string(MalformedReason reason);
std::string_view to_string(LogDialect dialect);

struct LogRecord {
  // The message id is kept in ParsedLog::id_text (read it with
  // ParsedLog::id_of): a million 36-character UUIDs as std::strings would
  // be a million allocations.
  std::size_t id_offset = 0;
  std::size_t id_length = 0;
  // Milliseconds on this side's own clock. The two sides' clocks are not
  // synchronised, so times are only compared within one log.
  double time_ms = 0;
  std::uint16_t sender_port = 0;    // client: its local port; server: the observed (mapped) port
  std::uint16_t receiver_port = 0;  // the server port the packet was addressed to / arrived on
  bool success = true;              // thesis phone log only; true elsewhere
};

struct ParsedLog {
  LogDialect dialect = LogDialect::Unknown;
  std::vector<LogRecord> records;
  std::string id_text;  // every record's id, back to back
  std::size_t lines = 0;         // non-blank lines, headers included
  std::size_t header_lines = 0;
  std::array<std::size_t, kMalformedReasonCount> malformed{};

  std::size_t malformed_total() const;
  std::string_view id_of(const LogRecord& record) const {
    return std::string_view(id_text).substr(record.id_offset, record.id_length);
  }
};

// Never throws on content; any byte sequence is accepted.
ParsedLog parse_mapping_log(std::string_view text, LogSide side);

}  // namespace natpunch::analyze

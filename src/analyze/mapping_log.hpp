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
// fatal; whether what is left is usable is the caller's call. What the real
// carrier logs (../shared/data/carrier-logs) hold is read as it is: `S`/`F`
// success flags, lines ending in empty columns (`a,1,2,3,,`), a UTF-8 byte
// order mark before the header, ids that are no message ids (`\status\`).
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
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
  BadId,          // empty, too long, or other than letters, digits and - _ . : { }
  BadTime,        // neither a number nor [YYYY-MM-DD ]HH:MM:SS[.fff]
  BadPort,        // not an integer in 1..65535
  BadSuccess,     // the phone's Success column is not true/false/1/0/S/F
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
  // The side the header names: a Success column or `local_port` is the
  // phone's, four thesis columns or `observed_port` the server's.
  std::optional<LogSide> header_side;
  // Rows with a fifth, Success column (only the phone writes one). Counted
  // whatever side the log was read as: a server log with them is a phone
  // log given in the wrong place.
  std::size_t success_rows = 0;
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

// Never throws on content; any byte sequence is accepted. Read as a server
// log, rows with a Success column are malformed (wrong number of fields).
ParsedLog parse_mapping_log(std::string_view text, LogSide side);
// The same, for a log whose side is not known yet: rows with a Success
// column are records too.
ParsedLog parse_mapping_log(std::string_view text);

// Which side wrote the log, from its content: the header, else rows with a
// Success column in the majority; nullopt when the content cannot tell
// (four columns and no header are the same for both sides).
std::optional<LogSide> apparent_side(const ParsedLog& log);

}  // namespace natpunch::analyze

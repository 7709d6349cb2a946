#include "analyze/mapping_log.hpp"

#include <charconv>
#include <cmath>
#include <numeric>
#include <optional>
#include <span>

namespace natpunch::analyze {

namespace {

// A UUID is 36 characters; leave room for other id schemes, but not for a
// whole garbage line glued into one field.
constexpr std::size_t kMaxIdLength = 128;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool is_text(std::string_view line) {
  for (unsigned char c : line)
    if ((c < 0x20 && c != '\t' && c != '\r') || c >= 0x7f) return false;
  return true;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

template <typename T>
std::optional<T> parse_unsigned(std::string_view s) {
  T value{};
  const auto* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, value);
  if (ec != std::errc{} || ptr != end || s.empty()) return std::nullopt;
  return value;
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  const auto value = parse_unsigned<std::uint32_t>(s);
  if (!value || *value == 0 || *value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(*value);
}

std::optional<double> parse_number(std::string_view s) {
  double value = 0;
  const auto* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, value);
  if (ec != std::errc{} || ptr != end || s.empty() || !std::isfinite(value)) return std::nullopt;
  return value;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil), so a date prefix keeps times ordered across midnight.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// The thesis apps' time column is not specified; accept a plain number
// (taken as milliseconds; only its order matters) or a wall-clock stamp.
std::optional<double> parse_time(std::string_view s) {
  if (auto number = parse_number(s)) return number;
  double day_ms = 0;
  const auto space = s.find_first_of(" T");
  if (space != std::string_view::npos) {
    const auto date = s.substr(0, space);
    s = s.substr(space + 1);
    if (date.size() != 10 || date[4] != '-' || date[7] != '-') return std::nullopt;
    const auto y = parse_unsigned<unsigned>(date.substr(0, 4));
    const auto m = parse_unsigned<unsigned>(date.substr(5, 2));
    const auto d = parse_unsigned<unsigned>(date.substr(8, 2));
    if (!y || !m || !d || *m < 1 || *m > 12 || *d < 1 || *d > 31) return std::nullopt;
    day_ms = static_cast<double>(days_from_civil(*y, *m, *d)) * 86'400'000.0;
  }
  if (s.size() < 8 || s[2] != ':' || s[5] != ':') return std::nullopt;
  const auto h = parse_unsigned<unsigned>(s.substr(0, 2));
  const auto mi = parse_unsigned<unsigned>(s.substr(3, 2));
  const auto sec = parse_number(s.substr(6));
  if (!h || !mi || !sec || *h > 23 || *mi > 59 || *sec < 0 || *sec >= 61 || s[6] == '-' || s[6] == '+')
    return std::nullopt;
  return day_ms + (*h * 3600.0 + *mi * 60.0 + *sec) * 1000.0;
}

// The thesis app writes S and F; other tools true/false or 1/0.
std::optional<bool> parse_success(std::string_view s) {
  if (iequals(s, "true") || s == "1" || iequals(s, "s")) return true;
  if (iequals(s, "false") || s == "0" || iequals(s, "f")) return false;
  return std::nullopt;
}

// UUIDs, counters and other id schemes, but not the other text a server
// logs from its port (`\status\` probes, a word of an error message).
bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  for (char c : id) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && c != '-' && c != '_' && c != '.' && c != ':' && c != '{' && c != '}') return false;
  }
  return true;
}

// Splits on ',' and trims the thesis's ", " separators. Empty fields at
// the end of the line do not count (some real logs end every line in
// ",,"). At most 6 fields are kept, which is enough to tell a wrong count.
std::size_t split(std::string_view line, std::array<std::string_view, 6>& fields) {
  while (!line.empty() && (line.back() == ',' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  std::size_t count = 0;
  while (true) {
    const auto comma = line.find(',');
    if (count == fields.size()) return count + 1;  // too many, whatever the rest is
    fields[count++] = trim(line.substr(0, comma));
    if (comma == std::string_view::npos) return count;
    line.remove_prefix(comma + 1);
  }
}

// A header is recognised by its first column's name, so one with other
// column titles still counts as a header and not as a malformed row.
std::optional<LogDialect> header_dialect(std::string_view first_field) {
  if (iequals(first_field, "message id") || iequals(first_field, "message_id") || iequals(first_field, "id"))
    return LogDialect::Thesis;
  if (iequals(first_field, "uuid")) return LogDialect::Natpunch;
  return std::nullopt;
}

// The side a header names, when it names one.
std::optional<LogSide> header_side(LogDialect dialect, std::span<const std::string_view> fields) {
  if (dialect == LogDialect::Natpunch && fields.size() >= 3) {
    if (iequals(fields[2], "local_port")) return LogSide::Client;
    if (iequals(fields[2], "observed_port")) return LogSide::Server;
    return std::nullopt;
  }
  if (fields.size() == 5) return LogSide::Client;  // the phone's Success column
  if (fields.size() == 4) return LogSide::Server;
  return std::nullopt;
}

constexpr std::string_view kByteOrderMark = "\xef\xbb\xbf";

ParsedLog parse(std::string_view text, std::optional<LogSide> side) {
  ParsedLog log;
  // Rows are ~60 bytes, ids ~36: reserving from the text's size saves the
  // regrowth copies of a million-row log.
  log.records.reserve(text.size() / 64);
  log.id_text.reserve(text.size() / 2);
  // Spreadsheets write a byte order mark before the first line; it is not
  // part of the first field.
  if (text.starts_with(kByteOrderMark)) text.remove_prefix(kByteOrderMark.size());
  const auto bad = [&log](MalformedReason reason) { ++log.malformed[static_cast<std::size_t>(reason)]; };
  std::array<std::string_view, 6> fields;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    const std::string_view line = trim(text.substr(0, newline));
    text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    if (line.empty()) continue;
    ++log.lines;
    if (!is_text(line)) {
      bad(MalformedReason::NotText);
      continue;
    }
    const std::size_t count = split(line, fields);
    if (auto dialect = header_dialect(fields[0])) {
      ++log.header_lines;
      if (log.dialect == LogDialect::Unknown) {
        log.dialect = *dialect;
        log.header_side = header_side(*dialect, std::span(fields).first(std::min(count, fields.size())));
      }
      continue;
    }
    if (count == 5 && parse_success(fields[4])) ++log.success_rows;
    const bool with_success = count == 5 && side != LogSide::Server;
    if (count != 4 && !with_success) {
      bad(MalformedReason::FieldCount);
      continue;
    }
    LogRecord record;
    if (!valid_id(fields[0])) {
      bad(MalformedReason::BadId);
      continue;
    }
    const auto time = parse_time(fields[1]);
    if (!time) {
      bad(MalformedReason::BadTime);
      continue;
    }
    const auto sender = parse_port(fields[2]);
    const auto receiver = parse_port(fields[3]);
    if (!sender || !receiver) {
      bad(MalformedReason::BadPort);
      continue;
    }
    if (with_success) {
      const auto success = parse_success(fields[4]);
      if (!success) {
        bad(MalformedReason::BadSuccess);
        continue;
      }
      record.success = *success;
      log.dialect = LogDialect::Thesis;  // only the thesis phone log has 5 columns
    }
    record.id_offset = log.id_text.size();
    record.id_length = fields[0].size();
    log.id_text.append(fields[0]);
    record.time_ms = *time;
    record.sender_port = *sender;
    record.receiver_port = *receiver;
    log.records.push_back(std::move(record));
  }
  return log;
}

}  // namespace

std::string_view to_string(MalformedReason reason) {
  switch (reason) {
    case MalformedReason::NotText: return "binary garbage";
    case MalformedReason::FieldCount: return "wrong number of fields";
    case MalformedReason::BadId: return "bad message id";
    case MalformedReason::BadTime: return "bad time";
    case MalformedReason::BadPort: return "bad port";
    case MalformedReason::BadSuccess: return "bad success flag";
    case MalformedReason::Count: break;
  }
  return "unknown";
}

std::string_view to_string(LogDialect dialect) {
  switch (dialect) {
    case LogDialect::Thesis: return "thesis";
    case LogDialect::Natpunch: return "natpunch";
    case LogDialect::Unknown: break;
  }
  return "unknown";
}

std::size_t ParsedLog::malformed_total() const { return std::accumulate(malformed.begin(), malformed.end(), std::size_t{0}); }

ParsedLog parse_mapping_log(std::string_view text, LogSide side) { return parse(text, side); }

ParsedLog parse_mapping_log(std::string_view text) { return parse(text, std::nullopt); }

std::optional<LogSide> apparent_side(const ParsedLog& log) {
  if (log.header_side) return log.header_side;
  const std::size_t rows = log.records.size() + log.malformed_total();
  if (log.success_rows > 0 && 2 * log.success_rows > rows) return LogSide::Client;
  return std::nullopt;
}

}  // namespace natpunch::analyze

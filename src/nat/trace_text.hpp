#pragma once
// The trace file a TraceSpec replays: a real carrier's external ports in
// the order it handed them out, one decimal port per line. Lines starting
// with '#' are comments (where the ports came from), blank lines are
// skipped, and anything else is an error naming the line: a replay of a
// half-read trace would be a different carrier.
//
//   # natpunch trace: external ports in allocation order
//   # natpunch analyze vodafone-nl/run1_phone.csv vodafone-nl/run1_server.csv: 39571 joined rows
//   15084
//   15091
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace natpunch::nat {

// Never throws; errors are one line ("line 7: 'x' is not a port (1-65535)").
Result<std::vector<std::uint16_t>, std::string> parse_trace_text(std::string_view text);

// `comment` may span lines; each becomes a '#' line.
std::string trace_text(std::span<const std::uint16_t> ports, std::string_view comment);

}  // namespace natpunch::nat

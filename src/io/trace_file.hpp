#pragma once
// Trace files (nat/trace_text.hpp) from disk, and the allocator option of
// natd and the simulator: nat::parse_allocator_spec's spellings plus
// `trace:FILE`, which reads the file here so the NAT model stays free of
// file I/O.
#include <filesystem>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "nat/allocator_spec.hpp"
#include "nat/profile.hpp"

namespace natpunch::io {

// A valid TraceSpec (at least nat::kMinTracePorts ports) or one line naming
// the file and why ("ports.txt: line 3: 'x' is not a port (1-65535)").
Result<nat::TraceSpec, std::string> load_trace(const std::filesystem::path& file);

// KIND[:PARAMS] as nat::parse_allocator_spec, or trace:FILE. Errors are one
// line; values are validated (nat::validate).
Result<nat::AllocatorSpec, std::string> parse_allocator_option(std::string_view text);

// A profile whose allocator is a trace names its file relative to the
// profile's directory: read it. Other profiles are returned as they are.
Result<nat::Profile, nat::ProfileError> resolve_trace(nat::Profile profile);

}  // namespace natpunch::io

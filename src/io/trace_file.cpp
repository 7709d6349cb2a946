#include "io/trace_file.hpp"

#include <fstream>
#include <memory>
#include <sstream>

#include "nat/allocator_spec_text.hpp"
#include "nat/trace_text.hpp"

namespace natpunch::io {

Result<nat::TraceSpec, std::string> load_trace(const std::filesystem::path& file) {
  const std::string name = file.string();
  std::error_code error;
  if (std::filesystem::is_directory(file, error)) return Unexpected{name + ": is a directory, not a trace file"};
  std::ifstream in(file, std::ios::binary);
  if (!in) return Unexpected{name + ": cannot be read (write one with natpunch analyze PHONE SERVER --trace-out FILE)"};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Unexpected{name + ": cannot be read"};
  auto ports = nat::parse_trace_text(text.str());
  if (!ports) return Unexpected{name + ": " + ports.error()};
  nat::TraceSpec spec{name, std::make_shared<const std::vector<std::uint16_t>>(std::move(*ports))};
  if (auto invalid = nat::validate(spec)) return Unexpected{name + ": " + invalid->message};
  return spec;
}

Result<nat::AllocatorSpec, std::string> parse_allocator_option(std::string_view text) {
  constexpr std::string_view kTrace = "trace:";
  if (text.starts_with(kTrace)) {
    const auto file = text.substr(kTrace.size());
    if (file.empty()) return Unexpected{std::string("trace: needs a FILE (trace:ports.txt)")};
    auto trace = load_trace(std::filesystem::path(file));
    if (!trace) return Unexpected{trace.error()};
    return nat::AllocatorSpec{std::move(*trace)};
  }
  auto spec = nat::parse_allocator_spec(text);
  if (!spec)
    return Unexpected{"'" + std::string(text) +
                      "' is not one of preserving, sequential, random, uniform[:MIN-MAX], block[:SIZE], "
                      "beta[:ALPHA,BETA,LOC,SCALE], trace:FILE"};
  if (auto invalid = nat::validate(*spec))
    return Unexpected{"'" + std::string(text) + "': " + invalid->field + " " + invalid->message};
  return *spec;
}

Result<nat::Profile, nat::ProfileError> resolve_trace(nat::Profile profile) {
  auto* trace = profile.allocator ? std::get_if<nat::TraceSpec>(&*profile.allocator) : nullptr;
  if (!trace || trace->ports) return profile;
  std::filesystem::path file(trace->source);
  if (file.is_relative()) file = std::filesystem::path(profile.file).parent_path() / file;
  auto loaded = load_trace(file);
  if (!loaded) return Unexpected{nat::ProfileError{profile.file, "allocator.file", loaded.error()}};
  *trace = std::move(*loaded);
  return profile;
}

}  // namespace natpunch::io

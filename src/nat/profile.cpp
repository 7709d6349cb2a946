#include "nat/profile.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <utility>

namespace natpunch::nat {
namespace {

using Json = nlohmann::json;

struct Failure {
  std::string field;
  std::string message;
};
// nullopt: fine so far.
using Status = std::optional<Failure>;

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

Status only_keys(const Json& object, const std::string& path, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string list;
    for (auto name : allowed) list += (list.empty() ? "" : ", ") + std::string(name);
    return Failure{join(path, key), "unknown field (expected one of: " + list + ")"};
  }
  return std::nullopt;
}

// The field must be present; JSON null stands for "not measured".
Status require_key(const Json& object, const std::string& path, std::string_view key) {
  if (object.contains(key)) return std::nullopt;
  return Failure{join(path, key), "missing (write null for a value that was not measured)"};
}

Status read_string(const Json& value, const std::string& field, std::string& out) {
  if (!value.is_string() || value.get_ref<const std::string&>().empty())
    return Failure{field, "must be a non-empty string"};
  out = value.get<std::string>();
  return std::nullopt;
}

// A JSON integer in [lo, hi].
Status read_integer(const Json& value, const std::string& field, std::uint64_t lo, std::uint64_t hi,
                    const std::string& range_message, std::uint64_t& out) {
  if (!value.is_number_integer()) return Failure{field, "must be an integer"};
  if (value.is_number_unsigned()) {
    out = value.get<std::uint64_t>();
  } else {
    const auto signed_value = value.get<std::int64_t>();
    if (signed_value < 0) return Failure{field, range_message};
    out = static_cast<std::uint64_t>(signed_value);
  }
  if (out < lo || out > hi) return Failure{field, range_message};
  return std::nullopt;
}

Status read_port(const Json& value, const std::string& field, std::uint16_t& out) {
  std::uint64_t port = 0;
  if (auto failure = read_integer(value, field, 1, 65535, "must be a port between 1 and 65535", port)) return failure;
  out = static_cast<std::uint16_t>(port);
  return std::nullopt;
}

Status read_real(const Json& value, const std::string& field, double& out) {
  if (!value.is_number() || !std::isfinite(value.get<double>())) return Failure{field, "must be a number"};
  out = value.get<double>();
  return std::nullopt;
}

// Null, or a positive number of seconds (fractions allowed).
Status read_seconds(const Json& value, const std::string& field, std::optional<Duration>& out) {
  if (value.is_null()) return std::nullopt;
  constexpr double kLongest = 1e7;  // ~4 months; far beyond any NAT timer, far from overflow
  if (!value.is_number() || !(value.get<double>() > 0) || !(value.get<double>() <= kLongest))
    return Failure{field, "must be a positive number of seconds (at most 10^7), or null"};
  out = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(value.get<double>()));
  return std::nullopt;
}

template <class Enum>
Status read_behaviour(const Json& value, const std::string& field, std::optional<Enum> (*parse)(std::string_view),
                      std::string_view expected, std::optional<Enum>& out) {
  if (value.is_null()) return std::nullopt;
  const Status bad = Failure{field, "must be one of " + std::string(expected) + ", or null when not measured"};
  if (!value.is_string()) return bad;
  const auto& text = value.get_ref<const std::string&>();
  auto parsed = parse(text);
  if (!parsed || text == "unknown") return bad;
  out = parsed;
  return std::nullopt;
}

Status read_range(const Json& object, const std::string& path, bool required, std::uint16_t& min, std::uint16_t& max) {
  for (auto [key, target] : {std::pair{"min", &min}, std::pair{"max", &max}}) {
    if (!object.contains(key)) {
      if (required) return Failure{join(path, key), "missing (this allocator needs its port range)"};
      continue;
    }
    if (auto failure = read_port(object[key], join(path, key), *target)) return failure;
  }
  return std::nullopt;
}

// The "locality" object of a uniform or Beta allocator (WindowSpec).
Status read_locality(const Json& value, const std::string& path, WindowSpec& window) {
  if (!value.is_object()) return Failure{path, "must be an object: window, offset, order and hold_s or mappings"};
  if (auto failure = only_keys(value, path, {"window", "offset", "order", "hold_s", "mappings"})) return failure;
  if (!value.contains("window")) return Failure{join(path, "window"), "missing (ports per window)"};
  std::uint64_t size = 0;
  if (auto failure = read_integer(value["window"], join(path, "window"), 2, 32768, "must be between 2 and 32768 ports",
                                  size))
    return failure;
  window.size = static_cast<std::uint32_t>(size);
  if (value.contains("offset")) {
    std::uint64_t offset = 0;
    if (auto failure = read_integer(value["offset"], join(path, "offset"), 0, size - 1,
                                    "must be a port offset below window (" + std::to_string(size) + ")", offset))
      return failure;
    window.offset = static_cast<std::uint32_t>(offset);
  }
  if (!value.contains("order")) return Failure{join(path, "order"), "missing (\"in_order\" or \"random\")"};
  const Json& order = value["order"];
  if (order == "in_order") window.order = WindowOrder::InOrder;
  else if (order == "random") window.order = WindowOrder::Random;
  else return Failure{join(path, "order"), "must be \"in_order\" or \"random\""};
  if (value.contains("hold_s") == value.contains("mappings"))
    return Failure{path, "needs exactly one of hold_s (seconds a window is held) and mappings (mappings per window)"};
  window.mappings.reset();
  if (value.contains("hold_s")) {
    std::optional<Duration> hold;
    if (value["hold_s"].is_null() || read_seconds(value["hold_s"], join(path, "hold_s"), hold))
      return Failure{join(path, "hold_s"), "must be a positive number of seconds (at most 10^7)"};
    window.hold = hold;
  } else {
    std::uint64_t mappings = 0;
    if (auto failure = read_integer(value["mappings"], join(path, "mappings"), 1, 0x7fffffff,
                                    "must be a number of mappings, at least 1", mappings))
      return failure;
    window.mappings = static_cast<std::uint32_t>(mappings);
  }
  return std::nullopt;
}

Status read_allocator(const Json& value, std::optional<AllocatorSpec>& out) {
  const std::string path = "allocator";
  if (value.is_null()) return std::nullopt;
  if (!value.is_object()) return Failure{path, "must be an object with a \"kind\", or null"};
  if (!value.contains("kind")) return Failure{join(path, "kind"), "missing"};
  const Json& kind = value["kind"];
  const std::string kinds = "block, uniform, beta, sequential, preserving, random, trace";
  if (!kind.is_string()) return Failure{join(path, "kind"), "must be one of " + kinds};
  const auto& name = kind.get_ref<const std::string&>();

  AllocatorSpec spec;
  if (name == "block") {
    if (auto failure = only_keys(value, path, {"kind", "block_size", "min", "max"})) return failure;
    if (!value.contains("block_size")) return Failure{join(path, "block_size"), "missing"};
    std::uint64_t size = 0;
    if (auto failure = read_integer(value["block_size"], join(path, "block_size"), 0, 65536,
                                    "must be a power of two between 2 and 32768", size))
      return failure;
    BlockSpec block;
    block.block_size = static_cast<std::uint32_t>(size);
    if (auto failure = read_range(value, path, false, block.min, block.max)) return failure;
    spec = block;
  } else if (name == "uniform") {
    if (auto failure = only_keys(value, path, {"kind", "min", "max", "locality"})) return failure;
    UniformSpec uniform;
    if (auto failure = read_range(value, path, true, uniform.min, uniform.max)) return failure;
    spec = uniform;
  } else if (name == "sequential" || name == "preserving") {
    if (auto failure = only_keys(value, path, {"kind", "min", "max"})) return failure;
    std::uint16_t min = kFirstUsablePort;
    std::uint16_t max = kLastPort;
    if (auto failure = read_range(value, path, false, min, max)) return failure;
    if (name == "sequential") spec = SequentialSpec{min, max};
    else spec = PreservingSpec{min, max};
  } else if (name == "random") {
    if (auto failure = only_keys(value, path, {"kind"})) return failure;
    spec = RandomFullySpec{};
  } else if (name == "trace") {
    if (auto failure = only_keys(value, path, {"kind", "file"})) return failure;
    if (!value.contains("file")) return Failure{join(path, "file"), "missing (the trace file, as analyze --trace-out writes)"};
    TraceSpec trace;
    if (auto failure = read_string(value["file"], join(path, "file"), trace.source)) return failure;
    // The ports are read by io::load_profile, relative to the profile's directory.
    out = trace;
    return std::nullopt;
  } else if (name == "beta") {
    if (auto failure = only_keys(value, path, {"kind", "alpha", "beta", "loc", "scale", "locality"})) return failure;
    BetaSpec beta;
    for (auto [key, target] : {std::pair{"alpha", &beta.alpha}, std::pair{"beta", &beta.beta},
                               std::pair{"loc", &beta.loc}, std::pair{"scale", &beta.scale}}) {
      if (!value.contains(key)) return Failure{join(path, key), "missing"};
      if (auto failure = read_real(value[key], join(path, key), *target)) return failure;
    }
    spec = beta;
  } else {
    return Failure{join(path, "kind"), "must be one of " + kinds};
  }
  if (value.contains("locality")) {
    WindowSpec window;
    if (const auto* uniform = std::get_if<UniformSpec>(&spec)) window.placement = *uniform;
    else window.placement = std::get<BetaSpec>(spec);
    if (auto failure = read_locality(value["locality"], join(path, "locality"), window)) return failure;
    spec = window;
  }
  if (auto error = validate(spec)) return Failure{join(path, error->field), error->message};
  out = spec;
  return std::nullopt;
}

// provenance.allocator: where a derived allocator comes from, in numbers.
Status read_provenance(const Json& value, Profile& p) {
  if (!value.is_object()) return Failure{"provenance", "must be an object (e.g. {\"allocator\": {...}})"};
  if (auto failure = only_keys(value, "provenance", {"allocator"})) return failure;
  if (!value.contains("allocator")) return std::nullopt;
  const std::string path = "provenance.allocator";
  const Json& a = value["allocator"];
  if (!p.allocator) return Failure{path, "describes an allocator that is null"};
  if (!a.is_object()) return Failure{path, "must be an object: runs, rows, fit, and optionally command, table_ii"};
  if (auto failure = only_keys(a, path, {"runs", "rows", "fit", "command", "table_ii"})) return failure;
  for (auto key : {"runs", "rows", "fit"})
    if (auto failure = require_key(a, path, key)) return failure;
  AllocatorProvenance provenance;
  if (!a["runs"].is_array() || a["runs"].empty()) return Failure{join(path, "runs"), "must be a non-empty array of run names"};
  for (const auto& run : a["runs"]) {
    std::string name;
    if (read_string(run, join(path, "runs"), name)) return Failure{join(path, "runs"), "must hold non-empty strings"};
    provenance.runs.push_back(std::move(name));
  }
  std::uint64_t rows = 0;
  if (auto failure = read_integer(a["rows"], join(path, "rows"), 1, 1'000'000'000'000ULL,
                                  "must be the number of joined rows (at least 1)", rows))
    return failure;
  provenance.rows = rows;
  if (!a["fit"].is_object()) return Failure{join(path, "fit"), "must be an object of named numbers"};
  for (const auto& [key, number] : a["fit"].items()) {
    double v = 0;
    if (read_real(number, join(join(path, "fit"), key), v)) return Failure{join(join(path, "fit"), key), "must be a number"};
    provenance.fit[key] = v;
  }
  for (auto [key, target] : {std::pair{"command", &provenance.command}, std::pair{"table_ii", &provenance.table_ii}})
    if (a.contains(key))
      if (auto failure = read_string(a[key], join(path, key), *target)) return failure;
  p.allocator_provenance = std::move(provenance);
  return std::nullopt;
}

Status read_timeouts(const Json& value, Profile& p) {
  const std::string path = "timeouts";
  if (value.is_null()) return std::nullopt;
  if (!value.is_object()) return Failure{path, "must be an object, or null"};
  if (auto failure = only_keys(value, path, {"pending_s", "pending_upper_s", "established_s", "established_upper_s"}))
    return failure;
  for (auto key : {"pending_s", "established_s"})
    if (auto failure = require_key(value, path, key)) return failure;
  struct Bound {
    const char* lower_key;
    const char* upper_key;
    std::optional<Duration>* lower;
    std::optional<Duration>* upper;
  };
  for (const Bound& b : {Bound{"pending_s", "pending_upper_s", &p.pending_timeout, &p.pending_timeout_upper},
                         Bound{"established_s", "established_upper_s", &p.established_timeout,
                               &p.established_timeout_upper}}) {
    if (auto failure = read_seconds(value[b.lower_key], join(path, b.lower_key), *b.lower)) return failure;
    if (!value.contains(b.upper_key)) continue;
    if (auto failure = read_seconds(value[b.upper_key], join(path, b.upper_key), *b.upper)) return failure;
    if (*b.upper && !*b.lower)
      return Failure{join(path, b.upper_key), "an upper bound needs its lower bound " + std::string(b.lower_key)};
    if (*b.upper && **b.upper < **b.lower)
      return Failure{join(path, b.upper_key), "must not be below " + std::string(b.lower_key)};
  }
  return std::nullopt;
}

// Table III's type and the behaviours derived from it must agree.
Status check_type_consistency(const Profile& p) {
  if (!p.type || !p.mapping) return std::nullopt;
  using C = ClassicType;
  using M = MappingBehavior;
  const bool cone = *p.type == C::FullCone || *p.type == C::RestrictedCone || *p.type == C::PortRestrictedCone;
  const bool endpoint_dependent = *p.mapping == M::AddressDependent || *p.mapping == M::AddressAndPortDependent;
  if (cone && *p.mapping != M::EndpointIndependent)
    return Failure{"mapping", "a " + std::string(to_string(*p.type)) + " NAT has endpoint-independent mapping"};
  if (*p.type == C::Symmetric && !endpoint_dependent)
    return Failure{"mapping", "a symmetric NAT has address-dependent or address-and-port-dependent mapping"};
  if (p.filtering && classic_type(*p.mapping, *p.filtering) != *p.type)
    return Failure{"filtering", std::string(to_string(*p.mapping)) + " mapping with " +
                                    std::string(to_string(*p.filtering)) + " filtering is a " +
                                    std::string(to_string(classic_type(*p.mapping, *p.filtering))) +
                                    " NAT, but type says " + std::string(to_string(*p.type))};
  return std::nullopt;
}

// Every measured value names where it comes from; nothing else is named.
Status read_source(const Json& value, Profile& p) {
  if (!value.is_object()) return Failure{"source", "must be an object mapping each measured field to its table"};
  const std::vector<std::pair<std::string, bool>> fields = {
      {"type", p.type.has_value()},
      {"mapping", p.mapping.has_value()},
      {"filtering", p.filtering.has_value()},
      {"allocator", p.allocator.has_value()},
      {"timeouts.pending_s", p.pending_timeout.has_value()},
      {"timeouts.pending_upper_s", p.pending_timeout_upper.has_value()},
      {"timeouts.established_s", p.established_timeout.has_value()},
      {"timeouts.established_upper_s", p.established_timeout_upper.has_value()},
      {"mtu", p.mtu.has_value()},
      {"jumbo", p.jumbo.has_value()},
  };
  for (const auto& item : value.items()) {
    const std::string& key = item.key();
    const Json& text = item.value();
    const std::string field = "source." + key;
    auto known = std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == key; });
    if (known == fields.end()) return Failure{field, "names no profile field"};
    if (!known->second) return Failure{field, "describes a value that is null"};
    std::string description;
    if (auto failure = read_string(text, field, description)) return failure;
    p.source[key] = description;
  }
  for (const auto& [key, present] : fields)
    if (present && !p.source.count(key))
      return Failure{"source." + key, "missing: every measured value says which table it comes from"};
  return std::nullopt;
}

Status read_profile(const Json& doc, Profile& p) {
  if (!doc.is_object()) return Failure{"", "must be a JSON object"};
  if (auto failure = only_keys(doc, "",
                               {"name", "country", "roaming", "type", "mapping", "filtering", "allocator", "timeouts",
                                "mtu", "jumbo", "source", "provenance", "notes"}))
    return failure;
  for (auto key : {"name", "country", "roaming", "type", "mapping", "filtering", "allocator", "timeouts", "mtu",
                   "jumbo", "source"})
    if (auto failure = require_key(doc, "", key)) return failure;

  if (auto failure = read_string(doc["name"], "name", p.name)) return failure;
  const Json& country = doc["country"];
  if (!country.is_string() || country.get_ref<const std::string&>().size() != 2 ||
      !std::all_of(country.get_ref<const std::string&>().begin(), country.get_ref<const std::string&>().end(),
                   [](char c) { return c >= 'A' && c <= 'Z'; }))
    return Failure{"country", "must be an ISO 3166-1 alpha-2 code such as \"NL\""};
  p.country = country.get<std::string>();
  if (!doc["roaming"].is_boolean()) return Failure{"roaming", "must be true or false"};
  p.roaming = doc["roaming"].get<bool>();

  if (auto failure = read_behaviour<ClassicType>(
          doc["type"], "type", parse_classic_type,
          "\"full cone\", \"restricted cone\", \"port-restricted cone\", \"symmetric\", \"open internet\", "
          "\"symmetric udp firewall\", \"udp blocked\"",
          p.type))
    return failure;
  const char* behaviours = "\"endpoint-independent\", \"address-dependent\", \"address-and-port-dependent\", \"none\"";
  if (auto failure = read_behaviour<MappingBehavior>(doc["mapping"], "mapping", parse_mapping_behavior, behaviours,
                                                     p.mapping))
    return failure;
  if (auto failure = read_behaviour<FilteringBehavior>(doc["filtering"], "filtering", parse_filtering_behavior,
                                                       behaviours, p.filtering))
    return failure;
  if (auto failure = check_type_consistency(p)) return failure;
  if (auto failure = read_allocator(doc["allocator"], p.allocator)) return failure;
  if (auto failure = read_timeouts(doc["timeouts"], p)) return failure;

  if (!doc["mtu"].is_null()) {
    std::uint64_t mtu = 0;
    if (auto failure =
            read_integer(doc["mtu"], "mtu", 1, 65535, "must be a payload size between 1 and 65535 bytes, or null", mtu))
      return failure;
    p.mtu = static_cast<std::size_t>(mtu);
  }
  if (!doc["jumbo"].is_null()) {
    if (!doc["jumbo"].is_boolean()) return Failure{"jumbo", "must be true, false or null"};
    p.jumbo = doc["jumbo"].get<bool>();
  }
  if (doc.contains("notes") && !doc["notes"].is_string()) return Failure{"notes", "must be a string"};
  if (doc.contains("notes")) p.notes = doc["notes"].get<std::string>();
  if (doc.contains("provenance"))
    if (auto failure = read_provenance(doc["provenance"], p)) return failure;
  return read_source(doc["source"], p);
}

// nlohmann's messages start with "[json.exception.parse_error.101] ".
std::string without_exception_tag(std::string message) {
  if (!message.empty() && message.front() == '[') {
    const auto end = message.find("] ");
    if (end != std::string::npos) message.erase(0, end + 2);
  }
  return message;
}

}  // namespace

std::string ProfileError::to_string() const {
  std::string text = file;
  if (!field.empty()) text += (text.empty() ? "" : ": ") + field;
  return text + (text.empty() ? "" : ": ") + message;
}

Result<Profile, ProfileError> parse_profile(std::string_view json_text, std::string_view file) {
  auto error = [&](Failure f) {
    return Unexpected{ProfileError{std::string(file), std::move(f.field), std::move(f.message)}};
  };
  // nlohmann reports through exceptions; none may reach the caller.
  try {
    const Json doc = Json::parse(json_text.begin(), json_text.end());
    Profile profile;
    profile.file = std::string(file);
    profile.id = std::filesystem::path(file).stem().string();
    if (auto failure = read_profile(doc, profile)) return error(std::move(*failure));
    return profile;
  } catch (const Json::parse_error& e) {
    return error(Failure{"", "not valid JSON: " + without_exception_tag(e.what())});
  } catch (const Json::exception& e) {
    return error(Failure{"", without_exception_tag(e.what())});
  }
}

Result<NatConfig, ProfileError> make_nat_config(const Profile& profile, const NatConfigOptions& options) {
  auto error = [&](std::string field, std::string message) {
    return Unexpected{ProfileError{profile.file, std::move(field), std::move(message)}};
  };
  auto unmeasured = [&](const char* field) { return error(field, "not measured (null) and no fallback given"); };
  const ProfileFallbacks& fallback = options.fallbacks;

  NatConfig config;
  if (auto mapping = profile.mapping ? profile.mapping : fallback.mapping) config.mapping = *mapping;
  else return unmeasured("mapping");
  if (auto filtering = profile.filtering ? profile.filtering : fallback.filtering) config.filtering = *filtering;
  else return unmeasured("filtering");
  if (auto allocator = profile.allocator ? profile.allocator : fallback.allocator) config.allocator = *allocator;
  else return unmeasured("allocator");
  if (auto pending = profile.pending_timeout ? profile.pending_timeout : fallback.pending_timeout)
    config.pending_timeout = *pending;
  else return unmeasured("timeouts.pending_s");
  if (auto established = profile.established_timeout ? profile.established_timeout : fallback.established_timeout)
    config.established_timeout = *established;
  else return unmeasured("timeouts.established_s");
  config.max_payload = profile.mtu ? profile.mtu : fallback.max_payload;

  if (auto* block = std::get_if<BlockSpec>(&config.allocator)) {
    block->background_subscribers = options.block_background_subscribers;
    block->background_hold = options.block_background_hold;
  }
  config.max_mappings_per_subscriber = options.max_mappings_per_subscriber;
  config.hairpinning = options.hairpinning;
  config.public_addresses = options.public_addresses;

  if (auto invalid = validate(config)) {
    // Name the profile field behind the config field where there is one.
    std::string field = invalid->field;
    if (field == "pending_timeout") field = "timeouts.pending_s";
    else if (field == "established_timeout") field = "timeouts.established_s";
    else if (field == "max_payload") field = "mtu";
    return error(field, invalid->message);
  }
  return config;
}

}  // namespace natpunch::nat

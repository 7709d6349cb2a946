#include "nat/nat_knowledge_json.hpp"

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "nat/allocator_spec_text.hpp"

namespace natpunch::nat {

namespace {

using Json = nlohmann::json;

Json endpoint_json(const std::optional<Endpoint>& e) { return e ? Json(e->to_string()) : Json(nullptr); }

// A string field, or nullopt when missing / not a string.
std::optional<std::string> text_field(const Json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// An endpoint field that may be null; false when it is neither.
bool endpoint_field(const Json& j, const char* key, std::optional<Endpoint>& out) {
  const auto it = j.find(key);
  if (it == j.end()) return false;
  if (it->is_null()) {
    out.reset();
    return true;
  }
  if (!it->is_string()) return false;
  auto parsed = Endpoint::parse(it->get<std::string>());
  if (!parsed) return false;
  out = *parsed;
  return true;
}

std::optional<std::uint16_t> port_field(const Json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned()) return std::nullopt;
  const auto value = it->get<std::uint64_t>();
  if (value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

std::optional<NatKnowledge> parse(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  NatKnowledge k;
  const auto no_answer = j.find("no_answer");
  if (no_answer == j.end() || !no_answer->is_boolean()) return std::nullopt;
  k.no_answer = no_answer->get<bool>();

  const auto mapping = text_field(j, "mapping");
  const auto filtering = text_field(j, "filtering");
  const auto hairpinning = text_field(j, "hairpinning");
  if (!mapping || !filtering || !hairpinning) return std::nullopt;
  const auto m = parse_mapping_behavior(*mapping);
  const auto f = parse_filtering_behavior(*filtering);
  if (!m || !f) return std::nullopt;
  k.mapping = *m;
  k.filtering = *f;
  if (*hairpinning == "yes") k.hairpinning = Hairpinning::Yes;
  else if (*hairpinning == "no") k.hairpinning = Hairpinning::No;
  else if (*hairpinning == "unknown") k.hairpinning = Hairpinning::Unknown;
  else return std::nullopt;

  const auto a = j.find("allocator");
  if (a == j.end() || !a->is_object()) return std::nullopt;
  const auto kind_text = text_field(*a, "class");
  const auto why = text_field(*a, "why");
  const auto lowest = port_field(*a, "lowest");
  const auto highest = port_field(*a, "highest");
  const auto mappings = a->find("mappings");
  const auto told = a->find("told");
  if (!kind_text || !why || !lowest || !highest || mappings == a->end() || !mappings->is_number_unsigned() ||
      told == a->end())
    return std::nullopt;
  const auto kind = parse_allocator_class(*kind_text);
  if (!kind || mappings->get<std::uint64_t>() > 1'000'000) return std::nullopt;
  k.allocator.kind = *kind;
  k.allocator.why = *why;
  k.allocator.lowest = *lowest;
  k.allocator.highest = *highest;
  k.allocator.mappings = static_cast<std::size_t>(mappings->get<std::uint64_t>());
  if (!told->is_null()) {
    if (!told->is_string()) return std::nullopt;
    auto spec = parse_allocator_spec(told->get<std::string>());
    if (!spec || validate(*spec)) return std::nullopt;
    k.allocator.spec = *spec;
  }

  if (!endpoint_field(j, "mapped", k.mapped) || !endpoint_field(j, "server", k.server)) return std::nullopt;
  const auto took = j.find("took_ms");
  if (took == j.end() || !took->is_number()) return std::nullopt;
  const double ms = took->get<double>();
  if (!std::isfinite(ms) || ms < 0 || ms > 86'400'000.0) return std::nullopt;
  k.took = std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(ms));
  const auto note = text_field(j, "note");
  if (!note) return std::nullopt;
  k.note = *note;
  return k;
}

}  // namespace

std::string to_json(const NatKnowledge& k) {
  const Json allocator{
      {"class", std::string(to_string(k.allocator.kind))},
      {"told", k.allocator.spec ? Json(format_allocator_spec(*k.allocator.spec)) : Json(nullptr)},
      {"mappings", k.allocator.mappings},
      {"lowest", k.allocator.lowest},
      {"highest", k.allocator.highest},
      {"why", k.allocator.why},
  };
  const Json j{
      {"no_answer", k.no_answer},
      {"mapping", std::string(to_string(k.mapping))},
      {"filtering", std::string(to_string(k.filtering))},
      {"classic_type", std::string(to_string(classic_type(k.mapping, k.filtering)))},
      {"hairpinning", std::string(to_string(k.hairpinning))},
      {"allocator", allocator},
      {"mapped", endpoint_json(k.mapped)},
      {"server", endpoint_json(k.server)},
      {"took_ms", std::chrono::duration<double, std::milli>(k.took).count()},
      {"note", k.note},
  };
  // Notes and reasons are ours, but replace rather than throw on bad UTF-8.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::optional<NatKnowledge> nat_knowledge_from_json(std::string_view text) {
  try {
    const Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    return parse(j);
  } catch (const std::exception&) {
    return std::nullopt;  // nlohmann reports through exceptions; none may reach the caller
  }
}

}  // namespace natpunch::nat

#include "measure/measured_profile.hpp"

#include <nlohmann/json.hpp>

#include "nat/nat_behavior.hpp"

namespace natpunch::measure {

namespace {
using Json = nlohmann::ordered_json;

// A timeout the search pinned down. One that outlived the searched range
// stays null (the notes say so): the model would take a lower bound for
// the timeout itself.
bool usable(const std::optional<TimeoutSearchResult>& r) {
  return r && r->lower_s && *r->lower_s > 0 && !r->above_max && r->upper_s;
}
}  // namespace

std::string measured_profile_json(const MeasuredProfileInput& in) {
  Json doc;
  Json source = Json::object();
  doc["name"] = in.name;
  doc["country"] = in.country;
  doc["roaming"] = in.roaming;

  // Only consistent, profile-expressible behaviour: a cone or symmetric
  // type, with the mapping/filtering the classifier reported.
  // Plain values plus flags (GCC 12 misreads optionals of enums here).
  nat::ClassicType type{};
  nat::MappingBehavior mapping{};
  nat::FilteringBehavior filtering{};
  bool have_type = false, have_mapping = false, have_filtering = false;
  if (in.classic_type)
    if (auto t = nat::parse_classic_type(*in.classic_type)) type = *t, have_type = true;
  if (in.mapping)
    if (auto m = nat::parse_mapping_behavior(*in.mapping)) mapping = *m, have_mapping = true;
  if (in.filtering)
    if (auto f = nat::parse_filtering_behavior(*in.filtering)) filtering = *f, have_filtering = true;
  using C = nat::ClassicType;
  const bool nat_type = have_type && (type == C::FullCone || type == C::RestrictedCone ||
                                      type == C::PortRestrictedCone || type == C::Symmetric);
  const bool behaviours = nat_type && have_mapping && have_filtering && mapping != nat::MappingBehavior::None &&
                          filtering != nat::FilteringBehavior::None && nat::classic_type(mapping, filtering) == type;
  doc["type"] = nat_type ? Json(std::string(nat::to_string(type))) : Json(nullptr);
  doc["mapping"] = behaviours ? Json(std::string(nat::to_string(mapping))) : Json(nullptr);
  doc["filtering"] = behaviours ? Json(std::string(nat::to_string(filtering))) : Json(nullptr);
  if (nat_type) source["type"] = in.source + ": RFC 5780 / RFC 3489 classification (natpunch nat-type)";
  if (behaviours) {
    source["mapping"] = in.source + ": RFC 5780 mapping behaviour test";
    source["filtering"] = in.source + ": RFC 5780 filtering behaviour test";
  }

  if (!in.allocator_json.empty()) {
    doc["allocator"] = Json::parse(in.allocator_json, nullptr, false);
    if (doc["allocator"].is_discarded()) doc["allocator"] = nullptr;
    if (!doc["allocator"].is_null()) source["allocator"] = in.source + ": mapping sample";
  } else {
    doc["allocator"] = nullptr;
  }

  if (usable(in.pending) || usable(in.idle)) {
    Json t;
    const auto put = [&](const char* lower_key, const char* upper_key, const std::optional<TimeoutSearchResult>& r,
                         const char* what) {
      t[lower_key] = usable(r) ? Json(*r->lower_s) : Json(nullptr);
      if (usable(r)) source[std::string("timeouts.") + lower_key] = in.source + ": " + what + ", largest delay that passed";
      if (usable(r) && r->upper_s) {
        t[upper_key] = *r->upper_s;
        source[std::string("timeouts.") + upper_key] = in.source + ": " + what + ", smallest delay that failed";
      }
    };
    put("pending_s", "pending_upper_s", in.pending, "pending (wait-for-response) timeout search");
    put("established_s", "established_upper_s", in.idle, "idle (between-sends) timeout search");
    doc["timeouts"] = t;
  } else {
    doc["timeouts"] = nullptr;
  }

  if (in.fragmented && in.fragmented->largest_ok) {
    doc["mtu"] = *in.fragmented->largest_ok;
    // Table V's "Allows Jumbo Frames?": more than a 1500-byte IPv4 MTU's payload arrives.
    doc["jumbo"] = *in.fragmented->largest_ok > 1472;
    source["mtu"] = in.source + ": largest UDP payload that arrived (fragmentation allowed; Algorithm 7)";
    source["jumbo"] = in.source + ": whether a payload above 1472 bytes arrived";
  } else {
    doc["mtu"] = nullptr;
    doc["jumbo"] = nullptr;
  }
  doc["source"] = source;
  std::string notes = "Measured by natpunch measure all.";
  if (in.path_mtu && in.path_mtu->largest_ok)
    notes += " Path MTU with DF set: largest payload " + std::to_string(*in.path_mtu->largest_ok) + " bytes (IP MTU " +
             std::to_string(*in.path_mtu->largest_ok + 28) + ").";
  if (in.pending && in.pending->above_max) notes += " The pending timeout exceeds the searched range.";
  if (in.idle && in.idle->above_max) notes += " The idle timeout exceeds the searched range.";
  doc["notes"] = notes;
  return doc.dump(2) + "\n";
}

}  // namespace natpunch::measure

#pragma once
// What `natpunch measure all` found, as a carrier profile (profiles/README.md)
// that nat::parse_profile loads: measured values with a `source` naming the
// run, everything else null ("not measured").
#include <optional>
#include <string>

#include "measure/mtu_search.hpp"
#include "measure/timeout_search.hpp"

namespace natpunch::measure {

struct MeasuredProfileInput {
  std::string name = "measured";
  std::string country = "ZZ";  // ISO 3166-1 user-assigned: "unknown"
  bool roaming = false;
  std::string source;          // e.g. "natpunch measure all against 203.0.113.10:3479, 2026-11-25"
  // RFC 3489 / RFC 5780 spellings as nat-type prints them; values a profile
  // cannot hold ("open internet", "unknown", ...) become null.
  std::optional<std::string> classic_type;
  std::optional<std::string> mapping;
  std::optional<std::string> filtering;
  std::optional<TimeoutSearchResult> pending;
  std::optional<TimeoutSearchResult> idle;
  std::optional<MtuSearchResult> fragmented;  // largest payload that arrives at all
  std::optional<MtuSearchResult> path_mtu;    // with DF (goes to notes: profiles have no field for it)
  std::string allocator_json;                 // analyze::allocator_object_json, or empty for null
};

std::string measured_profile_json(const MeasuredProfileInput& input);

}  // namespace natpunch::measure

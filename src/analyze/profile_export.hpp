#pragma once
// A detected allocator as the carrier profile's `allocator` object, and as
// a whole carrier profile (profiles/README.md) that nat::parse_profile
// loads: everything the mapping logs cannot tell (type, timeouts, MTU) is
// null, which the profile format reads as "not measured".
#include <string>
#include <string_view>
#include <vector>

#include "analyze/allocator_detect.hpp"

namespace natpunch::analyze {

// The profile's allocator object, as nat::parse_profile reads it:
// `{"kind": "block", "block_size": 256, "min": ..., "max": ...}` for a
// plain block (in order from offset 0 until used up, placed uniformly),
// `{"kind": "uniform" | "beta", <placement>, "locality": {"window": W,
// "offset": K, "order": "in_order" | "random", "hold_s": S | "mappings":
// M}}` for any other block (window), `{"kind": "uniform", "min", "max"}`,
// `{"kind": "beta", ...}`, `{"kind": "sequential"}`, `{"kind":
// "preserving"}`; `{"kind": "unknown"}` when nothing fitted. Sequential and
// preserving leave out the observed range: it is only a lower bound on the
// NAT's real one.
std::string allocator_object_json(const DetectedAllocator& detected);

struct ProfileIdentity {
  std::string name;     // e.g. "KPN"
  std::string country;  // ISO 3166-1 alpha-2
  bool roaming = false;
  std::string source;   // where the allocator comes from, e.g. the log file names
  // provenance.allocator: the runs (collections) and the command; the rows
  // and fitted numbers come from the detection.
  std::vector<std::string> runs;
  std::string command;
};

// provenance.allocator's "fit": the numbers behind the allocator.
std::string provenance_fit_json(const DetectedAllocator& detected);

// Pretty-printed profile JSON. An unknown allocator is written as null.
std::string profile_json(const DetectedAllocator& detected, const ProfileIdentity& identity);

}  // namespace natpunch::analyze

#pragma once
// A detected allocator as the carrier profile's `allocator` object, and as
// a whole carrier profile (profiles/README.md) that nat::parse_profile
// loads: everything the mapping logs cannot tell (type, timeouts, MTU) is
// null, which the profile format reads as "not measured".
#include <string>
#include <string_view>

#include "analyze/allocator_detect.hpp"

namespace natpunch::analyze {

// Whether nat::parse_profile accepts "order" in a block allocator object.
// It does not yet (src/nat's BlockSpec has no random order), so profiles
// say it in "notes" only and stay loadable; the analyzer's own JSON and
// report always carry it.
inline constexpr bool kProfileLoaderKnowsBlockOrder = false;

// `{"kind": "block", "block_size": 256}` (plus `"order": "random"` for a
// random-order block) and so on; `{"kind": "unknown"}`
// when nothing fitted. Only the fields the profile loader knows, so
// sequential and preserving leave out the observed range: it is only a
// lower bound on the NAT's real one.
std::string allocator_object_json(const DetectedAllocator& detected);

struct ProfileIdentity {
  std::string name;     // e.g. "KPN"
  std::string country;  // ISO 3166-1 alpha-2
  bool roaming = false;
  std::string source;   // where the allocator comes from, e.g. the log file names
};

// Pretty-printed profile JSON. An unknown allocator is written as null.
std::string profile_json(const DetectedAllocator& detected, const ProfileIdentity& identity);

}  // namespace natpunch::analyze

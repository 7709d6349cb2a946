#pragma once
// Carrier profiles: what the thesis measured about one carrier's NAT
// (Tables II-V), as shipped in profiles/*.json, and how to build a NAT
// config from one. Unknown values stay unknown (nullopt): nothing here
// invents a number; the caller decides what stands in for a missing value.
//
// JSON format (see profiles/README.md for every field and rule):
//   { "name": "KPN", "country": "NL", "roaming": false,
//     "type": "symmetric", "mapping": "...", "filtering": "...",
//     "allocator": {"kind": "block", "block_size": 256},
//     "timeouts": {"pending_s": 120, "pending_upper_s": 121,
//                  "established_s": 239, "established_upper_s": 240},
//     "mtu": 1445, "jumbo": false,
//     "source": {"type": "Table III ...", "timeouts.pending_s": "Table IV ...", ...},
//     "provenance": {"allocator": {"runs": [...], "rows": N, "fit": {...}}},
//     "notes": "..." }
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/endpoint.hpp"
#include "core/result.hpp"
#include "core/time.hpp"
#include "nat/allocator_spec.hpp"
#include "nat/nat_behavior.hpp"
#include "nat/nat_config.hpp"

namespace natpunch::nat {

// How a derived allocator was derived (profiles/README.md, "provenance"):
// the runs, the joined rows and the fitted numbers behind it.
struct AllocatorProvenance {
  std::vector<std::string> runs;
  std::uint64_t rows = 0;
  std::map<std::string, double> fit;
  std::string command;   // how to derive it again
  std::string table_ii;  // the thesis's value, for comparison
};

struct Profile {
  std::string file;     // as given to parse_profile, for messages
  std::string id;       // the file's stem, e.g. "kpn-nl"
  std::string name;     // e.g. "KPN"
  std::string country;  // ISO 3166-1 alpha-2 of the carrier, e.g. "NL"
  bool roaming = false;  // measured while roaming on another country's network
  std::optional<ClassicType> type;  // RFC 3489 name (Table III)
  std::optional<MappingBehavior> mapping;
  std::optional<FilteringBehavior> filtering;
  std::optional<AllocatorSpec> allocator;  // Table II
  // Table IV: lower bound LB (what the model uses) and upper bound UB.
  std::optional<Duration> pending_timeout;
  std::optional<Duration> pending_timeout_upper;
  std::optional<Duration> established_timeout;
  std::optional<Duration> established_timeout_upper;
  std::optional<std::size_t> mtu;  // Table V: largest payload that passed (bytes)
  std::optional<bool> jumbo;       // Table V: "Allows Jumbo Frames?"
  // Where each value comes from, by field path ("type", "timeouts.pending_s").
  std::map<std::string, std::string> source;
  std::optional<AllocatorProvenance> allocator_provenance;
  std::string notes;
};

struct ProfileError {
  std::string file;   // as the caller named it, e.g. "profiles/kpn-nl.json"
  std::string field;  // dotted path, e.g. "allocator.block_size"; empty: the document
  std::string message;

  // "profiles/kpn-nl.json: allocator.block_size: must be a power of two between 2 and 32768"
  std::string to_string() const;
};

// Parses and validates one profile. `file` labels errors and gives the id
// (its stem). Never throws.
Result<Profile, ProfileError> parse_profile(std::string_view json_text, std::string_view file);

// What the caller wants in place of each value a profile leaves null. A
// null value with no fallback is an error naming the field: which default
// is right depends on the question being asked (a pessimistic 5 s pending
// timeout and an RFC 4787 120 s one give very different punch odds), so
// this library does not pick one.
struct ProfileFallbacks {
  std::optional<MappingBehavior> mapping;
  std::optional<FilteringBehavior> filtering;
  std::optional<AllocatorSpec> allocator;
  std::optional<Duration> pending_timeout;
  std::optional<Duration> established_timeout;
  // Unlike the others, a missing MTU needs no fallback: with neither, the
  // NAT carries payloads of any size (no limit is known).
  std::optional<std::size_t> max_payload;
};

// The rest of a NAT that profiles do not describe.
struct NatConfigOptions {
  std::vector<IpAddress> public_addresses;
  ProfileFallbacks fallbacks;
  std::optional<std::size_t> max_mappings_per_subscriber;
  bool hairpinning = false;
  // Other subscribers of a block allocator (see BlockSpec); ignored by the
  // other allocators.
  std::uint32_t block_background_subscribers = 0;
  Duration block_background_hold = seconds(120);
};

// Mapping, filtering, allocator and timeouts from the profile (timeouts at
// Table IV's lower bound), max_payload from its MTU; the rest from
// `options`. Errors name the profile field that is missing or unusable.
Result<NatConfig, ProfileError> make_nat_config(const Profile& profile, const NatConfigOptions& options);

}  // namespace natpunch::nat

#pragma once
// NatKnowledge as one JSON object -- `natpunch probe --json` prints it, the
// on-disk NAT cache (io/nat_knowledge_cache.*) stores it -- and back:
//
//   {"no_answer": false, "mapping": "endpoint-independent",
//    "filtering": "address-dependent", "classic_type": "restricted cone",
//    "hairpinning": "no",
//    "allocator": {"class": "in-order", "told": "sequential", "mappings": 9,
//                  "lowest": 20480, "highest": 20488, "why": "..."},
//    "mapped": "203.0.113.101:20480", "server": "203.0.113.10:7000",
//    "took_ms": 212.4, "note": "..."}
//
// "told" is the allocator the peer is told (nat/allocator_spec_text.hpp's
// spelling) or null; "classic_type" is derived, for people, and ignored
// when read. Reading never throws and checks every field: a file is input.
#include <optional>
#include <string>
#include <string_view>

#include "nat/nat_knowledge.hpp"

namespace natpunch::nat {

std::string to_json(const NatKnowledge& knowledge);

// nullopt when `text` is not such an object (a field missing, of the wrong
// type or out of range, an allocator that fails validate()).
std::optional<NatKnowledge> nat_knowledge_from_json(std::string_view text);

}  // namespace natpunch::nat

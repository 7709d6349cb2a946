#pragma once
// The thesis's Dutch carriers (Table I's five) as NAT configs, written in
// code until the carrier profiles in profiles/ and their loader
// (src/nat/profile.*) take over; the simulator only needs a name and a
// NatConfig, so switching is a change to carrier_preset() alone.
//
// Sources: type Table III, allocator Table II (Vodafone's derived from the
// real carrier logs, as profiles/vodafone-nl.json: Table II's Beta alone
// does not fit them), timeouts Table IV (lower bounds), largest payload
// Table V; a unit test keeps them equal to the profiles. Odido was not measured (Tables II-V are
// empty for it); its config is an explicit assumption (symmetric,
// random-fully, RFC 4787's 2-minute timeouts), flagged in `assumed`.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nat/nat_config.hpp"

namespace natpunch::sim {

struct CarrierModel {
  std::string name;     // lower case, as typed on the command line: "kpn"
  std::string display;  // as in the thesis's tables: "KPN"
  nat::NatConfig nat;   // public_addresses left empty: the scenario assigns them
  bool assumed = false;  // not measured; values are placeholders
  std::string source;    // which tables the values come from
  // What peers are told of the allocator when the NAT runs something else
  // (a trace of real ports, `simulate matrix --trace`): the carrier's
  // profile. nullopt: nat.allocator itself.
  std::optional<nat::AllocatorSpec> told_allocator;
};

// Table I's order: odido, lebara, lycamobile, vodafone, kpn.
std::vector<std::string> carrier_preset_names();
std::optional<CarrierModel> carrier_preset(std::string_view name);

}  // namespace natpunch::sim

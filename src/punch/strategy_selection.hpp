#pragma once
// Which punching strategy fits two NATs, from what each side knows about
// itself and learns about the other at the rendezvous (DESIGN.md "Punch").
//
//   either side blocked (no UDP)             -> relay only
//   a side public, or full cone (EIM + EIF)  -> direct: the other side sends
//     with its endpoint known                   to that endpoint
//     (a public host behind a stateful firewall is not open: it counts as
//     an easy EIM side)
//   both EIM, endpoints known                -> simultaneous hole punch
//   one EIM side (endpoint known), one with  -> one-hard-side: the hard side
//     endpoint-dependent mapping                opens many sockets towards the
//                                               easy side's endpoint, the easy
//                                               side probes the hard side's ports
//   both endpoint-dependent:
//     an allocator or observed port known    -> improved birthday (prediction,
//                                               carrier-biased order, sockets)
//     nothing known                          -> naive birthday (Algorithm 1)
// An EIM side whose endpoint was never observed counts as hard: nobody
// knows where to aim.
#include <optional>
#include <string_view>

#include "nat/allocator_spec.hpp"
#include "nat/nat_behavior.hpp"

namespace natpunch::punch {

struct SideKnowledge {
  bool udp_blocked = false;
  // None: a public address (no NAT).
  nat::MappingBehavior mapping = nat::MappingBehavior::Unknown;
  nat::FilteringBehavior filtering = nat::FilteringBehavior::Unknown;
  std::optional<nat::AllocatorSpec> allocator;  // carrier profile or measurement
  std::optional<std::uint16_t> observed_port;   // external port the rendezvous saw
};

enum class StrategyKind : std::uint8_t { Direct, HolePunch, OneHardSide, NaiveBirthday, ImprovedBirthday, RelayOnly };

// "direct", "hole-punch", "one-hard-side", "naive", "improved", "relay".
std::string_view to_string(StrategyKind kind);

struct StrategyChoice {
  StrategyKind kind = StrategyKind::RelayOnly;
  std::string_view why;  // one line for progress output and logs
};

// Symmetric: both peers, each passing (self, other), agree on the kind.
StrategyChoice choose_strategy(const SideKnowledge& local, const SideKnowledge& peer);

// True when the side's endpoint is known and stays the same whatever it
// sends to (no NAT, or EIM).
bool endpoint_known_and_stable(const SideKnowledge& side);

}  // namespace natpunch::punch

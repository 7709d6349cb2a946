#include "punch/strategy_selection.hpp"

namespace natpunch::punch {
namespace {

using M = nat::MappingBehavior;
using F = nat::FilteringBehavior;

// A public address behind a stateful firewall (the lab's `fw`: mapping
// None, filtering address(-and-port)-dependent) drops what it never sent
// to, so only an open filter counts; "no NAT" with the filter unknown is
// taken at its word.
bool open_to_anyone(const SideKnowledge& s) {
  if (!endpoint_known_and_stable(s)) return false;
  if (s.filtering == F::EndpointIndependent || s.filtering == F::None) return true;
  return s.mapping == M::None && s.filtering == F::Unknown;
}

bool anything_known(const SideKnowledge& s) { return s.allocator.has_value() || s.observed_port.has_value(); }

}  // namespace

std::string_view to_string(StrategyKind kind) {
  switch (kind) {
    case StrategyKind::Direct: return "direct";
    case StrategyKind::HolePunch: return "hole-punch";
    case StrategyKind::OneHardSide: return "one-hard-side";
    case StrategyKind::NaiveBirthday: return "naive";
    case StrategyKind::ImprovedBirthday: return "improved";
    case StrategyKind::RelayOnly: return "relay";
  }
  return "unknown";
}

bool endpoint_known_and_stable(const SideKnowledge& side) {
  return side.observed_port.has_value() && (side.mapping == M::None || side.mapping == M::EndpointIndependent);
}

StrategyChoice choose_strategy(const SideKnowledge& local, const SideKnowledge& peer) {
  if (local.udp_blocked || peer.udp_blocked) return {StrategyKind::RelayOnly, "UDP is blocked on one side"};
  if (open_to_anyone(local) || open_to_anyone(peer))
    return {StrategyKind::Direct, "one side is public or full cone: send to its endpoint"};
  const bool local_easy = endpoint_known_and_stable(local);
  const bool peer_easy = endpoint_known_and_stable(peer);
  if (local_easy && peer_easy) return {StrategyKind::HolePunch, "both mappings endpoint-independent: punch both endpoints"};
  if (local_easy || peer_easy)
    return {StrategyKind::OneHardSide, "one endpoint-dependent side: many sockets against the easy side's endpoint"};
  if (anything_known(local) || anything_known(peer))
    return {StrategyKind::ImprovedBirthday, "both endpoint-dependent: prediction and carrier-biased birthday attack"};
  return {StrategyKind::NaiveBirthday, "both endpoint-dependent, nothing known: naive birthday attack"};
}

}  // namespace natpunch::punch

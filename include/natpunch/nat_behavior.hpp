#pragma once
// natpunch public API: the vocabulary for what a NAT does, shared by NAT
// discovery (natpunch/nat_discovery.hpp) and sessions (natpunch/session.hpp).
#include <optional>
#include <string_view>

namespace natpunch {

// RFC 4787 mapping (§4.1) or filtering (§5) behaviour. kNone: no
// translation (mapping) / nothing filters inbound traffic (filtering).
enum class NatBehavior {
  kUnknown,
  kNone,
  kEndpointIndependent,
  kAddressDependent,
  kAddressAndPortDependent,
};

// RFC 3489 §5 names, derived from the behaviours (full cone = EIM+EIF, ...).
enum class ClassicNatType {
  kUnknown,
  kOpenInternet,
  kFullCone,
  kRestrictedCone,
  kPortRestrictedCone,
  kSymmetric,
  kSymmetricUdpFirewall,
  kUdpBlocked,
};

// "unknown", "none", "endpoint-independent", "address-dependent",
// "address-and-port-dependent": stable spellings (scripts match on them).
std::string_view to_string(NatBehavior behavior);
// "unknown", "open internet", "full cone", "restricted cone",
// "port-restricted cone", "symmetric", "symmetric udp firewall", "udp blocked".
std::string_view to_string(ClassicNatType type);
// Inverses of to_string(); nullopt for anything else.
std::optional<NatBehavior> parse_nat_behavior(std::string_view text);
std::optional<ClassicNatType> parse_classic_nat_type(std::string_view text);

}  // namespace natpunch

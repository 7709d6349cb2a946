#include "nat/public_vocabulary.hpp"

namespace natpunch {

std::string_view to_string(NatBehavior behavior) {
  switch (behavior) {
    case NatBehavior::kUnknown: break;
    case NatBehavior::kNone: return "none";
    case NatBehavior::kEndpointIndependent: return "endpoint-independent";
    case NatBehavior::kAddressDependent: return "address-dependent";
    case NatBehavior::kAddressAndPortDependent: return "address-and-port-dependent";
  }
  return "unknown";
}

std::string_view to_string(ClassicNatType type) {
  switch (type) {
    case ClassicNatType::kUnknown: break;
    case ClassicNatType::kOpenInternet: return "open internet";
    case ClassicNatType::kFullCone: return "full cone";
    case ClassicNatType::kRestrictedCone: return "restricted cone";
    case ClassicNatType::kPortRestrictedCone: return "port-restricted cone";
    case ClassicNatType::kSymmetric: return "symmetric";
    case ClassicNatType::kSymmetricUdpFirewall: return "symmetric udp firewall";
    case ClassicNatType::kUdpBlocked: return "udp blocked";
  }
  return "unknown";
}

std::optional<NatBehavior> parse_nat_behavior(std::string_view text) {
  for (auto b : {NatBehavior::kUnknown, NatBehavior::kNone, NatBehavior::kEndpointIndependent,
                 NatBehavior::kAddressDependent, NatBehavior::kAddressAndPortDependent})
    if (to_string(b) == text) return b;
  return std::nullopt;
}

std::optional<ClassicNatType> parse_classic_nat_type(std::string_view text) {
  for (auto t : {ClassicNatType::kUnknown, ClassicNatType::kOpenInternet, ClassicNatType::kFullCone,
                 ClassicNatType::kRestrictedCone, ClassicNatType::kPortRestrictedCone, ClassicNatType::kSymmetric,
                 ClassicNatType::kSymmetricUdpFirewall, ClassicNatType::kUdpBlocked})
    if (to_string(t) == text) return t;
  return std::nullopt;
}

}  // namespace natpunch

namespace natpunch::nat {

// Both vocabularies spell their words alike (the spellings are an interface
// on both sides), so converting through them cannot drift; the unit test
// walks every value.
MappingBehavior to_mapping(NatBehavior behavior) {
  return parse_mapping_behavior(to_string(behavior)).value_or(MappingBehavior::Unknown);
}
FilteringBehavior to_filtering(NatBehavior behavior) {
  return parse_filtering_behavior(to_string(behavior)).value_or(FilteringBehavior::Unknown);
}
NatBehavior to_public(MappingBehavior mapping) {
  return parse_nat_behavior(to_string(mapping)).value_or(NatBehavior::kUnknown);
}
NatBehavior to_public(FilteringBehavior filtering) {
  return parse_nat_behavior(to_string(filtering)).value_or(NatBehavior::kUnknown);
}
ClassicNatType to_public(ClassicType type) {
  return parse_classic_nat_type(to_string(type)).value_or(ClassicNatType::kUnknown);
}

}  // namespace natpunch::nat

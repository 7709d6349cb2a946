#pragma once
// NAT behaviour vocabulary shared by discovery, the NAT model, profiles and
// the CLI. The to_string() spellings are an interface: scripts, profiles and
// other code match on them, so they must never change.
#include <cstdint>
#include <optional>
#include <string_view>

namespace natpunch::nat {

// RFC 4787 §4.1 mapping behaviour; None means no translation at all.
enum class MappingBehavior : std::uint8_t {
  None,
  EndpointIndependent,
  AddressDependent,
  AddressAndPortDependent,
  Unknown,
};

// RFC 4787 §5 filtering behaviour; None means nothing filters inbound traffic.
enum class FilteringBehavior : std::uint8_t {
  None,
  EndpointIndependent,
  AddressDependent,
  AddressAndPortDependent,
  Unknown,
};

// RFC 3489 §5 names, kept because carriers and older tools still use them.
enum class ClassicType : std::uint8_t {
  OpenInternet,
  FullCone,
  RestrictedCone,
  PortRestrictedCone,
  Symmetric,
  SymmetricUdpFirewall,
  UdpBlocked,
  Unknown,
};

enum class Hairpinning : std::uint8_t { Yes, No, Unknown };

// "none", "endpoint-independent", "address-dependent",
// "address-and-port-dependent", "unknown".
std::string_view to_string(MappingBehavior m);
std::string_view to_string(FilteringBehavior f);
// "open internet", "full cone", "restricted cone", "port-restricted cone",
// "symmetric", "symmetric udp firewall", "udp blocked", "unknown".
std::string_view to_string(ClassicType t);
// "yes", "no", "unknown".
std::string_view to_string(Hairpinning h);

// Inverses of to_string(), for profiles and command-line options.
std::optional<MappingBehavior> parse_mapping_behavior(std::string_view text);
std::optional<FilteringBehavior> parse_filtering_behavior(std::string_view text);
std::optional<ClassicType> parse_classic_type(std::string_view text);

// RFC 3489 type implied by RFC 4787 behaviours: full cone = EIM+EIF,
// restricted = EIM+ADF, port-restricted = EIM+APDF, symmetric = any
// endpoint-dependent mapping (whatever the filtering). Without a NAT, a
// filter that lets unsolicited traffic in is "open internet", any other is a
// "symmetric udp firewall". Anything not determined yields Unknown.
ClassicType classic_type(MappingBehavior mapping, FilteringBehavior filtering);

}  // namespace natpunch::nat

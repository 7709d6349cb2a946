#include "nat/nat_behavior.hpp"

#include <array>
#include <utility>

namespace natpunch::nat {
namespace {

// One table per enum keeps to_string() and parse_*() inverse by construction.
constexpr std::array<std::pair<MappingBehavior, std::string_view>, 5> kMappingNames{{
    {MappingBehavior::None, "none"},
    {MappingBehavior::EndpointIndependent, "endpoint-independent"},
    {MappingBehavior::AddressDependent, "address-dependent"},
    {MappingBehavior::AddressAndPortDependent, "address-and-port-dependent"},
    {MappingBehavior::Unknown, "unknown"},
}};

constexpr std::array<std::pair<FilteringBehavior, std::string_view>, 5> kFilteringNames{{
    {FilteringBehavior::None, "none"},
    {FilteringBehavior::EndpointIndependent, "endpoint-independent"},
    {FilteringBehavior::AddressDependent, "address-dependent"},
    {FilteringBehavior::AddressAndPortDependent, "address-and-port-dependent"},
    {FilteringBehavior::Unknown, "unknown"},
}};

constexpr std::array<std::pair<ClassicType, std::string_view>, 8> kClassicNames{{
    {ClassicType::OpenInternet, "open internet"},
    {ClassicType::FullCone, "full cone"},
    {ClassicType::RestrictedCone, "restricted cone"},
    {ClassicType::PortRestrictedCone, "port-restricted cone"},
    {ClassicType::Symmetric, "symmetric"},
    {ClassicType::SymmetricUdpFirewall, "symmetric udp firewall"},
    {ClassicType::UdpBlocked, "udp blocked"},
    {ClassicType::Unknown, "unknown"},
}};

template <class Enum, std::size_t N>
std::string_view name_of(const std::array<std::pair<Enum, std::string_view>, N>& table, Enum value) {
  for (const auto& [v, name] : table)
    if (v == value) return name;
  return "unknown";
}

template <class Enum, std::size_t N>
std::optional<Enum> value_of(const std::array<std::pair<Enum, std::string_view>, N>& table, std::string_view text) {
  for (const auto& [v, name] : table)
    if (name == text) return v;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(MappingBehavior m) { return name_of(kMappingNames, m); }
std::string_view to_string(FilteringBehavior f) { return name_of(kFilteringNames, f); }
std::string_view to_string(ClassicType t) { return name_of(kClassicNames, t); }

std::string_view to_string(Hairpinning h) {
  switch (h) {
    case Hairpinning::Yes: return "yes";
    case Hairpinning::No: return "no";
    case Hairpinning::Unknown: break;
  }
  return "unknown";
}

std::optional<MappingBehavior> parse_mapping_behavior(std::string_view text) { return value_of(kMappingNames, text); }
std::optional<FilteringBehavior> parse_filtering_behavior(std::string_view text) {
  return value_of(kFilteringNames, text);
}
std::optional<ClassicType> parse_classic_type(std::string_view text) { return value_of(kClassicNames, text); }

ClassicType classic_type(MappingBehavior mapping, FilteringBehavior filtering) {
  switch (mapping) {
    case MappingBehavior::AddressDependent:
    case MappingBehavior::AddressAndPortDependent:
      return ClassicType::Symmetric;
    case MappingBehavior::None:
      switch (filtering) {
        case FilteringBehavior::None:
        case FilteringBehavior::EndpointIndependent: return ClassicType::OpenInternet;
        case FilteringBehavior::AddressDependent:
        case FilteringBehavior::AddressAndPortDependent: return ClassicType::SymmetricUdpFirewall;
        case FilteringBehavior::Unknown: return ClassicType::Unknown;
      }
      return ClassicType::Unknown;
    case MappingBehavior::EndpointIndependent:
      switch (filtering) {
        case FilteringBehavior::None:
        case FilteringBehavior::EndpointIndependent: return ClassicType::FullCone;
        case FilteringBehavior::AddressDependent: return ClassicType::RestrictedCone;
        case FilteringBehavior::AddressAndPortDependent: return ClassicType::PortRestrictedCone;
        case FilteringBehavior::Unknown: return ClassicType::Unknown;
      }
      return ClassicType::Unknown;
    case MappingBehavior::Unknown: break;
  }
  return ClassicType::Unknown;
}

}  // namespace natpunch::nat

#include "nat/nat_config.hpp"

#include <algorithm>

namespace natpunch::nat {

std::optional<NatConfigError> validate(const NatConfig& config) {
  using M = MappingBehavior;
  using F = FilteringBehavior;
  if (config.mapping != M::EndpointIndependent && config.mapping != M::AddressDependent &&
      config.mapping != M::AddressAndPortDependent)
    return NatConfigError{"mapping", "must be endpoint-independent, address-dependent or address-and-port-dependent"};
  if (config.filtering != F::EndpointIndependent && config.filtering != F::AddressDependent &&
      config.filtering != F::AddressAndPortDependent)
    return NatConfigError{"filtering",
                          "must be endpoint-independent, address-dependent or address-and-port-dependent"};
  if (auto error = validate(config.allocator)) return NatConfigError{"allocator." + error->field, error->message};
  if (config.pending_timeout <= Duration::zero()) return NatConfigError{"pending_timeout", "must be positive"};
  if (config.established_timeout <= Duration::zero())
    return NatConfigError{"established_timeout", "must be positive"};
  if (config.max_mappings_per_subscriber && *config.max_mappings_per_subscriber == 0)
    return NatConfigError{"max_mappings_per_subscriber", "must be at least 1 (or unset for no limit)"};
  if (config.max_payload && *config.max_payload == 0)
    return NatConfigError{"max_payload", "must be at least 1 byte (or unset for no limit)"};
  if (config.public_addresses.empty()) return NatConfigError{"public_addresses", "needs at least one address"};
  if (config.public_addresses.size() > 255) return NatConfigError{"public_addresses", "at most 255 addresses"};
  for (std::size_t i = 0; i < config.public_addresses.size(); ++i) {
    if (config.public_addresses[i].is_unspecified())
      return NatConfigError{"public_addresses",
                            "must be concrete addresses, not " + config.public_addresses[i].to_string()};
    if (std::find(config.public_addresses.begin() + static_cast<std::ptrdiff_t>(i) + 1, config.public_addresses.end(),
                  config.public_addresses[i]) != config.public_addresses.end())
      return NatConfigError{"public_addresses", config.public_addresses[i].to_string() + " is listed twice"};
  }
  return std::nullopt;
}

}  // namespace natpunch::nat

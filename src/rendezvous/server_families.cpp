#include "rendezvous/server_families.hpp"

#include <algorithm>

namespace natpunch::rendezvous {

ServerFamilies choose_server_families(std::span<const Endpoint> servers, HostFamilies host) {
  ServerFamilies out;
  const auto usable = [&](const Endpoint& e) { return e.address.is_v4() ? host.v4 : host.v6; };
  // A dual-stack host registers over IPv4 wherever the list has it (its
  // IPv6 candidates come from the socket beside); otherwise the first
  // usable address.
  auto first_usable = servers.end();
  if (host.v4 && host.v6)
    first_usable = std::find_if(servers.begin(), servers.end(), [](const Endpoint& e) { return e.address.is_v4(); });
  if (first_usable == servers.end()) first_usable = std::find_if(servers.begin(), servers.end(), usable);
  out.primary = first_usable != servers.end() ? *first_usable : servers.front();
  for (const auto& e : servers)
    if (e != out.primary && e.address.family() == out.primary.address.family()) out.alternates.push_back(e);
  if (out.primary.address.is_v4() && host.v6)
    for (const auto& e : servers)
      if (e.address.is_v6() && out.reflexive_v6.size() < kMaxReflexiveServers) out.reflexive_v6.push_back(e);
  return out;
}

}  // namespace natpunch::rendezvous

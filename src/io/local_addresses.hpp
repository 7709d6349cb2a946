#pragma once
// This host's usable local addresses (getifaddrs): what a session offers
// its peer as host candidates (a second phone behind the same NAT reaches
// it there, when that NAT routes between its clients).
#include <vector>

#include "core/endpoint.hpp"
#include "rendezvous/server_families.hpp"

namespace natpunch::io {

// Addresses of interfaces that are up, of one family, without loopback,
// link-local, unspecified or multicast ones; at most `limit`.
std::vector<IpAddress> local_addresses(bool v4, std::size_t limit);

// Which families this host has a usable address of (local_addresses).
rendezvous::HostFamilies host_families();

}  // namespace natpunch::io

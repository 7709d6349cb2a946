#pragma once
// Which of a client's rendezvous addresses it registers at, by the address
// families the host has. `--rendezvous` lists one server's (or a cluster's)
// addresses, IPv4 and IPv6 alike (203.0.113.10:7000,[2001:db8::10]:7000,
// or a name with A and AAAA records):
//   - the primary is the first address of a family the host has (an
//     IPv6-only phone registers over IPv6 though the list starts with
//     IPv4); a dual-stack host registers over IPv4 whatever the list's
//     order, when the list has an IPv4 address: only an IPv4 registration
//     offers the IPv4 candidates (host, server-reflexive, predicted) and
//     also the IPv6 ones (from an IPv6 socket beside it), while one over
//     IPv6 offers IPv6 candidates only;
//   - the alternates (failover, a cluster's other nodes) are the other
//     addresses of the primary's family: the registering socket is of
//     that family and cannot move to the other;
//   - a host registered over IPv4 that has IPv6 asks the list's IPv6
//     addresses for its IPv6 reflexive address (reflexive_v6: a Binding
//     from its IPv6 socket to the rendezvous's co-located STUN), its
//     server-reflexive IPv6 candidate.
// A host with neither family (a test on loopback) keeps the list as it is.
// Pure (tests/unit/rendezvous_server_families_test.cpp).
#include <span>
#include <vector>

#include "core/endpoint.hpp"

namespace natpunch::rendezvous {

struct HostFamilies {
  bool v4 = false;
  bool v6 = false;
};

struct ServerFamilies {
  Endpoint primary;
  std::vector<Endpoint> alternates;
  std::vector<Endpoint> reflexive_v6;  // at most kMaxReflexiveServers
};

inline constexpr std::size_t kMaxReflexiveServers = 2;

// `servers` must not be empty.
ServerFamilies choose_server_families(std::span<const Endpoint> servers, HostFamilies host);

}  // namespace natpunch::rendezvous

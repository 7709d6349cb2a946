#pragma once
// "Where does the rendezvous see this socket?": a STUN Binding
// (stun::BindingQuery, sans-IO) from one given UDP socket to the
// rendezvous's co-located STUN server, run to its end on the calling
// thread within `budget`. A dual-stack session asks over its IPv6 socket
// for its server-reflexive IPv6 candidate (rendezvous::NatInfo::reflexive_v6)
// before the socket goes to the punch driver.
#include <optional>
#include <span>

#include "core/endpoint.hpp"
#include "core/time.hpp"

namespace natpunch::io {

// nullopt when no server answered within `budget` (or the socket failed).
std::optional<Endpoint> reflexive_address(int fd, std::span<const Endpoint> servers, Duration budget);

}  // namespace natpunch::io

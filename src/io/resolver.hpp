#pragma once
// Turns user-supplied server names ("stun.example.org", "203.0.113.10:3478",
// "[2001:db8::1]") into endpoints, with errors a user can act on.
#include <string>
#include <string_view>
#include <vector>

#include "core/endpoint.hpp"
#include "core/result.hpp"

namespace natpunch::io {

// `text` is HOST, HOST:PORT, IPv6 literal or [IPv6]:PORT; default_port
// applies when no port is given (core/host_port.hpp says what is accepted).
// Literal addresses never touch DNS, malformed ones are refused before it.
Result<std::vector<Endpoint>, std::string> resolve_udp(std::string_view text, std::uint16_t default_port);

// The local address the kernel would use to reach `remote` (no packet sent):
// a client behind no NAT sees this same address reflected by STUN.
Result<IpAddress, std::string> local_address_towards(const Endpoint& remote);

}  // namespace natpunch::io

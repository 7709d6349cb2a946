#pragma once
// The one parser for addresses a user types: servers to reach ("HOST",
// "HOST:PORT", "IP:PORT", "[IPv6]:PORT", a bare IPv6 literal) and local
// addresses to bind ("IP:PORT"). Every command goes through it (the CLI's
// validators, io::resolve_udp, the public API), so a typo gets the same
// one-line reason everywhere and a malformed literal never reaches DNS.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/endpoint.hpp"
#include "core/result.hpp"

namespace natpunch {

struct HostPort {
  std::string host;                // a name, or the literal's text
  std::uint16_t port = 0;          // 1-65535 (the default when none was given)
  std::optional<IpAddress> literal;  // set when host is an IP literal: no DNS
};

// A remote address: the port must be 1-65535 (a server cannot be reached
// on port 0). Rejects, without DNS: a bad or missing port, an unclosed or
// non-IPv6 bracket, a dotted quad that is not IPv4 ("999.1.1.1"), an IPv6
// literal with a port but no brackets, and names no DNS could hold.
Result<HostPort, std::string> parse_host_port(std::string_view text, std::uint16_t default_port);

// A local address to bind: an IP literal and a port, 0 meaning "any free
// port" ("0.0.0.0:0", "[::]:0", "127.0.0.1:3478").
Result<Endpoint, std::string> parse_bind_endpoint(std::string_view text);

}  // namespace natpunch

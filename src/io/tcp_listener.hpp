#pragma once
// A non-blocking TCP listening socket (SO_REUSEADDR), for the servers'
// stream listeners and metrics endpoint, which the server loop watches in
// its epoll set (io/udp_ports.hpp: FdWatcher).
#include <string>

#include "core/endpoint.hpp"
#include "core/result.hpp"

namespace natpunch::io {

// The listening descriptor (close it with ::close), or the system's reason.
Result<int, std::string> open_tcp_listener(const Endpoint& at, int backlog);
// The address a bound TCP or UDP socket has (port 0 resolved).
Endpoint local_endpoint_of(int fd);
// The peer of a connected socket; unspecified if unknown.
Endpoint peer_endpoint_of(int fd);

}  // namespace natpunch::io

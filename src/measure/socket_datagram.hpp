#pragma once
// What a many-socket measurement machine hands its driver: a datagram to
// send from one of its sockets. Sockets are named by ids the machine picks;
// the driver opens a fresh socket (fresh local port, so a fresh NAT mapping)
// the first time it sees an id, and closes it when the machine says so.
#include <cstdint>
#include <vector>

#include "core/endpoint.hpp"

namespace natpunch::measure {

using SocketId = std::uint32_t;

struct SocketDatagram {
  SocketId socket = 0;
  Endpoint to;
  std::vector<std::uint8_t> bytes;
};

}  // namespace natpunch::measure

#pragma once
// A datagram a sans-IO rendezvous machine asks its driver to send: over
// UDP to `to`, or (stream != 0) as one frame on the driver's stream
// connection of that number (a client that registered over TCP or TLS).
#include <cstdint>
#include <vector>

#include "core/endpoint.hpp"

namespace natpunch::rendezvous {

struct Transmit {
  Endpoint to;
  std::vector<std::uint8_t> bytes;
  std::uint64_t stream = 0;
};

}  // namespace natpunch::rendezvous

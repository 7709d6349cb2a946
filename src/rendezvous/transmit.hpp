#pragma once
// A datagram the rendezvous server machine asks its driver to send: over
// UDP to `to`, or (stream != 0) as one frame on the driver's stream
// connection of that number (a client that registered over TCP or TLS).
// The client speaks the contract's Transmit (core/transmit.hpp); the
// server's answers need the stream number beside the endpoint.
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

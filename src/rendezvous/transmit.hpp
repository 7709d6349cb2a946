#pragma once
// A datagram a sans-IO rendezvous machine asks its driver to send.
#include <cstdint>
#include <vector>

#include "core/endpoint.hpp"

namespace natpunch::rendezvous {

struct Transmit {
  Endpoint to;
  std::vector<std::uint8_t> bytes;
};

}  // namespace natpunch::rendezvous

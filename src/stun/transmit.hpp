#pragma once
// What a sans-IO STUN state machine hands its driver to send.
#include <cstdint>
#include <vector>

#include "core/endpoint.hpp"

namespace natpunch::stun {

struct Transmit {
  Endpoint to;
  std::vector<std::uint8_t> bytes;
};

}  // namespace natpunch::stun

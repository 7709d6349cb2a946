#pragma once
// A datagram in flight inside the simulator. Payloads up to
// DatagramBytes::kInlineCapacity (probes, STUN requests, keepalives) live
// inline, larger ones (STUN answers, model chunks) in a buffer that links
// reuse slot by slot, so steady-state sending does not allocate. Anything
// up to the largest UDP payload is carried; larger is refused by Link::push.
#include <cstdint>
#include <span>

#include "core/datagram_bytes.hpp"
#include "core/endpoint.hpp"

namespace natpunch::sim {

inline constexpr std::size_t kMaxPayload = 65507;

struct Packet {
  Endpoint from;
  Endpoint to;
  DatagramBytes bytes;

  std::span<const std::uint8_t> payload() const { return bytes.span(); }
  std::size_t size() const { return bytes.size(); }

  void assign(const Endpoint& source, const Endpoint& destination, std::span<const std::uint8_t> data) {
    from = source;
    to = destination;
    bytes.assign(data);
  }
};

}  // namespace natpunch::sim

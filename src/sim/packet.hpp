#pragma once
// A datagram in flight inside the simulator. The payload lives inline so
// sending a packet never allocates; links keep packets in reusable ring
// slots. 548 bytes (RFC 791's 576 minus IP and UDP headers) holds every
// message the simulated protocols send (probes are 16 bytes, STUN Binding
// exchanges < 200); larger payloads are refused by Link::push.
#include <array>
#include <cstdint>
#include <cstring>
#include <span>

#include "core/endpoint.hpp"

namespace natpunch::sim {

inline constexpr std::size_t kMaxPayload = 548;

struct Packet {
  Endpoint from;
  Endpoint to;
  std::uint16_t size = 0;
  std::array<std::uint8_t, kMaxPayload> bytes;  // only [0, size) is meaningful

  std::span<const std::uint8_t> payload() const { return {bytes.data(), size}; }

  // Copies only the meaningful bytes (a full copy would move 548 bytes per hop).
  void assign(const Endpoint& source, const Endpoint& destination, std::span<const std::uint8_t> data) {
    from = source;
    to = destination;
    size = static_cast<std::uint16_t>(data.size());
    std::memcpy(bytes.data(), data.data(), data.size());
  }
};

}  // namespace natpunch::sim

#pragma once
// The one contract every protocol machine speaks (DESIGN.md, "sans-IO
// cores"; the shape of quinn-proto's Connection):
//
//   on_datagram(now, socket, from, bytes)   a datagram arrived on `socket`
//   poll_transmit(now) -> optional<Transmit> the next datagram to send, if any
//   next_deadline() -> optional<TimePoint>   when on_timer wants to run
//   on_timer(now)                            time passed
//   poll_event() -> optional<that machine's event variant>
//
// A machine never reads a clock and never touches a socket. Sockets are
// small numbers the machine chooses (0 = its first/main socket); the driver
// binds socket N the first time the machine uses it. Servers may also offer
// handle(now, socket, from, bytes), the same thing in one call.
#include <concepts>
#include <cstdint>
#include <optional>
#include <span>

#include "core/datagram_bytes.hpp"
#include "core/endpoint.hpp"
#include "core/time.hpp"

namespace natpunch {

using SocketId = std::uint32_t;

// One datagram to send out of local socket `socket` to `to`.
struct Transmit {
  SocketId socket = 0;
  Endpoint to;
  DatagramBytes bytes;
};

// What a driver (io/, sim/, a test) needs of a machine to run it. The
// event type is the machine's own; the driver's owner polls it.
template <class M>
concept ProtocolMachine = requires(M& m, const M& cm, TimePoint now, SocketId socket, const Endpoint& from,
                                   std::span<const std::uint8_t> bytes) {
  m.on_datagram(now, socket, from, bytes);
  { m.poll_transmit(now) } -> std::same_as<std::optional<Transmit>>;
  { cm.next_deadline() } -> std::same_as<std::optional<TimePoint>>;
  m.on_timer(now);
  m.poll_event();
};

}  // namespace natpunch

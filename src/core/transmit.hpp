#pragma once
// The one contract every protocol machine speaks (DESIGN.md, "sans-IO
// cores"; the shape of quinn-proto's Connection):
//
//   on_datagram(now, socket, from, bytes)   a datagram arrived on `socket`
//   poll_transmit(now) -> optional<Transmit> the next datagram to send, if any
//   next_deadline() -> optional<TimePoint>   when on_timer wants to run (a
//                                            time already past: at once)
//   on_timer(now)                            time passed
//   poll_event() -> optional<that machine's event variant>
//
// A machine never reads a clock and never touches a socket. Sockets are
// small numbers the machine chooses (0 = its first/main socket); the driver
// binds socket N the first time the machine uses it. Servers may also offer
// handle(now, socket, from, bytes), the same thing in one call.
//
// Optional parts, for machines that need them (measurements: a fresh local
// port per probe is a fresh NAT mapping; the MTU search needs the kernel's
// EMSGSIZE). Every driver (io::run_machine, sim::MachineHost) detects each
// with the concept below and calls it when the machine offers it:
//
//   socket_options(socket) -> SocketOptions  how to bind a socket: asked once,
//                                            just before the driver binds it
//   on_socket_bound(now, socket, local)      where it was bound (the port a
//                                            NAT sees on the inside)
//   poll_socket_release() -> optional<SocketId>
//                                            the machine is done with a socket:
//                                            the driver closes it; using the
//                                            number again binds a new socket
//   on_send_error(now, socket, to, SendError) a datagram never left the host
//   answer(now, socket, from, bytes, out) -> optional<InPlaceReply>
//                                            a server that answers a datagram
//                                            with at most one datagram writes
//                                            it into the driver's buffer `out`
//                                            (no copy, no allocation); the
//                                            real-time loop then calls this
//                                            instead of on_datagram
//
// Order within one driver step, after any call into the machine: events;
// transmits (a new socket is bound -- socket_options, on_socket_bound --
// before its first datagram goes); the send errors of those datagrams; then
// releases; again while a send error made the machine send more. So a
// machine hears about a failed send before its next on_timer or
// on_datagram, and a socket it releases has sent what it was given.
#include <concepts>
#include <cstdint>
#include <deque>
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

// The don't-fragment bit of a socket's datagrams.
enum class Fragmentation : std::uint8_t {
  KernelDefault,
  // DF set, and datagrams up to the interface MTU leave whatever path MTU
  // the host has cached (Linux IP_PMTUDISC_PROBE): the path decides, and a
  // larger datagram fails at once with SendError::TooBig.
  DontFragment,
  // DF clear: the host fragments large datagrams (IP_PMTUDISC_DONT).
  AllowFragments,
};

struct SocketOptions {
  // The local port wanted; 0: any. When it is taken the driver binds any
  // free port (on_socket_bound says which).
  std::uint16_t port = 0;
  Fragmentation fragmentation = Fragmentation::KernelDefault;
};

// Why a datagram never left the host.
enum class SendError : std::uint8_t {
  TooBig,      // above the interface MTU with DF set, or above what UDP carries (EMSGSIZE)
  NoSocket,    // its socket could not be opened or bound
  BufferFull,  // the socket's send buffer was full: dropped before it left
  Refused,     // any other refusal (no route, address family, ...)
};
constexpr const char* to_string(SendError error) {
  switch (error) {
    case SendError::TooBig: return "message too long";
    case SendError::NoSocket: return "no socket";
    case SendError::BufferFull: return "send buffer full";
    case SendError::Refused: return "refused";
  }
  return "refused";
}

// The answer of answer(): out[0, length), to leave from `socket` to `to`.
struct InPlaceReply {
  SocketId socket = 0;
  Endpoint to;
  std::size_t length = 0;
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

// What most poll_* calls are: the oldest queued item, taken, if any.
template <class T>
std::optional<T> take_front(std::deque<T>& queue) {
  if (queue.empty()) return std::nullopt;
  std::optional<T> item(std::move(queue.front()));
  queue.pop_front();
  return item;
}

// The optional parts (see the top of this file).
template <class M>
concept ChoosesSocketOptions = requires(M& m, SocketId socket) {
  { m.socket_options(socket) } -> std::same_as<SocketOptions>;
};
template <class M>
concept WatchesSocketBinding = requires(M& m, TimePoint now, SocketId socket, const Endpoint& local) {
  m.on_socket_bound(now, socket, local);
};
template <class M>
concept ReleasesSockets = requires(M& m) {
  { m.poll_socket_release() } -> std::same_as<std::optional<SocketId>>;
};
template <class M>
concept HearsSendErrors = requires(M& m, TimePoint now, SocketId socket, const Endpoint& to, SendError error) {
  m.on_send_error(now, socket, to, error);
};

template <class M>
concept AnswersInPlace = requires(M& m, TimePoint now, SocketId socket, const Endpoint& from,
                                  std::span<const std::uint8_t> bytes, std::span<std::uint8_t> out) {
  { m.answer(now, socket, from, bytes, out) } -> std::same_as<std::optional<InPlaceReply>>;
};

}  // namespace natpunch

#pragma once
// The one real-time loop: runs any machine of the contract
// (core/transmit.hpp) on the real clock over a set of datagram ports --
// UDP sockets (io/udp_ports.hpp), natpunch Sessions (io/session_ports.hpp),
// an in-memory hub in tests -- until a stop predicate holds.
//
// After every call into the machine the loop hands its events to on_event
// and its transmits to the ports (then flushes them, so ports can batch);
// it wakes at the machine's deadline, for every datagram, and at least
// every `stop_poll` to ask the stop predicate. Ports may also wake it for
// other sources of input (io::UdpPorts::watch()); it then sends whatever
// those made the machine say. A steady stream of datagrams
// never starves a due timer: due timers run first.
//
// A machine that answers in place (core/transmit.hpp: answer()) over ports
// that take such answers (SendsInPlace: io::UdpPorts) writes each answer
// straight into the ports' send batch instead of being fed on_datagram: no
// copy, no allocation per datagram (the STUN server's fast path).
//
// The contract's optional socket parts (core/transmit.hpp: socket options,
// bound ports, releases, send errors) work over ports that can bind, close
// and report per socket (SocketPorts: io::UdpPorts); over other ports a
// refused send() is the only send error a machine hears of (Refused).
#include <algorithm>
#include <concepts>
#include <optional>
#include <span>
#include <vector>

#include "core/endpoint.hpp"
#include "core/time.hpp"
#include "core/transmit.hpp"

namespace natpunch::io {

// One received datagram; `bytes` stays valid until the next receive().
struct Arrival {
  SocketId socket = 0;
  Endpoint from;  // unspecified over a connected channel (a Session)
  std::span<const std::uint8_t> bytes;
};

// What the loop moves datagrams over. send() may queue (false: refused at
// once; the machine treats it as loss); flush() pushes queued sends out;
// receive() waits for one datagram until `until`, nullopt when none came.
template <class P>
concept DatagramPorts = requires(P& p, const Transmit& t, TimePoint until) {
  { p.send(t) } -> std::same_as<bool>;
  p.flush();
  { p.receive(until) } -> std::same_as<std::optional<Arrival>>;
};

// A datagram the ports could not send, for the machine's on_send_error.
struct SendFailure {
  SocketId socket = 0;
  Endpoint to;
  SendError error = SendError::Refused;
};

// Ports that bind with options, close and report failures per socket.
// bind() of a bound socket is not called; it returns the bound endpoint, or
// nullopt when the socket cannot be opened (the ports keep the reason).
// Failures come out of poll_send_failure() after the flush() that met them.
template <class P>
concept SocketPorts = DatagramPorts<P> && requires(P& p, const P& cp, SocketId socket, const SocketOptions& options) {
  { cp.is_bound(socket) } -> std::same_as<bool>;
  { p.bind(socket, options) } -> std::same_as<std::optional<Endpoint>>;
  p.release(socket);
  { p.poll_send_failure() } -> std::same_as<std::optional<SendFailure>>;
};

// Ports that read datagrams in batches and can say whether some of the
// last batch are still to be handed out (io::UdpPorts): the loop then holds
// its sends until the batch is done, so one sendmmsg() answers a batch.
// Such ports must flush held sends themselves before they wait.
template <class P>
concept BatchesArrivals = requires(const P& p) {
  { p.has_buffered() } -> std::same_as<bool>;
};

// Ports that let a machine write its answer straight into their send
// batch (io::UdpPorts): reply_buffer(socket) is the next free slot (empty
// when there is none), commit_reply() queues its first `length` bytes.
template <class P>
concept SendsInPlace = requires(P& p, SocketId socket, const Endpoint& to, std::size_t length) {
  { p.reply_buffer(socket) } -> std::same_as<std::span<std::uint8_t>>;
  p.commit_reply(socket, to, length);
};

// A datagram that a machine answering in place (core/transmit.hpp) answers
// straight into the ports' batch; an answer from another socket (a STUN
// CHANGE-REQUEST) is copied into that socket's batch.
template <class M, class P>
void answer_in_place(M& machine, P& ports, TimePoint now, const Arrival& arrival) {
  const auto out = ports.reply_buffer(arrival.socket);
  const auto reply = machine.answer(now, arrival.socket, arrival.from, arrival.bytes, out);
  if (!reply || reply->length > out.size()) return;
  if (reply->socket == arrival.socket) {
    ports.commit_reply(reply->socket, reply->to, reply->length);
    return;
  }
  const auto other = ports.reply_buffer(reply->socket);
  if (other.size() < reply->length) {  // not bound yet: the ordinary way binds it
    ports.send(Transmit{reply->socket, reply->to, std::span<const std::uint8_t>(out.data(), reply->length)});
    return;
  }
  std::copy_n(out.data(), reply->length, other.data());
  ports.commit_reply(reply->socket, reply->to, reply->length);
}

struct DriveOptions {
  // Longest wait between two looks at the stop predicate. Duration::max():
  // none; only the machine's deadlines and the ports' wake-ups (a stop
  // signal's descriptor, watched ones) end a wait -- no timer is armed for
  // an idle wait, which on a VM saves a timer programming per sleep.
  Duration stop_poll = milliseconds(100);
};

// Runs until stop() holds (checked before every wait, and between batches
// of arrivals, not within one). Returns how many
// datagrams the machine was fed, for callers that report it.
template <ProtocolMachine M, DatagramPorts P, class Stop, class OnEvent>
std::uint64_t run_machine(M& machine, P& ports, Stop&& stop, OnEvent&& on_event, const DriveOptions& options = {}) {
  std::uint64_t fed = 0;
  std::vector<SendFailure> failures;  // met before the ports saw the datagram
  const auto send = [&](TimePoint now, Transmit&& t) {
    if constexpr (SocketPorts<P> && (ChoosesSocketOptions<M> || WatchesSocketBinding<M>)) {
      if (!ports.is_bound(t.socket)) {
        SocketOptions socket_options;
        if constexpr (ChoosesSocketOptions<M>) socket_options = machine.socket_options(t.socket);
        const auto local = ports.bind(t.socket, socket_options);
        if (!local) {
          failures.push_back({t.socket, t.to, SendError::NoSocket});
          return;
        }
        if constexpr (WatchesSocketBinding<M>) machine.on_socket_bound(now, t.socket, *local);
      }
    }
    [[maybe_unused]] const SocketId socket = t.socket;
    [[maybe_unused]] const Endpoint to = SocketPorts<P> ? Endpoint{} : t.to;
    const bool accepted = ports.send(std::move(t));
    if constexpr (!SocketPorts<P>)
      if (!accepted) failures.push_back({socket, to, SendError::Refused});
  };
  const auto pump = [&](TimePoint now) {
    for (;;) {
      while (auto event = machine.poll_event()) on_event(*event);
      while (auto t = machine.poll_transmit(now)) send(now, std::move(*t));
      // A machine that hears send errors hears them now; others' sends may
      // wait for the rest of the batch of arrivals.
      if constexpr (BatchesArrivals<P> && !HearsSendErrors<M>) {
        if (!ports.has_buffered()) ports.flush();
      } else {
        ports.flush();
      }
      if constexpr (SocketPorts<P>)
        while (auto failure = ports.poll_send_failure()) failures.push_back(*failure);
      bool heard = false;
      if constexpr (HearsSendErrors<M>) {
        heard = !failures.empty();
        for (const auto& f : failures) machine.on_send_error(now, f.socket, f.to, f.error);
      }
      failures.clear();
      if constexpr (ReleasesSockets<M>) {
        while (auto released = machine.poll_socket_release()) {
          if constexpr (SocketPorts<P>) ports.release(*released);
        }
      }
      if (!heard) break;  // else the machine may have more to say
    }
  };
  TimePoint now = Clock::now();
  pump(now);  // what the machine queued before we ran it
  for (;;) {
    // Between the datagrams of one batch (one recvmmsg) the loop asks
    // neither the stop predicate (nor the periodic work a server hangs on
    // it) nor the clock for the timer check: the last datagram's time is
    // microseconds old. One clock read per datagram instead of three (they
    // were ~2 % of a STUN server's CPU).
    bool mid_batch = false;
    if constexpr (BatchesArrivals<P>) mid_batch = ports.has_buffered();
    if (!mid_batch) {
      if (stop()) break;
      now = Clock::now();
    }
    const auto deadline = machine.next_deadline();
    if (deadline && *deadline <= now) {
      machine.on_timer(now);
      pump(now);
      now = Clock::now();
      continue;
    }
    TimePoint until = options.stop_poll == Duration::max() ? TimePoint::max() : now + options.stop_poll;
    if (deadline) until = std::min(until, *deadline);
    if (auto arrival = ports.receive(until)) {
      now = Clock::now();
      // A machine that answers in place and needs to hear no send error
      // writes into the ports' batch: no copy, no allocation.
      if constexpr (AnswersInPlace<M> && SendsInPlace<P> && !HearsSendErrors<M>)
        answer_in_place(machine, ports, now, *arrival);
      else
        machine.on_datagram(now, arrival->socket, arrival->from, arrival->bytes);
      ++fed;
      pump(now);
    } else {
      pump(Clock::now());  // what other sources (watched descriptors) made the machine say
    }
  }
  ports.flush();
  return fed;
}

// An event sink for machines whose events the caller reads elsewhere (result()).
inline constexpr auto ignore_events = [](const auto&) {};

}  // namespace natpunch::io

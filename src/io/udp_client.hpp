#pragma once
// One UDP socket for a client-side sans-IO state machine, plus drive(): the
// loop that feeds the machine real time, real datagrams and its timers.
#include <array>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/endpoint.hpp"
#include "core/result.hpp"
#include "core/time.hpp"

namespace natpunch::io {

struct ReceivedDatagram {
  Endpoint from;
  std::span<const std::uint8_t> bytes;  // valid until the next receive
};

class UdpClient {
 public:
  // Binds to `bind` (port 0 = any); the address family follows `bind`.
  static Result<std::unique_ptr<UdpClient>, std::string> open(const Endpoint& bind);

  // The bound address; when bound to the wildcard, the address the kernel
  // uses towards `remote` (what a server would see without a NAT).
  Endpoint local_endpoint_towards(const Endpoint& remote) const;
  Endpoint bound_endpoint() const;
  // For poll() over several sockets (io/punch_driver.cpp).
  int native_handle() { return socket_.native_handle(); }

  // False with `error` set when the kernel refuses the datagram outright.
  bool send(const Endpoint& to, std::span<const std::uint8_t> bytes, std::string& error);
  // Waits for one datagram until `deadline`; nullopt on timeout.
  std::optional<ReceivedDatagram> receive_until(TimePoint deadline);

 private:
  UdpClient() : socket_(ctx_) {}
  asio::io_context ctx_;
  asio::ip::udp::socket socket_;
  std::array<std::uint8_t, 65536> buffer_{};
};

// Runs `machine` (core/transmit.hpp's contract, all on socket 0) until
// done() (or until it has no deadline left). Send failures (e.g. no route)
// are reported through the returned error but do not stop the machine: it
// treats them like loss and retransmits per its own policy.
template <class Machine>
std::optional<std::string> drive(UdpClient& socket, Machine& machine) {
  std::optional<std::string> first_error;
  while (!machine.done()) {
    auto now = Clock::now();
    while (auto out = machine.poll_transmit(now)) {
      std::string error;
      if (!socket.send(out->to, out->bytes, error) && !first_error) first_error = error;
    }
    auto deadline = machine.next_deadline();
    if (!deadline) break;
    auto datagram = socket.receive_until(*deadline);
    now = Clock::now();
    if (datagram)
      machine.on_datagram(now, 0, datagram->from, datagram->bytes);
    else
      machine.on_timer(now);
  }
  return first_error;
}

}  // namespace natpunch::io

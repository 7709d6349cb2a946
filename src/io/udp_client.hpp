#pragma once
// One UDP socket with blocking receive_until(): socket 0 of the probe engine
// (io/punch_driver.*) and of the rendezvous client runner. Machines run on
// io/machine_driver.hpp over io/udp_ports.hpp.
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

}  // namespace natpunch::io

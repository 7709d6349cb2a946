#pragma once
// A STUN server living beside another server on the same Asio loop, with
// that server's socket as its primary (the rendezvous: `natpunch rendezvous
// --stun-alt IP:PORT`), so peers learn their NAT from the rendezvous itself
// (measure/nat_probe.hpp) without knowing any other address.
//
// stun::ServerMachine answers on four sockets: the host server's socket is
// socket 0 (PrimaryIpPrimaryPort); this binds the other three (primary IP
// with the alternate port, alternate IP with the primary port, alternate IP
// and port) and serves whatever arrives there. The host server hands over
// the datagrams of its own socket that are STUN (looks_like_stun: its own
// protocol must never start with two zero bits, as the rendezvous's 'N' 'R'
// does not).
#include <array>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/endpoint.hpp"
#include "core/result.hpp"
#include "stun/server_machine.hpp"

namespace natpunch::io {

// A STUN message starts with two zero bits and is at least 20 bytes long.
inline bool looks_like_stun(std::span<const std::uint8_t> datagram) {
  return datagram.size() >= 20 && (datagram[0] & 0xC0) == 0;
}

class ColocatedStun {
 public:
  // `primary` is the host server's bound socket; config.primary must be its
  // address and config.alternate set (port 0: one free on both addresses).
  // The error names the address that could not be bound.
  static Result<std::unique_ptr<ColocatedStun>, std::string> open(asio::io_context& ctx,
                                                                  asio::ip::udp::socket& primary,
                                                                  stun::ServerConfig config);
  ColocatedStun(const ColocatedStun&) = delete;
  ColocatedStun& operator=(const ColocatedStun&) = delete;

  // A STUN datagram that arrived on the primary socket.
  void on_primary_datagram(std::span<const std::uint8_t> bytes, const Endpoint& from);
  const stun::ServerCounters& counters() const { return machine_.server().counters(); }
  // The four sockets' addresses, primary first (config.alternate's port 0 resolved).
  std::vector<Endpoint> endpoints() const { return machine_.socket_endpoints(); }

 private:
  ColocatedStun(asio::io_context& ctx, asio::ip::udp::socket& primary, stun::ServerConfig config);
  static Result<std::unique_ptr<ColocatedStun>, std::string> open_at(asio::io_context& ctx,
                                                                     asio::ip::udp::socket& primary,
                                                                     stun::ServerConfig config);
  void receive(std::size_t index);
  void handle(SocketId socket, std::span<const std::uint8_t> bytes, const Endpoint& from);
  asio::ip::udp::socket& socket(SocketId id);

  asio::ip::udp::socket& primary_;
  stun::ServerMachine machine_;
  struct Extra {
    explicit Extra(asio::io_context& ctx) : socket(ctx) {}
    asio::ip::udp::socket socket;
    asio::ip::udp::endpoint sender;
    std::array<std::uint8_t, 2048> in{};
  };
  std::array<std::unique_ptr<Extra>, 3> extra_;  // sockets 1, 2, 3
};

}  // namespace natpunch::io

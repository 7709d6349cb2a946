#pragma once
// A STUN server living beside another server in the same loop, with that
// server's socket as its primary (the rendezvous: `natpunch rendezvous
// --stun-alt IP:PORT`), so peers learn their NAT from the rendezvous itself
// (measure/nat_probe.hpp) without knowing any other address.
//
// stun::ServerMachine answers on four sockets: the host server's socket is
// socket 0 (PrimaryIpPrimaryPort); open_colocated_stun binds the other
// three (primary IP with the alternate port, alternate IP with the primary
// port, alternate IP and port) as sockets 1-3 of the host's ports. The host
// hands the machine whatever arrives there, and the datagrams of its own
// socket that are STUN (looks_like_stun: its own protocol must never start
// with two zero bits, as the rendezvous's 'N' 'R' does not).
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/result.hpp"
#include "io/udp_ports.hpp"
#include "stun/server_machine.hpp"

namespace natpunch::io {

// A STUN message starts with two zero bits and is at least 20 bytes long.
inline bool looks_like_stun(std::span<const std::uint8_t> datagram) {
  return datagram.size() >= 20 && (datagram[0] & 0xC0) == 0;
}

// `ports` has socket `base` bound at config.primary; config.alternate must
// be set (port 0: one free on both addresses). Binds sockets base+1 to
// base+3 (the machine's sockets 1-3: its transmits name 0-3, the host adds
// `base`); the error names the address that could not be bound.
Result<std::unique_ptr<stun::ServerMachine>, std::string> open_colocated_stun(UdpPorts& ports,
                                                                              stun::ServerConfig config,
                                                                              SocketId base = 0);

}  // namespace natpunch::io

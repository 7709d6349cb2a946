#include "io/colocated_stun.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include "io/udp_batch.hpp"

namespace natpunch::io {

namespace {

// A UDP port free on `address` now (the kernel's choice), or 0.
std::uint16_t free_port(const IpAddress& address) {
  const int family = address.is_v4() ? AF_INET : AF_INET6;
  const int fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_storage at{};
  const socklen_t length = to_sockaddr(Endpoint{address, 0}, family, at);
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&at), length) == 0) {
    sockaddr_storage bound{};
    socklen_t bound_length = sizeof bound;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length) == 0) port = from_sockaddr(bound).port;
  }
  ::close(fd);
  return port;
}

Result<std::unique_ptr<stun::ServerMachine>, std::string> open_at(UdpPorts& ports, stun::ServerConfig config,
                                                                   SocketId base) {
  auto machine = std::make_unique<stun::ServerMachine>(std::move(config));
  for (SocketId id = 1; id < 4; ++id) {
    const Endpoint at = machine->socket_endpoint(id);
    if (auto bound = ports.bind_fixed(base + id, at); !bound) {
      for (SocketId undo = 1; undo < id; ++undo) ports.release(base + undo);
      return Unexpected{bound.error() + " (STUN; is the address configured on this host and the port free?)"};
    }
  }
  return machine;
}

}  // namespace

Result<std::unique_ptr<stun::ServerMachine>, std::string> open_colocated_stun(UdpPorts& ports,
                                                                              stun::ServerConfig config,
                                                                              SocketId base) {
  if (!config.alternate) return Unexpected{std::string("a STUN server beside the rendezvous needs an alternate address")};
  if (config.alternate->port != 0) return open_at(ports, std::move(config), base);
  // Port 0: a port free on the alternate address, which must then be free
  // on the primary address too; another process may take it in between.
  constexpr int kAttempts = 8;
  Result<std::unique_ptr<stun::ServerMachine>, std::string> last = Unexpected{std::string()};
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto with_port = config;
    with_port.alternate->port = free_port(config.alternate->address);
    if (with_port.alternate->port == 0 || with_port.alternate->port == config.primary.port) continue;
    last = open_at(ports, std::move(with_port), base);
    if (last) return last;
  }
  if (last.error().empty()) return Unexpected{"cannot listen on " + config.alternate->to_string() + " (STUN)"};
  return last;
}

}  // namespace natpunch::io

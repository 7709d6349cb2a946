#include "io/tcp_listener.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/udp_batch.hpp"

namespace natpunch::io {

Result<int, std::string> open_tcp_listener(const Endpoint& at, int backlog) {
  const int family = at.address.is_v4() ? AF_INET : AF_INET6;
  const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unexpected{std::string(std::strerror(errno))};
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_storage address{};
  const socklen_t length = to_sockaddr(at, family, address);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0 || ::listen(fd, backlog) != 0) {
    const int error = errno;
    ::close(fd);
    return Unexpected{std::string(std::strerror(error))};
  }
  return fd;
}

Endpoint local_endpoint_of(int fd) {
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) return {};
  return from_sockaddr(local);
}

Endpoint peer_endpoint_of(int fd) {
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) return {};
  return from_sockaddr(peer);
}

}  // namespace natpunch::io

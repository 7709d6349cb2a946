#pragma once
// A loopback TCP port whose backlog completes every connect and that never
// says a word (nothing accepts): a TLS handshake with it waits for its
// timeout. The tests of a TURN server that never answers.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace natpunch::test_support {

struct SilentTcpPort {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  std::uint16_t port = 0;  // 0: it could not listen
  SilentTcpPort() {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 8) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      return;
    port = ntohs(address.sin_port);
  }
  ~SilentTcpPort() { ::close(fd); }
  SilentTcpPort(const SilentTcpPort&) = delete;
  SilentTcpPort& operator=(const SilentTcpPort&) = delete;
};

}  // namespace natpunch::test_support

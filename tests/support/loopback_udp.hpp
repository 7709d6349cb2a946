#pragma once
// Plain IPv4 UDP sockets for the CLI tests that talk to a real server
// process over loopback (junk and abuse loads): open, address, and the
// "listening on IP:PORT" line servers print when ready.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>

#include "core/endpoint.hpp"
#include "child_process.hpp"

namespace natpunch::test_support {

inline sockaddr_in to_sockaddr_v4(const Endpoint& e) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(e.port);
  sa.sin_addr.s_addr = htonl(e.address.v4_host_order());
  return sa;
}

// A bound IPv4 UDP socket; -1 on failure.
inline int open_udp(const Endpoint& bind_to, bool non_blocking = false) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | (non_blocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  const auto sa = to_sockaddr_v4(bind_to);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

inline Endpoint local_endpoint(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  return Endpoint{IpAddress::v4(ntohl(sa.sin_addr.s_addr)), ntohs(sa.sin_port)};
}

inline bool send_to(int fd, const Endpoint& to, const void* data, std::size_t size, int flags = 0) {
  const auto sa = to_sockaddr_v4(to);
  return sendto(fd, data, size, flags, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) ==
         static_cast<ssize_t>(size);
}

// A loopback UDP port that swallows datagrams (silence, as from a firewall
// that drops UDP): a rendezvous "behind" it gets no answer over UDP.
struct SilentUdpPort {
  int fd = -1;
  std::uint16_t port = 0;
  // `wanted`: that port number (port stays 0 when it is taken); 0: any.
  explicit SilentUdpPort(std::uint16_t wanted = 0) {
    fd = open_udp(Endpoint{IpAddress::v4({127, 0, 0, 1}), wanted});
    if (fd >= 0) port = local_endpoint(fd).port;
  }
  ~SilentUdpPort() {
    if (fd >= 0) close(fd);
  }
  SilentUdpPort(const SilentUdpPort&) = delete;
  SilentUdpPort& operator=(const SilentUdpPort&) = delete;
};

// "listening on 127.0.0.1:PORT (udp...)" -> the endpoint (the first such
// line among the server's first few).
inline std::optional<Endpoint> listening_endpoint(ChildProcess& server,
                                                  std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  for (int i = 0; i < 5; ++i) {
    auto line = server.read_line(timeout);
    if (!line) return std::nullopt;
    const std::string tag = "listening on ";
    if (auto at = line->find(tag); at != std::string::npos) {
      const auto start = at + tag.size();
      return Endpoint::parse(line->substr(start, line->find(' ', start) - start));
    }
  }
  return std::nullopt;
}

}  // namespace natpunch::test_support

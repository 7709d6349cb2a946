#include "io/metrics_endpoint.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string_view>
#include <vector>

#include "io/tcp_listener.hpp"

namespace natpunch::io {

Result<std::unique_ptr<MetricsEndpoint>, std::string> MetricsEndpoint::open(FdWatcher& watcher, const Endpoint& at,
                                                                            std::function<std::string()> body) {
  auto fd = open_tcp_listener(at, 16);
  if (!fd) return Unexpected{"cannot serve metrics on " + at.to_string() + " (tcp): " + fd.error()};
  std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint(watcher, *fd, std::move(body)));
  MetricsEndpoint* self = endpoint.get();
  if (!watcher.watch(*fd, EPOLLIN, [self](std::uint32_t) { self->accept(); })) {
    // The destructor closes the descriptor.
    return Unexpected{"cannot serve metrics on " + at.to_string() + " (tcp): cannot watch the socket"};
  }
  return endpoint;
}

MetricsEndpoint::~MetricsEndpoint() {
  std::vector<int> open;
  for (const auto& [fd, c] : connections_) open.push_back(fd);
  for (int fd : open) close(fd);
  watcher_.unwatch(fd_);
  ::close(fd_);
}

void MetricsEndpoint::accept() {
  for (;;) {
    const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // none waiting (or out of descriptors: the next connection tries again)
    }
    if (connections_.size() >= kMaxConnections ||
        !watcher_.watch(fd, EPOLLIN, [this, fd](std::uint32_t events) { on_ready(fd, events); })) {
      ::close(fd);
      continue;
    }
    connections_.emplace(fd, Connection{Clock::now(), {}, 0});
  }
}

void MetricsEndpoint::on_ready(int fd, std::uint32_t events) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  Connection& c = it->second;
  if (c.response.empty()) {
    std::array<char, 2048> request{};
    const auto n = ::recv(fd, request.data(), request.size(), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n <= 0) {
      close(fd);
      return;
    }
    const std::string_view head(request.data(), static_cast<std::size_t>(n));
    std::string body, status = "200 OK";
    if (head.rfind("GET ", 0) == 0) {
      body = body_();
    } else {
      status = "405 Method Not Allowed";
      body = "only GET\n";
    }
    c.response = "HTTP/1.0 " + status + "\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  } else if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) {
    return;
  }
  while (c.written < c.response.size()) {
    const auto n = ::send(fd, c.response.data() + c.written, c.response.size() - c.written, MSG_NOSIGNAL);
    if (n > 0) {
      c.written += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      watcher_.rewatch(fd, EPOLLOUT);  // the rest when the client reads
      return;
    }
    break;  // broken: close
  }
  close(fd);
}

void MetricsEndpoint::close(int fd) {
  connections_.erase(fd);
  watcher_.unwatch(fd);
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

void MetricsEndpoint::tick(TimePoint now) {
  std::vector<int> old;
  for (const auto& [fd, c] : connections_)
    if (now - c.opened >= kTimeout) old.push_back(fd);
  for (int fd : old) close(fd);
}

}  // namespace natpunch::io

#include "io/udp_ports.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "io/resolver.hpp"

namespace natpunch::io {

namespace {

std::string describe_errno(int error) { return std::strerror(error); }

}  // namespace

Result<std::unique_ptr<UdpPorts>, std::string> UdpPorts::open(const Endpoint& bind, const UdpPortsOptions& options) {
  std::unique_ptr<UdpPorts> ports(new UdpPorts(bind, options));
  if (ports->epoll_fd_ < 0) return Unexpected{"cannot create an epoll set: " + describe_errno(errno)};
  if (auto error = ports->bind_socket(0, bind); !error.empty()) return Unexpected{error};
  return ports;
}

UdpPorts::UdpPorts(const Endpoint& bind, const UdpPortsOptions& options)
    : bind_(bind),
      options_(options),
      epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
      batch_(std::max<std::size_t>(options.batch, 1), std::max<std::size_t>(options.max_datagram, 1)) {}

UdpPorts::~UdpPorts() {
  for (const auto& s : sockets_)
    if (s.fd >= 0) ::close(s.fd);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

std::string UdpPorts::bind_socket(SocketId id, const Endpoint& at) {
  const int family = at.address.is_v4() ? AF_INET : AF_INET6;
  const int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return "cannot open a UDP socket: " + describe_errno(errno);
  sockaddr_storage address{};
  const socklen_t length = to_sockaddr(at, family, address);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
    const int error = errno;
    ::close(fd);
    return "cannot bind UDP socket to " + at.to_string() + ": " + describe_errno(error);
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u32 = id;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    const int error = errno;
    ::close(fd);
    return "cannot watch a UDP socket: " + describe_errno(error);
  }
  if (sockets_.size() <= id) sockets_.resize(std::size_t{id} + 1);
  sockets_[id] = Socket{fd, family};
  return {};
}

const UdpPorts::Socket* UdpPorts::socket(SocketId id) {
  if (id < sockets_.size() && sockets_[id].fd >= 0) return &sockets_[id];
  if (auto error = bind_socket(id, Endpoint{bind_.address, 0}); !error.empty()) {
    note_error(error);
    return nullptr;
  }
  return &sockets_[id];
}

void UdpPorts::note_error(std::string error) {
  if (!first_error_) first_error_ = std::move(error);
}

bool UdpPorts::send(const Transmit& t) {
  if (socket(t.socket) == nullptr) return false;
  queued_.push_back(t);
  if (queued_.size() >= std::max<std::size_t>(options_.batch, 1) * 8) flush();
  return true;
}

void UdpPorts::flush() {
  const std::size_t n = queued_.size();
  if (n == 0) return;
  headers_.assign(n, mmsghdr{});
  iov_.resize(n);
  addresses_.resize(n);
  std::size_t begin = 0;
  while (begin < n) {
    // One sendmmsg() per run of datagrams from the same socket.
    const SocketId id = queued_[begin].socket;
    const Socket& s = sockets_[id];
    std::size_t end = begin;
    while (end < n && queued_[end].socket == id) {
      Transmit& t = queued_[end];
      iov_[end] = iovec{t.bytes.data(), t.bytes.size()};
      headers_[end].msg_hdr.msg_iov = &iov_[end];
      headers_[end].msg_hdr.msg_iovlen = 1;
      headers_[end].msg_hdr.msg_name = &addresses_[end];
      headers_[end].msg_hdr.msg_namelen = to_sockaddr(t.to, s.family, addresses_[end]);
      ++end;
    }
    std::size_t at = begin;
    while (at < end) {
      if (headers_[at].msg_hdr.msg_namelen == 0) {  // no address of the socket's family
        note_error("cannot send to " + queued_[at].to.to_string() + ": address family not supported by the socket");
        ++at;
        continue;
      }
      std::size_t run = at;
      while (run < end && headers_[run].msg_hdr.msg_namelen != 0) ++run;
      const int sent = ::sendmmsg(s.fd, headers_.data() + at, static_cast<unsigned>(run - at), 0);
      if (sent > 0) {
        at += static_cast<std::size_t>(sent);
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;  // buffer full: the rest is lost, as on a busy link
      note_error("cannot send to " + queued_[at].to.to_string() + ": " + describe_errno(errno));
      ++at;  // skip the refused one, try the rest
    }
    begin = end;
  }
  queued_.clear();
}

std::optional<Arrival> UdpPorts::receive(TimePoint until) {
  for (;;) {
    while (batch_next_ < batch_.size()) {
      const std::size_t i = batch_next_++;
      if (batch_.truncated(i)) {
        ++truncated_;
        continue;
      }
      return Arrival{batch_socket_, batch_.from(i), batch_.bytes(i)};
    }
    if (!ready_.empty()) {
      batch_socket_ = ready_.back();
      ready_.pop_back();
      batch_next_ = 0;
      batch_.receive(sockets_[batch_socket_].fd);
      continue;
    }
    const auto now = Clock::now();
    const Duration wait = until > now ? until - now : Duration::zero();
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
    timespec timeout{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    std::array<epoll_event, 16> events{};
    const int n = ::epoll_pwait2(epoll_fd_, events.data(), static_cast<int>(events.size()), &timeout, nullptr);
    if (n < 0 && errno != EINTR) {
      note_error("cannot wait for datagrams: " + describe_errno(errno));
      return std::nullopt;
    }
    for (int i = 0; i < n; ++i) ready_.push_back(events[static_cast<std::size_t>(i)].data.u32);
    if (n <= 0 && Clock::now() >= until) return std::nullopt;
  }
}

Endpoint UdpPorts::bound_endpoint(SocketId id) const {
  if (id >= sockets_.size() || sockets_[id].fd < 0) return {};
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  if (::getsockname(sockets_[id].fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) return {};
  return from_sockaddr(local);
}

Endpoint UdpPorts::local_endpoint_towards(const Endpoint& remote) const {
  auto bound = bound_endpoint(0);
  if (!bound.address.is_unspecified()) return bound;
  if (auto address = local_address_towards(remote)) bound.address = *address;
  return bound;
}

}  // namespace natpunch::io

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

// Marks the stop signal's descriptor in epoll events (machine sockets use
// their SocketId, which never reaches this).
constexpr std::uint32_t kWakeTag = 0xffffffffU;
// Marks a watch() slot in epoll events (sockets and the wake tag leave the
// upper half zero).
constexpr std::uint64_t kWatchFlag = std::uint64_t{1} << 32;

SendError send_error_of(int error) {
  switch (error) {
    case EMSGSIZE: return SendError::TooBig;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case ENOBUFS: return SendError::BufferFull;
    default: return SendError::Refused;
  }
}

}  // namespace

Result<std::unique_ptr<UdpPorts>, std::string> UdpPorts::open(const Endpoint& bind, const UdpPortsOptions& options) {
  return open(std::vector<Endpoint>{bind}, options);
}

Result<std::unique_ptr<UdpPorts>, std::string> UdpPorts::open(const std::vector<Endpoint>& binds,
                                                              const UdpPortsOptions& options) {
  if (binds.empty()) return Unexpected{std::string("no address to bind")};
  std::unique_ptr<UdpPorts> ports(new UdpPorts(binds.front(), options));
  if (ports->epoll_fd_ < 0) return Unexpected{"cannot create an epoll set: " + describe_errno(errno)};
  for (std::size_t i = 0; i < binds.size(); ++i)
    if (auto error = ports->bind_socket(static_cast<SocketId>(i), binds[i]); !error.empty()) return Unexpected{error};
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

Result<Endpoint, std::string> UdpPorts::bind_fixed(SocketId id, const Endpoint& at) {
  if (is_bound(id) || id == kWakeTag) return Unexpected{"socket " + std::to_string(id) + " is in use"};
  if (auto error = bind_socket(id, at); !error.empty()) return Unexpected{error};
  return bound_endpoint(id);
}

bool UdpPorts::watch(int fd, std::uint32_t events, Callback on_ready) {
  if (fd < 0 || watch_slot_.contains(fd)) return false;
  std::uint32_t slot = 0;
  if (!free_watches_.empty()) {
    slot = free_watches_.back();
    free_watches_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(watches_.size());
    watches_.emplace_back();
  }
  epoll_event event{};
  event.events = events;
  event.data.u64 = kWatchFlag | slot;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    free_watches_.push_back(slot);
    return false;
  }
  watches_[slot] = Watch{fd, std::move(on_ready)};
  watch_slot_.emplace(fd, slot);
  return true;
}

void UdpPorts::rewatch(int fd, std::uint32_t events) {
  const auto it = watch_slot_.find(fd);
  if (it == watch_slot_.end()) return;
  epoll_event event{};
  event.events = events;
  event.data.u64 = kWatchFlag | it->second;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event);
}

void UdpPorts::unwatch(int fd) {
  const auto it = watch_slot_.find(fd);
  if (it == watch_slot_.end()) return;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  // The callback may be the one running now: it is destroyed when the slot
  // is reused, after the wait whose events may still name the slot.
  watches_[it->second].fd = -1;
  freed_this_wait_.push_back(it->second);
  watch_slot_.erase(it);
}

std::string UdpPorts::bind_socket(SocketId id, const Endpoint& at, const SocketOptions* options) {
  const int family = at.address.is_v4() ? AF_INET : AF_INET6;
  const int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return "cannot open a UDP socket: " + describe_errno(errno);
  const auto fail = [&](const std::string& what) {
    const int error = errno;
    ::close(fd);
    return what + ": " + describe_errno(error);
  };
  if (family == AF_INET6 && options_.v6_only) {
    const int one = 1;
    if (::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) return fail("cannot make a UDP socket IPv6-only");
  }
  const auto bind_to = [&](const Endpoint& e) {
    sockaddr_storage address{};
    const socklen_t length = to_sockaddr(e, family, address);
    return ::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) == 0;
  };
  // A port the machine chose that is taken: any will do (it hears which).
  if (!bind_to(at) && !(options && at.port != 0 && errno == EADDRINUSE && bind_to(Endpoint{at.address, 0})))
    return fail("cannot bind UDP socket to " + at.to_string());
  if (options && options->fragmentation != Fragmentation::KernelDefault) {
    const bool v4 = family == AF_INET;
    const bool df = options->fragmentation == Fragmentation::DontFragment;
    const int value = df ? (v4 ? IP_PMTUDISC_PROBE : IPV6_PMTUDISC_PROBE) : (v4 ? IP_PMTUDISC_DONT : IPV6_PMTUDISC_DONT);
    const int rc = v4 ? ::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &value, sizeof value)
                      : ::setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &value, sizeof value);
    if (rc != 0) return fail("cannot set the don't-fragment policy");
  }
  if (options_.socket_buffer > 0) {
    // Best effort: the kernel caps it at net.core.[rw]mem_max.
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &options_.socket_buffer, sizeof options_.socket_buffer);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &options_.socket_buffer, sizeof options_.socket_buffer);
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u32 = id;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) return fail("cannot watch a UDP socket");
  if (sockets_.size() <= id) sockets_.resize(std::size_t{id} + 1);
  sockets_[id] = Socket{fd, family};
  return {};
}

const UdpPorts::Socket* UdpPorts::socket(SocketId id) {
  if (is_bound(id)) return &sockets_[id];
  if (id == kWakeTag) return nullptr;
  if (auto error = bind_socket(id, Endpoint{bind_.address, 0}); !error.empty()) {
    note_error(error);
    return nullptr;
  }
  return &sockets_[id];
}

std::optional<Endpoint> UdpPorts::bind(SocketId id, const SocketOptions& options) {
  if (is_bound(id)) return bound_endpoint(id);
  if (id == kWakeTag) return std::nullopt;
  if (auto error = bind_socket(id, Endpoint{bind_.address, options.port}, &options); !error.empty()) {
    note_error(error);
    return std::nullopt;
  }
  return bound_endpoint(id);
}

void UdpPorts::release(SocketId id) {
  if (!is_bound(id)) return;
  ::close(sockets_[id].fd);  // leaves the epoll set with it
  sockets_[id].fd = -1;
  if (batch_socket_ == id) batch_next_ = batch_.size();  // its unread datagrams go with it
  std::erase(ready_, id);
}

void UdpPorts::note_error(std::string error) {
  if (!first_error_) first_error_ = std::move(error);
}

void UdpPorts::fail(const Transmit& t, SendError error) {
  if (failures_.size() < kMaxFailures) failures_.push_back(SendFailure{t.socket, t.to, error});
}

std::optional<SendFailure> UdpPorts::poll_send_failure() {
  if (failures_.empty()) return std::nullopt;
  SendFailure f = failures_.front();
  failures_.pop_front();
  return f;
}

void UdpPorts::wake_on(int fd) {
  if (fd < 0) return;
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u32 = kWakeTag;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) note_error("cannot watch the stop signal: " + describe_errno(errno));
}

bool UdpPorts::send(const Transmit& t) { return send(Transmit(t)); }

bool UdpPorts::send(Transmit&& t) {
  if (socket(t.socket) == nullptr) {
    fail(t, SendError::NoSocket);
    return false;
  }
  queued_.push_back(std::move(t));
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
        fail(queued_[at], SendError::Refused);
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
      const int error = errno;
      if (error == EAGAIN || error == EWOULDBLOCK) {
        // Buffer full: the rest is lost, as on a busy link -- but never left, which the machine hears.
        note_error("cannot send to " + queued_[at].to.to_string() + ": " + describe_errno(error));
        for (; at < end; ++at) fail(queued_[at], SendError::BufferFull);
        break;
      }
      note_error("cannot send to " + queued_[at].to.to_string() + ": " + describe_errno(error));
      fail(queued_[at], send_error_of(error));
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
      // A full batch: more is likely waiting; read it before the next wait
      // (after the other ready sockets, so none starves), a few times: the
      // wait also serves the watched descriptors and the stop signal.
      if (batch_.receive(sockets_[batch_socket_].fd) == batch_.capacity() && rereads_ < kMaxRereads) {
        ++rereads_;
        ready_.insert(ready_.begin(), batch_socket_);
      }
      continue;
    }
    const auto now = Clock::now();
    const Duration wait = until > now ? until - now : Duration::zero();
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
    timespec timeout{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    flush();  // nothing held back across a wait
    rereads_ = 0;
    free_watches_.insert(free_watches_.end(), freed_this_wait_.begin(), freed_this_wait_.end());
    freed_this_wait_.clear();
    std::array<epoll_event, 64> events{};
    const int n = ::epoll_pwait2(epoll_fd_, events.data(), static_cast<int>(events.size()), &timeout, nullptr);
    if (n < 0 && errno != EINTR) {
      note_error("cannot wait for datagrams: " + describe_errno(errno));
      return std::nullopt;
    }
    bool watched = false;
    for (int i = 0; i < n; ++i) {
      const epoll_event& e = events[static_cast<std::size_t>(i)];
      if ((e.data.u64 & kWatchFlag) != 0) {
        const auto slot = static_cast<std::uint32_t>(e.data.u64);
        // Gone since this wait began (an earlier callback unwatched it): skip.
        if (watches_[slot].fd < 0) continue;
        watched = true;
        watches_[slot].on_ready(e.events);
        continue;
      }
      const auto id = static_cast<std::uint32_t>(e.data.u64);
      if (id == kWakeTag)
        woken_ = true;
      else if (is_bound(id))
        ready_.push_back(id);
    }
    if (woken_) {  // the stop signal: let the loop look at its predicate (the datagrams wait)
      woken_ = false;
      return std::nullopt;
    }
    // A watched descriptor's callback ran: the loop sends what it made the machine say.
    if (watched) return std::nullopt;
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

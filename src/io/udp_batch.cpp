#include "io/udp_batch.hpp"

#include <netinet/in.h>
#include <netinet/udp.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace natpunch::io {

socklen_t to_sockaddr(const Endpoint& e, int socket_family, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof(sockaddr_in6));
  if (socket_family == AF_INET) {
    if (!e.address.is_v4()) return 0;
    auto* a = reinterpret_cast<sockaddr_in*>(&out);
    a->sin_family = AF_INET;
    a->sin_port = htons(e.port);
    std::memcpy(&a->sin_addr, e.address.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* a = reinterpret_cast<sockaddr_in6*>(&out);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(e.port);
  if (e.address.is_v4()) {
    // ::ffff:a.b.c.d
    a->sin6_addr.s6_addr[10] = 0xff;
    a->sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&a->sin6_addr.s6_addr[12], e.address.data(), 4);
  } else {
    std::memcpy(&a->sin6_addr, e.address.data(), 16);
  }
  return sizeof(sockaddr_in6);
}

Endpoint from_sockaddr(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    std::array<std::uint8_t, 4> b{};
    std::memcpy(b.data(), &a->sin_addr, 4);
    return {IpAddress::v4(b), ntohs(a->sin_port)};
  }
  if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    const std::uint8_t* s = a->sin6_addr.s6_addr;
    static constexpr std::array<std::uint8_t, 12> kMappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(s, kMappedPrefix.data(), kMappedPrefix.size()) == 0)
      return {IpAddress::v4({s[12], s[13], s[14], s[15]}), ntohs(a->sin6_port)};
    std::array<std::uint8_t, 16> b{};
    std::memcpy(b.data(), s, 16);
    return {IpAddress::v6(b), ntohs(a->sin6_port)};
  }
  return {};
}

int socket_family(int fd) {
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) return AF_INET;
  return local.ss_family == AF_INET6 ? AF_INET6 : AF_INET;
}

SendBatch::SendBatch(std::size_t capacity, std::size_t max_payload)
    : max_payload_(max_payload),
      headers_(capacity),
      iov_(capacity),
      addresses_(capacity),
      payload_(capacity * max_payload) {
  for (std::size_t i = 0; i < capacity; ++i) {
    iov_[i].iov_base = payload_.data() + i * max_payload_;
    headers_[i].msg_hdr.msg_iov = &iov_[i];
    headers_[i].msg_hdr.msg_iovlen = 1;
    headers_[i].msg_hdr.msg_name = &addresses_[i];
  }
}

bool SendBatch::put(std::size_t slot, const Endpoint& to, std::span<const std::uint8_t> bytes, int family) {
  if (slot >= headers_.size() || bytes.size() > max_payload_) return false;
  const socklen_t length = to_sockaddr(to, family, addresses_[slot]);
  if (length == 0) return false;
  std::memcpy(iov_[slot].iov_base, bytes.data(), bytes.size());
  iov_[slot].iov_len = bytes.size();
  headers_[slot].msg_hdr.msg_namelen = length;
  return true;
}

bool SendBatch::add(const Endpoint& to, std::span<const std::uint8_t> bytes, int family) {
  if (full() || !put(size_, to, bytes, family)) return false;
  ++size_;
  return true;
}

bool SendBatch::commit(std::size_t length, const Endpoint& to, int family) {
  if (full() || length > max_payload_) return false;
  const socklen_t address_length = to_sockaddr(to, family, addresses_[size_]);
  if (address_length == 0) return false;
  iov_[size_].iov_len = length;
  headers_[size_].msg_hdr.msg_namelen = address_length;
  ++size_;
  return true;
}

SendBatch::Outcome SendBatch::send(int fd, std::size_t begin, std::size_t end) {
  Outcome out;
  std::size_t next = begin;
  while (next < end) {
    ++out.syscalls;
    const int n = ::sendmmsg(fd, headers_.data() + next, static_cast<unsigned>(end - next), MSG_DONTWAIT);
    if (n > 0) {
      out.sent += static_cast<std::size_t>(n);
      next += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      out.would_block += end - next;
      break;
    }
    // The datagram at `next` was refused (no route, bad address, ...):
    // skip it, as the network would drop it, and send the rest.
    if (out.first_errno == 0) {
      out.first_errno = n < 0 ? errno : EIO;
      out.first_failed = next;
    }
    ++out.failed;
    ++next;
  }
  return out;
}

namespace {
#ifndef UDP_SEGMENT
constexpr int UDP_SEGMENT = 103;
#endif
constexpr std::size_t kControlWords = (CMSG_SPACE(sizeof(std::uint16_t)) + 7) / 8;
}  // namespace

bool SendBatch::same_run(std::size_t a, std::size_t b) const {
  return iov_[a].iov_len == max_payload_ && iov_[b].iov_len == max_payload_ &&
         headers_[a].msg_hdr.msg_namelen == headers_[b].msg_hdr.msg_namelen &&
         std::memcmp(&addresses_[a], &addresses_[b], headers_[a].msg_hdr.msg_namelen) == 0;
}

SendBatch::Outcome SendBatch::send_coalesced(int fd, std::size_t begin, std::size_t end) {
  if (!gso_ok_ || end - begin < 2) return send(fd, begin, end);
  if (merged_.empty()) {
    // First use: sized once, never again.
    merged_.resize(headers_.size());
    merged_iov_.resize(headers_.size());
    merged_control_.resize(headers_.size() * kControlWords);
    merged_count_.resize(headers_.size());
  }
  // Build the merged messages: [first, last) of each run.
  std::size_t messages = 0;
  for (std::size_t first = begin; first < end;) {
    std::size_t last = first + 1;
    while (last < end && last - first < kMaxSegments && same_run(first, last)) ++last;
    mmsghdr& m = merged_[messages];
    m = headers_[first];
    merged_iov_[messages] = iovec{iov_[first].iov_base, iov_[first].iov_len * (last - first)};
    m.msg_hdr.msg_iov = &merged_iov_[messages];
    m.msg_hdr.msg_iovlen = 1;
    m.msg_hdr.msg_control = nullptr;
    m.msg_hdr.msg_controllen = 0;
    if (last - first > 1) {
      auto* control = merged_control_.data() + messages * kControlWords;
      m.msg_hdr.msg_control = control;
      m.msg_hdr.msg_controllen = CMSG_SPACE(sizeof(std::uint16_t));
      cmsghdr* c = CMSG_FIRSTHDR(&m.msg_hdr);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
      const auto segment = static_cast<std::uint16_t>(max_payload_);
      std::memcpy(CMSG_DATA(c), &segment, sizeof segment);
    }
    merged_count_[messages] = static_cast<std::uint32_t>(last - first);
    ++messages;
    first = last;
  }
  Outcome out;
  std::size_t next = 0;      // merged message
  std::size_t slot = begin;  // its first slot
  while (next < messages) {
    ++out.syscalls;
    const int n = ::sendmmsg(fd, merged_.data() + next, static_cast<unsigned>(messages - next), MSG_DONTWAIT);
    if (n > 0) {
      for (int k = 0; k < n; ++k) {
        out.sent += merged_count_[next];
        slot += merged_count_[next];
        ++next;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      out.would_block += end - slot;
      break;
    }
    if (merged_count_[next] > 1 && n < 0 && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT)) {
      // No GSO here: send the rest one datagram per message, now and later.
      gso_ok_ = false;
      const Outcome rest = send(fd, slot, end);
      out.sent += rest.sent;
      out.failed += rest.failed;
      out.would_block += rest.would_block;
      out.syscalls += rest.syscalls;
      if (out.first_errno == 0 && rest.first_errno != 0) {
        out.first_errno = rest.first_errno;
        out.first_failed = rest.first_failed;
      }
      return out;
    }
    // Refused (no route, ...): the whole run shares its fate.
    if (out.first_errno == 0) {
      out.first_errno = n < 0 ? errno : EIO;
      out.first_failed = slot;
    }
    out.failed += merged_count_[next];
    slot += merged_count_[next];
    ++next;
  }
  return out;
}

RecvBatch::RecvBatch(std::size_t capacity, std::size_t slot_size)
    : slot_size_(slot_size),
      stride_(slot_size + 64),
      headers_(capacity),
      iov_(capacity),
      addresses_(capacity),
      buffers_(capacity * stride_) {
  for (std::size_t i = 0; i < capacity; ++i) {
    iov_[i].iov_base = buffers_.data() + i * stride_;
    iov_[i].iov_len = slot_size_;
    headers_[i].msg_hdr.msg_iov = &iov_[i];
    headers_[i].msg_hdr.msg_iovlen = 1;
    headers_[i].msg_hdr.msg_name = &addresses_[i];
  }
}

std::size_t RecvBatch::receive(int fd, std::size_t max) {
  const std::size_t want = max == 0 ? headers_.size() : std::min(max, headers_.size());
  for (std::size_t i = 0; i < want; ++i) {
    headers_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    headers_[i].msg_hdr.msg_flags = 0;
  }
  size_ = 0;
  for (int attempt = 0; attempt < 4; ++attempt) {
    const int n = ::recvmmsg(fd, headers_.data(), static_cast<unsigned>(want), MSG_DONTWAIT, nullptr);
    if (n >= 0) {
      size_ = static_cast<std::size_t>(n);
      return size_;
    }
    // ICMP errors (ECONNREFUSED, ...) surface on the next receive: they
    // are loss, not an end; retry a few times for the data behind them.
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
  }
  return 0;
}

}  // namespace natpunch::io

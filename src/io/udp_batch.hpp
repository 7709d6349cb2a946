#pragma once
// Batched UDP syscalls: sendmmsg()/recvmmsg() over storage the batch owns,
// so a hot loop that fills and flushes a batch allocates nothing after
// construction. Used by the probe engine (io/punch_driver.*), the STUN
// server (io/stun_server_runner.*) and the benchmarks in bench/.
//
// Why batches: on loopback (and on most NICs) one datagram costs the kernel
// ~1-3 us, of which the syscall entry/exit is a noticeable slice; one
// sendmmsg() for 32 datagrams pays that entry once.
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/endpoint.hpp"

namespace natpunch::io {

// `e` as a sockaddr for a socket of `socket_family` (AF_INET or AF_INET6):
// an IPv4 endpoint on an IPv6 socket becomes the v4-mapped address, so a
// dual-stack socket reaches IPv4 peers. Returns the address length (0 when
// `e` cannot be expressed in that family).
socklen_t to_sockaddr(const Endpoint& e, int socket_family, sockaddr_storage& out);
// The endpoint in `addr`; v4-mapped IPv6 addresses come back as IPv4.
Endpoint from_sockaddr(const sockaddr_storage& addr);
// AF_INET / AF_INET6 of a bound socket (AF_INET when unknown).
int socket_family(int fd);

// Outgoing datagrams for one socket, each to its own destination.
class SendBatch {
 public:
  SendBatch(std::size_t capacity, std::size_t max_payload);
  SendBatch(const SendBatch&) = delete;
  SendBatch& operator=(const SendBatch&) = delete;

  // Copies the datagram in; false when the batch is full, the payload is
  // longer than max_payload, or `to` does not fit `socket_family`.
  bool add(const Endpoint& to, std::span<const std::uint8_t> bytes, int socket_family);

  // Slot access for callers that order a batch themselves (the probe
  // engine groups datagrams by socket): writes slot `slot` (< capacity).
  bool put(std::size_t slot, const Endpoint& to, std::span<const std::uint8_t> bytes, int socket_family);

  // Zero-copy filling (the STUN server writes its response in place): the
  // next free slot's buffer (empty when full), then commit() it.
  std::span<std::uint8_t> next_payload() {
    if (full()) return {};
    return {static_cast<std::uint8_t*>(iov_[size_].iov_base), max_payload_};
  }
  bool commit(std::size_t length, const Endpoint& to, int socket_family);
  std::size_t max_payload() const { return max_payload_; }

  struct Outcome {
    std::size_t sent = 0;         // accepted by the kernel
    std::size_t failed = 0;       // refused (e.g. no route); the rest of the batch was still tried
    std::size_t would_block = 0;  // socket buffer full: dropped like the network would
    std::size_t syscalls = 0;
    int first_errno = 0;
    std::size_t first_failed = 0;  // slot of the first refused datagram
  };
  // sendmmsg() of slots [begin, end) on `fd` until each was accepted or
  // refused. Non-blocking: EAGAIN drops the remainder of the range.
  Outcome send(int fd, std::size_t begin, std::size_t end);
  // send(), but each run of consecutive slots with the same destination and
  // a full-length payload (max_payload bytes) leaves as one UDP GSO message
  // (UDP_SEGMENT, up to kMaxSegments datagrams): the kernel builds one
  // packet and splits it late, so a run of probes to one endpoint costs far
  // less than the same number of separate messages. Needs max_payload
  // contiguous slots, which is how the batch lays them out. If the kernel
  // refuses GSO (before Linux 4.18, or EIO from a device), this batch sends
  // plainly from then on.
  static constexpr std::size_t kMaxSegments = 64;
  Outcome send_coalesced(int fd, std::size_t begin, std::size_t end);

  // send(fd, 0, size()), then empties the batch.
  Outcome flush(int fd) {
    const Outcome out = send(fd, 0, size_);
    size_ = 0;
    return out;
  }
  Endpoint destination(std::size_t slot) const { return from_sockaddr(addresses_[slot]); }

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return headers_.size(); }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ == headers_.size(); }
  void clear() { size_ = 0; }

 private:
  bool same_run(std::size_t a, std::size_t b) const;

  std::size_t max_payload_;
  std::size_t size_ = 0;
  std::vector<mmsghdr> headers_;
  std::vector<iovec> iov_;
  std::vector<sockaddr_storage> addresses_;
  std::vector<std::uint8_t> payload_;
  // send_coalesced(): the merged messages, their GSO control data and how
  // many datagrams each carries.
  bool gso_ok_ = true;
  std::vector<mmsghdr> merged_;
  std::vector<iovec> merged_iov_;
  std::vector<std::uint64_t> merged_control_;  // CMSG_SPACE(2) bytes per message, 8-byte aligned
  std::vector<std::uint32_t> merged_count_;
};

// Incoming datagrams: one recvmmsg() fills up to `capacity` slots of
// `slot_size` bytes. A datagram longer than a slot is reported truncated.
class RecvBatch {
 public:
  RecvBatch(std::size_t capacity, std::size_t slot_size);
  RecvBatch(const RecvBatch&) = delete;
  RecvBatch& operator=(const RecvBatch&) = delete;

  // Non-blocking: returns how many datagrams arrived (0 when none were
  // waiting or on error; an ICMP error queued on the socket counts as none).
  // Previous contents are overwritten. `max` caps the batch (0 = capacity).
  std::size_t receive(int fd, std::size_t max = 0);

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return headers_.size(); }
  std::span<const std::uint8_t> bytes(std::size_t i) const {
    return {buffers_.data() + i * stride_, headers_[i].msg_len};
  }
  bool truncated(std::size_t i) const { return (headers_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0; }
  const sockaddr_storage& source(std::size_t i) const { return addresses_[i]; }
  socklen_t source_length(std::size_t i) const { return headers_[i].msg_hdr.msg_namelen; }
  Endpoint from(std::size_t i) const { return from_sockaddr(addresses_[i]); }

 private:
  std::size_t slot_size_;
  std::size_t stride_;  // slot_size_ plus a cache line, so big slots do not alias in the cache
  std::size_t size_ = 0;
  std::vector<mmsghdr> headers_;
  std::vector<iovec> iov_;
  std::vector<sockaddr_storage> addresses_;
  std::vector<std::uint8_t> buffers_;  // zero-filled up front: resident from the start, no page faults later
};

}  // namespace natpunch::io

#pragma once
// Runs any punch::PunchStrategy on real UDP sockets (the driver loop that
// punch_strategy.hpp describes). Socket 0 is a socket the caller already
// bound — the one that registered at the rendezvous, so its NAT mapping is
// the endpoint the peer was told; sockets 1 .. socket_count()-1 are bound
// on demand (any free port on socket 0's address) the first time the
// strategy sends from them, and listened on from then on.
//
// Datagrams that are not for the strategy (rendezvous traffic on socket 0)
// can be claimed by `intercept` before the strategy sees them. The loop
// wakes at least every `max_wait` to ask `should_stop` (Ctrl-C), so a stop
// never waits for a long deadline.
//
// The probe engine (issue 7): everything the strategy has due is pulled
// in one go (up to send_batch datagrams, one clock read), grouped by
// socket and sent with one sendmmsg() per socket, runs to one endpoint as
// UDP GSO messages (udp_gso); all sockets sit in one epoll set and are
// read with recvmmsg(). The extra sockets are plain non-blocking
// descriptors the driver owns (no asio reactor watching them).
//
// Busy mode (uncapped blasting from many sockets, the birthday attack at
// full speed): a socket with any waiter on it -- an epoll entry -- pays a
// wake-up on every datagram it sends (sock_wfree -> write-space callback
// under the wait-queue lock), ~5 % of the per-datagram kernel cost on
// loopback. So while flushes are big (at least kBusyPerSocket datagrams per
// socket) the extra sockets leave the epoll set and each wake-up reads
// every one of them with one non-blocking recvmmsg() instead (a few
// hundred cheap syscalls per flush of thousands of datagrams); they rejoin
// the set before the loop would sleep and when run() ends, and epoll
// reports at once what arrived meanwhile. Socket 0 never leaves.
//
// Receiving is bounded per wake-up (kMaxReceivePerWake datagrams) and
// never blocks while something is due, so a flood of inbound datagrams
// cannot stall sending. Datagrams read in
// a batch but not yet handed out stay queued in the driver: after run()
// ends, receive_until() returns them first. An optional token
// bucket (max_send_rate / send_burst) caps the aggregate rate over all
// sockets; without it the strategy's own schedule paces the probes. After
// construction the send and receive paths allocate nothing (sockets are
// bound and registered on first use, outside the per-packet path).
#include <sys/epoll.h>

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/send_rate_limiter.hpp"
#include "io/udp_batch.hpp"
#include "io/udp_client.hpp"
#include "punch/punch_strategy.hpp"

namespace natpunch::io {

struct PunchProgress {
  Duration elapsed{};  // since the strategy's start (negative while waiting for it)
  std::uint64_t probes_sent = 0;
  std::uint32_t sockets_open = 0;
};

struct PunchDriverOptions {
  // Polled once per wake-up; true ends run() with interrupted set.
  std::function<bool()> should_stop;
  // Sees every datagram first; returns true when it consumed it.
  std::function<bool(std::uint32_t socket, const Endpoint& from, std::span<const std::uint8_t> bytes)> intercept;
  // Called once per wake-up (at least every max_wait): lets another machine
  // on socket 0 (the rendezvous client's refreshes) keep its timers.
  std::function<void()> on_wake;
  std::function<void(const PunchProgress&)> on_progress;
  Duration progress_interval = milliseconds(500);
  Duration max_wait = milliseconds(50);
  // Cap on datagrams/s over all sockets (token bucket on the monotonic
  // clock); 0 = no cap. send_burst: most datagrams sent back to back after
  // an idle gap (also the largest batch the cap lets through at once).
  double max_send_rate = 0;
  std::uint32_t send_burst = 256;
  // Most datagrams pulled from the strategy and sent per flush (1 ..
  // PunchDriver::kMaxSendBatch): bigger batches mean fewer syscalls per
  // socket when many sockets share a batch (8,192 from 256 sockets: 32
  // per sendmmsg()). Storage is sized once: ~340 bytes per slot.
  std::uint32_t send_batch = 8192;
  // Busy mode (see above); off: the extra sockets stay in the epoll set.
  bool busy_poll = true;
  // Runs of probes from one socket to one endpoint (hole punch, the hard
  // side of "one hard side") leave as UDP GSO messages (UDP_SEGMENT): one
  // trip through the kernel's send path per run. Falls back to plain
  // sendmmsg() where the kernel refuses it.
  bool udp_gso = true;
};

// What the driver did, for benchmarks and diagnostics.
struct PunchDriverStats {
  std::uint64_t datagrams_sent = 0;     // accepted by the kernel
  std::uint64_t send_failed = 0;        // refused by the kernel (no route, ...) or no socket
  std::uint64_t send_would_block = 0;   // socket buffer full: dropped
  std::uint64_t send_syscalls = 0;      // sendmmsg() calls
  std::uint64_t datagrams_received = 0;
  std::uint64_t receive_syscalls = 0;   // recvmmsg() calls
  std::uint64_t busy_entries = 0;       // times the extra sockets left the epoll set
  std::uint64_t truncated_dropped = 0;  // longer than kReceiveSlot
};

struct PunchRun {
  punch::PunchResult result;
  bool interrupted = false;
  std::optional<std::string> first_error;  // first bind/send failure (treated like loss)
};

class PunchDriver {
 public:
  static constexpr std::size_t kMaxSendBatch = 16384;     // largest PunchDriverOptions::send_batch
  static constexpr std::size_t kBusyPerSocket = 16;       // datagrams per socket in one flush that start busy mode
  static constexpr Duration kBusySleep = milliseconds(1);  // longest sleep that keeps busy mode
  static constexpr std::size_t kReceiveBatch = 32;        // datagrams per recvmmsg()
  static constexpr std::size_t kReceiveSlot = 4096;       // longest datagram received (rendezvous: 1400)
  static constexpr std::size_t kMaxReceivePerWake = 256;  // then sending gets its turn again
  static constexpr std::uint32_t kWakeupToken = 0xffffffffU;  // the epoll tag of watch_wakeup()'s descriptor
  static constexpr std::uint32_t kReadableToken = 0xfffffffeU;  // watch_readable()'s

  // `socket0` must outlive the driver.
  PunchDriver(UdpClient& socket0, PunchDriverOptions options);
  ~PunchDriver();
  PunchDriver(const PunchDriver&) = delete;
  PunchDriver& operator=(const PunchDriver&) = delete;

  // Drives `strategy` (whose first probe is due at `start`) until done()
  // or should_stop. The strategy stays usable afterwards: pump() keeps
  // answering a peer that missed our last handshake message.
  PunchRun run(punch::PunchStrategy& strategy, TimePoint start);

  // Feeds one datagram to `strategy` and sends what it answers.
  void pump(punch::PunchStrategy& strategy, std::uint32_t socket, const Endpoint& from,
            std::span<const std::uint8_t> bytes);
  // Sends every datagram the strategy has due now (at most send_batch,
  // and no more than the rate cap allows).
  void flush(punch::PunchStrategy& strategy) { flush_from(strategy); }
  // The same for any machine of the contract (core/transmit.hpp): the
  // whole peer session keeps the batched fast path while it punches.
  template <class Machine>
  void flush_from(Machine& machine) {
    // One clock read per batch: the machine hands out everything due by
    // then (a strategy's schedule keeps the average rate even when we are late).
    const auto now = Clock::now();
    const std::size_t allowance = flush_allowance(now);
    std::size_t count = 0;
    while (count < allowance) {
      auto t = machine.poll_transmit(now);
      if (!t) break;
      pending_[count++] = std::move(*t);
    }
    finish_flush(count);
  }

  // A socket of the caller's with a fixed number outside the strategy's
  // range (a session's IPv6 socket beside its IPv4 ones): read with the
  // others (receive_until says `id`), sent on one datagram at a time (it
  // carries a few checks, never a blast). The driver closes it.
  bool adopt_socket(std::uint32_t id, int fd);

  // A descriptor (an eventfd) whose readability ends a receive_until()
  // wait at once (it returns nullopt); the driver reads it empty. Lets
  // another thread wake a loop that sleeps in receive_until().
  void watch_wakeup(int fd);
  // Another descriptor (a TURN link's socket) whose readability ends a
  // receive_until() wait (nullopt); the caller reads it, and unwatches it
  // before closing it or once it reported end of stream.
  void watch_readable(int fd);
  void unwatch(int fd);

  // Socket `index` (bound by now: the strategy used it), for poll(): its
  // descriptor stays valid while the driver lives.
  struct SocketHandle {
    int fd = -1;
    int native_handle() const { return fd; }
  };
  SocketHandle socket(std::uint32_t index) const { return {fds_.at(index)}; }
  std::uint32_t sockets_open() const { return static_cast<std::uint32_t>(fds_.size()); }

  // Waits until `deadline` for a datagram on any open socket; nullopt on
  // timeout. The bytes stay valid until the next call (of this or run()).
  struct Received {
    std::uint32_t socket = 0;
    Endpoint from;
    std::span<const std::uint8_t> bytes;
  };
  std::optional<Received> receive_until(TimePoint deadline);
  bool send(std::uint32_t socket, const Endpoint& to, std::span<const std::uint8_t> bytes);

  const PunchDriverStats& stats() const { return stats_; }
  // The first bind/send failure so far (treated like loss), for a warning.
  const std::optional<std::string>& first_error() const { return first_error_; }

 private:
  bool ensure_socket(std::uint32_t index);
  struct Adopted {
    std::uint32_t id;
    int fd;
    int family;
  };
  const Adopted* adopted(std::uint32_t id) const;
  int fd_of(std::uint32_t socket) const;
  int family_of(std::uint32_t socket) const;
  bool register_socket(std::uint32_t index);
  void enter_busy();  // extra sockets out of the epoll set
  void leave_busy();  // and back in
  std::size_t flush_allowance(TimePoint now);
  void finish_flush(std::size_t count);
  void send_pending(std::size_t count);
  void receive_batch(std::uint32_t socket);  // one recvmmsg() on `socket` into received_
  void note_send_error(const Endpoint& to, int error);
  // When the loop may sleep until: `wake`, or later while the rate cap has no token.
  TimePoint wait_until(const std::optional<TimePoint>& deadline, TimePoint now);

  UdpClient& socket0_;
  PunchDriverOptions options_;
  std::vector<int> fds_;                           // socket i's descriptor; i >= 1 owned here
  std::vector<int> families_;                      // socket i's AF_INET / AF_INET6
  std::vector<Adopted> adopted_;                   // adopt_socket
  std::optional<std::string> first_error_;
  std::optional<SendRateLimiter> limiter_;
  std::uint64_t min_batch_ = 1;  // tokens to wait for when the cap holds the strategy back
  PunchDriverStats stats_;

  // Send path: pulled datagrams, then the same grouped by socket.
  std::vector<Transmit> pending_;
  SendBatch batch_;
  std::vector<std::uint32_t> per_socket_;  // counting sort scratch, one entry per socket
  std::vector<std::uint32_t> touched_;     // sockets with datagrams in this batch, in first-seen order

  // Receive path: the epoll set, the ready list of the last wait (consumed
  // round-robin, one recvmmsg per ready socket in turn, so one busy socket
  // cannot starve the rest) and the current batch.
  int epoll_fd_ = -1;
  std::array<epoll_event, 64> ready_{};
  std::size_t ready_count_ = 0;
  std::size_t ready_next_ = 0;
  bool busy_ = false;
  std::uint32_t scan_next_ = 0;  // busy mode: next extra socket to read, up to scan_end_
  std::uint32_t scan_end_ = 0;
  int wakeup_fd_ = -1;
  bool woken_ = false;
  RecvBatch received_;
  std::uint32_t received_socket_ = 0;
  std::size_t received_next_ = 0;
};

}  // namespace natpunch::io

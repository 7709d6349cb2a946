#include "io/punch_driver.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace natpunch::io {

namespace {

// epoll_pwait2 takes a timespec, so a 2.98 ms probe interval is not rounded
// to whole milliseconds as epoll_wait's timeout would be.
int wait_ready(int epoll_fd, epoll_event* events, int max, Duration timeout) {
  if (timeout < Duration::zero()) timeout = Duration::zero();
  timeout = std::min<Duration>(timeout, seconds(60));
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
  const timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  const int n = ::epoll_pwait2(epoll_fd, events, max, &ts, nullptr);
  if (n >= 0 || errno != ENOSYS) return n;
  // Kernels before 5.11: millisecond timeout, rounded up so we never spin.
  return ::epoll_wait(epoll_fd, events, max, static_cast<int>((ns + 999'999) / 1'000'000));
}

}  // namespace

PunchDriver::PunchDriver(UdpClient& socket0, PunchDriverOptions options)
    : socket0_(socket0),
      options_(std::move(options)),
      pending_(std::clamp<std::size_t>(options_.send_batch, 1, kMaxSendBatch)),
      batch_(pending_.size(), sizeof(wire::ProbeBytes)),
      received_(kReceiveBatch, kReceiveSlot) {
  touched_.reserve(pending_.size());
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) first_error_ = std::string("epoll_create1: ") + std::strerror(errno);
  fds_.push_back(socket0_.native_handle());
  families_.push_back(socket_family(fds_.back()));
  per_socket_.push_back(0);
  register_socket(0);
  if (options_.max_send_rate > 0) {
    limiter_.emplace(options_.max_send_rate, std::max<std::uint32_t>(options_.send_burst, 1), Clock::now());
    min_batch_ = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(options_.max_send_rate * 100e-6), 1,
                                           limiter_->burst());
  }
}

PunchDriver::~PunchDriver() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  for (std::size_t i = 1; i < fds_.size(); ++i) ::close(fds_[i]);
  for (const auto& a : adopted_) ::close(a.fd);
}

const PunchDriver::Adopted* PunchDriver::adopted(std::uint32_t id) const {
  for (const auto& a : adopted_)
    if (a.id == id) return &a;
  return nullptr;
}

int PunchDriver::fd_of(std::uint32_t socket) const {
  if (const auto* a = adopted(socket)) return a->fd;
  return fds_[socket];
}

int PunchDriver::family_of(std::uint32_t socket) const {
  if (const auto* a = adopted(socket)) return a->family;
  return families_[socket];
}

bool PunchDriver::adopt_socket(std::uint32_t id, int fd) {
  if (fd < 0 || id < sockets_open() || adopted(id) || id == kWakeupToken || id == kReadableToken) return false;
  adopted_.push_back(Adopted{id, fd, socket_family(fd)});
  if (epoll_fd_ < 0) return false;
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u32 = id;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) == 0) return true;
  if (!first_error_) first_error_ = std::string("epoll_ctl: ") + std::strerror(errno);
  return false;
}

bool PunchDriver::register_socket(std::uint32_t index) {
  if (epoll_fd_ < 0) return false;
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u32 = index;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fds_[index], &event) == 0) return true;
  if (!first_error_) first_error_ = std::string("epoll_ctl: ") + std::strerror(errno);
  return false;
}

void PunchDriver::enter_busy() {
  if (busy_ || epoll_fd_ < 0) return;
  for (std::uint32_t s = 1; s < sockets_open(); ++s) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fds_[s], nullptr);
  busy_ = true;
  ++stats_.busy_entries;
}

void PunchDriver::leave_busy() {
  if (!busy_) return;
  busy_ = false;
  scan_next_ = scan_end_ = 0;
  // epoll_ctl(ADD) checks readiness at once: what arrived meanwhile is reported.
  for (std::uint32_t s = 1; s < sockets_open(); ++s) register_socket(s);
}

bool PunchDriver::ensure_socket(std::uint32_t index) {
  if (adopted(index)) return true;
  while (sockets_open() <= index) {
    // Same address as socket 0 (so the same route and NAT), any free port:
    // each new socket is a new mapping, which is the point.
    // A plain descriptor, not a UdpClient: nothing but this driver watches
    // it (an asio reactor's epoll entry would cost a wake-up per send).
    Endpoint bind = socket0_.bound_endpoint();
    bind.port = 0;
    const int family = families_.front();
    sockaddr_storage address{};
    const socklen_t length = to_sockaddr(bind, family, address);
    const int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || length == 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
      if (!first_error_) first_error_ = "cannot bind a socket on " + bind.to_string() + ": " + std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return false;
    }
    fds_.push_back(fd);
    families_.push_back(family);
    per_socket_.push_back(0);
    if (!busy_) register_socket(sockets_open() - 1);  // busy: read by the scan
  }
  return true;
}

void PunchDriver::note_send_error(const Endpoint& to, int error) {
  if (!first_error_) first_error_ = "cannot send to " + to.to_string() + ": " + std::strerror(error);
}

bool PunchDriver::send(std::uint32_t socket_index, const Endpoint& to, std::span<const std::uint8_t> bytes) {
  if (!ensure_socket(socket_index)) {
    ++stats_.send_failed;
    return false;
  }
  sockaddr_storage address{};
  const socklen_t length = to_sockaddr(to, family_of(socket_index), address);
  if (length == 0) {
    ++stats_.send_failed;
    note_send_error(to, EAFNOSUPPORT);
    return false;
  }
  ++stats_.send_syscalls;
  ssize_t n;
  do {
    n = ::sendto(fd_of(socket_index), bytes.data(), bytes.size(), MSG_DONTWAIT,
                 reinterpret_cast<const sockaddr*>(&address), length);
  } while (n < 0 && errno == EINTR);
  if (n >= 0) {
    ++stats_.datagrams_sent;
    return true;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
    ++stats_.send_would_block;
    return false;
  }
  ++stats_.send_failed;
  note_send_error(to, errno);
  return false;
}

std::size_t PunchDriver::flush_allowance(TimePoint now) {
  std::size_t allowance = pending_.size();
  if (limiter_) allowance = static_cast<std::size_t>(std::min<std::uint64_t>(allowance, limiter_->available(now)));
  return allowance;
}

// Adds `fd` (readable ends a wait) to `epoll_fd` under `token`; the first
// failure goes to `first_error`.
static void watch_fd(int epoll_fd, int fd, std::uint32_t token, std::optional<std::string>& first_error) {
  if (epoll_fd < 0) return;
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u32 = token;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0 && !first_error)
    first_error = std::string("epoll_ctl: ") + std::strerror(errno);
}

void PunchDriver::watch_wakeup(int fd) {
  wakeup_fd_ = fd;
  watch_fd(epoll_fd_, fd, kWakeupToken, first_error_);
}

void PunchDriver::watch_readable(int fd) { watch_fd(epoll_fd_, fd, kReadableToken, first_error_); }

void PunchDriver::unwatch(int fd) {
  if (epoll_fd_ >= 0) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void PunchDriver::finish_flush(std::size_t count) {
  if (limiter_) limiter_->consume(count);
  if (count > 0) send_pending(count);
  // Big flushes from many sockets: stop paying a wake-up per datagram.
  if (options_.busy_poll && !busy_ && sockets_open() > 1 && count >= kBusyPerSocket * sockets_open())
    enter_busy();
}

void PunchDriver::send_pending(std::size_t count) {
  // Counting sort by socket, so each socket's datagrams sit next to each
  // other in the batch and go out in one sendmmsg(); order within a socket
  // is kept.
  constexpr std::uint32_t kNoSocket = UINT32_MAX;
  touched_.clear();
  for (std::size_t i = 0; i < count; ++i) {
    auto& d = pending_[i];
    if (!ensure_socket(d.socket)) {
      ++stats_.send_failed;
      d.socket = kNoSocket;
      continue;
    }
    if (adopted(d.socket)) {  // a few checks: one at a time
      send(d.socket, d.to, d.bytes);
      d.socket = kNoSocket;
      continue;
    }
    if (d.to.address.is_v6() && families_[d.socket] == AF_INET) {
      ++stats_.send_failed;
      note_send_error(d.to, EAFNOSUPPORT);
      d.socket = kNoSocket;
      continue;
    }
    if (d.bytes.size() > batch_.max_payload()) {  // not a probe: no batch slot fits it
      send(d.socket, d.to, d.bytes);
      d.socket = kNoSocket;
      continue;
    }
    if (per_socket_[d.socket]++ == 0) touched_.push_back(d.socket);
  }
  std::uint32_t offset = 0;
  for (const auto s : touched_) {
    const std::uint32_t n = per_socket_[s];
    per_socket_[s] = offset;  // from here on: the next free slot of socket s
    offset += n;
  }
  for (std::size_t i = 0; i < count; ++i) {
    const auto& d = pending_[i];
    if (d.socket == kNoSocket) continue;
    const std::uint32_t slot = per_socket_[d.socket]++;
    batch_.put(slot, d.to, d.bytes, families_[d.socket]);  // cannot fail: size and family checked
  }
  std::uint32_t begin = 0;
  for (const auto s : touched_) {
    const std::uint32_t end = per_socket_[s];
    const auto out = options_.udp_gso ? batch_.send_coalesced(fds_[s], begin, end) : batch_.send(fds_[s], begin, end);
    stats_.datagrams_sent += out.sent;
    stats_.send_failed += out.failed;
    stats_.send_would_block += out.would_block;
    stats_.send_syscalls += out.syscalls;
    if (out.first_errno != 0) note_send_error(batch_.destination(out.first_failed), out.first_errno);
    per_socket_[s] = 0;
    begin = end;
  }
}

void PunchDriver::pump(punch::PunchStrategy& strategy, std::uint32_t socket_index, const Endpoint& from,
                       std::span<const std::uint8_t> bytes) {
  strategy.on_datagram(Clock::now(), socket_index, from, bytes);
  flush(strategy);
}

void PunchDriver::receive_batch(std::uint32_t socket) {
  ++stats_.receive_syscalls;
  stats_.datagrams_received += received_.receive(fd_of(socket));
  received_socket_ = socket;
  received_next_ = 0;
}

std::optional<PunchDriver::Received> PunchDriver::receive_until(TimePoint deadline) {
  bool waited = false;
  for (;;) {
    // 1. What is left of the current batch.
    while (received_next_ < received_.size()) {
      const std::size_t i = received_next_++;
      if (received_.truncated(i)) {
        ++stats_.truncated_dropped;
        continue;
      }
      return Received{received_socket_, received_.from(i), received_.bytes(i)};
    }
    // 2. One batch from the next ready socket of the last wait.
    if (ready_next_ < ready_count_) {
      const std::uint32_t index = ready_[ready_next_++].data.u32;
      if (index == kWakeupToken) {
        std::uint64_t drained = 0;
        [[maybe_unused]] const auto n = ::read(wakeup_fd_, &drained, sizeof drained);
        woken_ = true;
      } else if (index == kReadableToken) {
        woken_ = true;  // the caller reads it
      } else {
        receive_batch(index);
      }
      continue;
    }
    // 2b. Busy mode: one batch from each extra socket in turn.
    if (scan_next_ < scan_end_) {
      receive_batch(scan_next_++);
      continue;
    }
    // Another thread asked the loop to look at its work.
    if (woken_) {
      woken_ = false;
      return std::nullopt;
    }
    // 3. Ask the kernel which sockets are readable, waiting at most until
    // the deadline (always once, even when it has passed).
    const auto now = Clock::now();
    if (waited && now >= deadline) return std::nullopt;
    if (epoll_fd_ < 0) return std::nullopt;
    // Busy mode sleeps only briefly (only socket 0 could wake it); a longer
    // wait puts every socket back into the epoll set first.
    if (busy_ && deadline - now > kBusySleep) leave_busy();
    const int n = wait_ready(epoll_fd_, ready_.data(), static_cast<int>(ready_.size()), deadline - now);
    waited = true;
    ready_count_ = n > 0 ? static_cast<std::size_t>(n) : 0;
    ready_next_ = 0;
    if (busy_) {
      scan_next_ = 1;
      scan_end_ = sockets_open();
      continue;
    }
    if (ready_count_ == 0 && Clock::now() >= deadline) return std::nullopt;
  }
}

TimePoint PunchDriver::wait_until(const std::optional<TimePoint>& deadline, TimePoint now) {
  TimePoint wake = std::min(deadline.value_or(now + options_.max_wait), now + options_.max_wait);
  // Something is due but the cap let (almost) nothing out: sleep until a
  // batch's worth of tokens is there -- at high rates a batch of 100 us of
  // traffic, so a capped engine still pays one syscall per batch, not per
  // datagram; at the thesis's 336/s a batch is one token, so the cap stays
  // precise to the tick. (Otherwise wake would be "now" and the loop spin.)
  if (limiter_ && wake <= now && limiter_->available(now) < min_batch_)
    wake = std::min(limiter_->when_available(min_batch_), now + options_.max_wait);
  return wake;
}

PunchRun PunchDriver::run(punch::PunchStrategy& strategy, TimePoint start) {
  PunchRun out;
  TimePoint next_progress = Clock::now();
  for (;;) {
    if (options_.should_stop && options_.should_stop()) {
      out.interrupted = true;
      break;
    }
    if (options_.on_wake) options_.on_wake();
    flush(strategy);
    if (strategy.done()) break;
    auto now = Clock::now();
    if (options_.on_progress && now >= next_progress) {
      options_.on_progress(PunchProgress{now - start, strategy.result().probes_sent, sockets_open()});
      next_progress = now + options_.progress_interval;
    }
    const auto deadline = strategy.next_deadline();
    // Bounded, and only the first receive may wait: with probes due the
    // wait is zero, so inbound traffic is read between send batches but
    // never holds them up.
    //
    // Only while the strategy runs: the datagram that completes the
    // handshake ends the batch, so what the peer sends right after it (its
    // first session data) stays queued here for the caller's
    // receive_until() instead of reaching a strategy that would drop it.
    TimePoint wake = wait_until(deadline, now);
    const bool running = strategy.result().outcome == punch::PunchOutcome::Running;
    const std::size_t limit = running ? kMaxReceivePerWake : 1;
    for (std::size_t k = 0; k < limit; ++k) {
      auto d = receive_until(wake);
      if (!d) break;
      if (!options_.intercept || !options_.intercept(d->socket, d->from, d->bytes))
        strategy.on_datagram(Clock::now(), d->socket, d->from, d->bytes);
      wake = TimePoint{};
      if (strategy.result().outcome != punch::PunchOutcome::Running) break;
    }
    now = Clock::now();
    if (deadline && now >= *deadline) strategy.on_timer(now);
  }
  leave_busy();  // receive_until() may sleep from here on
  out.result = strategy.result();
  out.first_error = first_error_;
  return out;
}

}  // namespace natpunch::io

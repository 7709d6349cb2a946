#include "io/turn_link.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/udp_batch.hpp"

namespace natpunch::io {
namespace {

std::string errno_text(int error) { return std::strerror(error); }

std::string describe_server(const std::string& label, turn::Transport transport, const Endpoint& server) {
  return label + " " + server.to_string() + " over " + std::string(turn::to_string(transport));
}

// ppoll with a deadline; the remaining time is rounded up, so a wait never
// ends before `deadline`.
int poll_until(pollfd& descriptor, TimePoint deadline) {
  const auto now = Clock::now();
  const auto left = deadline > now ? deadline - now : Duration::zero();
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
  timespec timeout{static_cast<time_t>(nanos / 1'000'000'000), static_cast<long>(nanos % 1'000'000'000)};
  return ppoll(&descriptor, 1, &timeout, nullptr);
}

// poll_until in slices of TurnLink::kStopPollInterval, asking `should_stop`
// between them (and after a signal): -2 once it says stop.
int poll_until_or_stopped(pollfd& descriptor, TimePoint deadline, const std::function<bool()>& should_stop) {
  if (!should_stop) return poll_until(descriptor, deadline);
  for (;;) {
    if (should_stop()) return -2;
    const auto now = Clock::now();
    if (now >= deadline) return 0;
    const int ready = poll_until(descriptor, std::min(deadline, now + TurnLink::kStopPollInterval));
    if (ready != 0 && !(ready < 0 && errno == EINTR)) return ready;
  }
}

std::string whole_ms(Duration d) { return std::to_string(std::chrono::duration_cast<milliseconds>(d).count()); }

}  // namespace

TurnLink::TurnLink(turn::Transport transport, const Endpoint& server, int fd, std::string label)
    : transport_(transport), server_(server), label_(std::move(label)), fd_(fd) {}

std::string TurnLink::where() const { return describe_server(label_, transport_, server_); }

TurnLink::~TurnLink() {
  if (tls_ && tls_->handshake_done()) {
    // Best effort close_notify; the server deletes the allocation with the
    // connection either way.
    tls_->shutdown();
    std::vector<std::uint8_t> ignored;
    tls_->pump(ignored);
    tls_->take_ciphertext(out_);
    std::string error;
    write_out(error);
  }
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<TurnLink>, std::string> TurnLink::open(const TurnLinkOptions& options) {
  auto started = start(options, Clock::now());
  if (!started) return started;
  TurnLink& link = **started;
  for (;;) {
    switch (link.advance(Clock::now())) {
      case State::kReady:
        return started;
      case State::kFailed:
        return Unexpected{link.failure()};
      case State::kConnecting:
      case State::kHandshaking:
        break;
    }
    pollfd descriptor{link.fd_, static_cast<short>(POLLIN | (link.wants_writable() ? POLLOUT : 0)), 0};
    const int ready = poll_until_or_stopped(descriptor, link.deadline(), options.should_stop);
    if (ready == -2) return Unexpected{std::string(kInterrupted)};
    if (ready < 0 && errno != EINTR) return Unexpected{"cannot connect to " + link.where() + ": " + errno_text(errno)};
    // Ready, a signal or the deadline: advance() tells which.
  }
}

Result<std::unique_ptr<TurnLink>, std::string> TurnLink::start(const TurnLinkOptions& options, TimePoint now) {
  const bool stream = turn::is_stream(options.transport);
  const int family = options.server.address.is_v4() ? AF_INET : AF_INET6;
  const std::string name = describe_server(options.label, options.transport, options.server);
  const int fd = socket(family, (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unexpected{"cannot open a socket for " + name + ": " + errno_text(errno)};
  std::unique_ptr<TurnLink> link(new TurnLink(options.transport, options.server, fd, options.label));

  if (options.local) {
    sockaddr_storage local{};
    const socklen_t length = to_sockaddr(*options.local, family, local);
    if (length == 0 || bind(fd, reinterpret_cast<const sockaddr*>(&local), length) != 0)
      return Unexpected{"cannot bind " + options.local->to_string() + " for " + name + ": " +
                        (length == 0 ? std::string("address family differs from the server's") : errno_text(errno))};
  }
  if (!stream) return link;

  const int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);  // requests are small and waited for
  if (options.transport == turn::Transport::kTls) {
    auto session = TlsClientSession::create(options.tls);
    if (!session) return Unexpected{"TLS with " + name + ": " + session.error()};
    link->tls_ = std::move(*session);
  }
  link->connect_timeout_ = options.connect_timeout;
  link->deadline_ = now + options.connect_timeout;  // the connect and the handshake together
  link->state_ = State::kConnecting;
  sockaddr_storage server{};
  const socklen_t length = to_sockaddr(options.server, family, server);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&server), length) != 0 && errno != EINPROGRESS)
    return Unexpected{"cannot connect to " + name + ": " + errno_text(errno)};
  return link;
}

TurnLink::State TurnLink::fail(std::string error) {
  failure_ = std::move(error);
  state_ = State::kFailed;
  closed_ = true;
  return state_;
}

TurnLink::State TurnLink::advance(TimePoint now) {
  if (state_ == State::kConnecting) {
    pollfd descriptor{fd_, POLLOUT, 0};
    const int ready = ::poll(&descriptor, 1, 0);
    if (ready < 0 && errno != EINTR) return fail("cannot connect to " + where() + ": " + errno_text(errno));
    if (ready > 0) {
      int error = 0;
      socklen_t size = sizeof error;
      if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
      if (error != 0) return fail("cannot connect to " + where() + ": " + errno_text(error));
      state_ = tls_ ? State::kHandshaking : State::kReady;
    } else if (now >= deadline_) {
      return fail("cannot connect to " + where() + ": no answer within " + whole_ms(connect_timeout_) + " ms");
    }
  }
  if (state_ == State::kHandshaking) {
    std::string error;
    if (tls_step(error)) {
      state_ = State::kReady;
    } else if (!error.empty()) {
      return fail("TLS with " + where() + ": " + error);
    } else if (now >= deadline_) {
      return fail("TLS with " + where() + ": handshake not finished in time (is it a TLS port?)");
    }
  }
  // TCP: what send() queued while connecting.
  if (state_ == State::kReady && !tls_ && turn::is_stream(transport_)) flush();
  return state_;
}

bool TurnLink::tls_step(std::string& error) {
  for (;;) {
    if (!tls_->pump(plain_)) {
      error = tls_->error();
      return false;
    }
    tls_->take_ciphertext(out_);
    if (!write_out(error)) return false;
    if (tls_->handshake_done()) return true;
    const ssize_t got = ::recv(fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    if (got == 0) {
      error = "the server closed the connection during the handshake";
      return false;
    }
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) error = errno_text(errno);
      return false;
    }
    tls_->feed(std::span(buffer_.data(), static_cast<std::size_t>(got)));
  }
}

Endpoint TurnLink::local_endpoint() const {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) return {};
  return from_sockaddr(address);
}

std::string TurnLink::tls_description() const { return tls_ ? tls_->protocol_description() : std::string(); }

void TurnLink::note_error(std::string error) {
  if (!error_) error_ = std::move(error);
}

bool TurnLink::write_out(std::string& error) {
  while (!out_.empty()) {
    const ssize_t written = ::send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL);
    if (written < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      error = "sending to " + where() + " failed: " + errno_text(errno);
      return false;
    }
    out_.erase(out_.begin(), out_.begin() + written);
  }
  return true;
}

bool TurnLink::send(const Transmit& transmit) {
  if (closed_) return false;
  const std::span<const std::uint8_t> bytes = transmit.bytes;
  // Not ready yet: held (TLS holds the plaintext until its handshake is
  // done), within a bound; more is lost like a datagram.
  if (state_ != State::kReady) {
    if (held_ + bytes.size() > kMaxPendingBytes) return false;
    held_ += bytes.size();
  }
  if (!turn::is_stream(transport_)) {
    // To the transmit's destination: a relay ranking probes other servers
    // from this socket before the allocation is made on the nearest.
    const Endpoint& destination = transmit.to.port != 0 ? transmit.to : server_;
    sockaddr_storage to{};
    const socklen_t length = to_sockaddr(destination, socket_family(fd_), to);
    for (;;) {
      if (::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&to), length) >= 0) return true;
      if (errno == EINTR) continue;
      // A full socket buffer drops the datagram, like a congested link.
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return true;
      note_error("sending to " + describe_server(label_, transport_, destination) + " failed: " + errno_text(errno));
      return false;
    }
  }
  if (tls_) {
    tls_->write(bytes);
    if (!tls_->pump(plain_)) {
      note_error("TLS with " + where() + ": " + tls_->error());
      closed_ = true;
      return false;
    }
    tls_->take_ciphertext(out_);
  } else {
    out_.insert(out_.end(), bytes.begin(), bytes.end());
  }
  return true;
}

void TurnLink::flush() {
  if (closed_ || !turn::is_stream(transport_) || state_ != State::kReady) return;
  std::string error;
  if (!write_out(error)) {
    note_error(std::move(error));
    closed_ = true;
  }
}

// What the socket has now, without waiting: a datagram, or a piece of the
// stream (decrypted for TLS). nullopt when nothing (or the stream closed).
std::optional<Arrival> TurnLink::read_available() {
  if (!turn::is_stream(transport_)) {
    sockaddr_storage from{};
    socklen_t length = sizeof from;
    // ICMP errors (ECONNREFUSED) read as nothing: the machine retransmits.
    const ssize_t got = ::recvfrom(fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT,
                                   reinterpret_cast<sockaddr*>(&from), &length);
    if (got < 0) return std::nullopt;
    return Arrival{0, from_sockaddr(from), std::span(buffer_.data(), static_cast<std::size_t>(got))};
  }
  const ssize_t got = ::recv(fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
  if (got == 0) {
    closed_ = true;
    return std::nullopt;
  }
  if (got < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return std::nullopt;
    if (errno != ECONNRESET) note_error("receiving from " + where() + " failed: " + errno_text(errno));
    closed_ = true;
    return std::nullopt;
  }
  const std::span<const std::uint8_t> received(buffer_.data(), static_cast<std::size_t>(got));
  if (!tls_) return Arrival{0, server_, received};
  tls_->feed(received);
  const bool ok = tls_->pump(plain_);
  tls_->take_ciphertext(out_);  // e.g. answers to key updates
  if (!ok) {
    note_error("TLS with " + where() + ": " + tls_->error());
    closed_ = true;
  }
  if (tls_->closed_by_peer()) closed_ = true;
  if (plain_.empty()) return std::nullopt;
  delivered_.swap(plain_);
  plain_.clear();
  return Arrival{0, server_, delivered_};
}

std::optional<Arrival> TurnLink::receive(TimePoint until) {
  if (state_ != State::kReady) return std::nullopt;
  if (!plain_.empty()) {
    delivered_.swap(plain_);
    plain_.clear();
    return Arrival{0, server_, delivered_};
  }
  for (;;) {
    if (closed_) return std::nullopt;
    if (auto arrival = read_available()) return arrival;
    if (closed_) return std::nullopt;
    pollfd descriptor{fd_, static_cast<short>(POLLIN | (out_.empty() ? 0 : POLLOUT)), 0};
    const int ready = poll_until(descriptor, until);
    if (ready < 0 && errno != EINTR) {
      note_error(errno_text(errno));
      return std::nullopt;
    }
    if (ready <= 0) return std::nullopt;  // time is up, or a signal: the loop looks at its stop predicate
    if ((descriptor.revents & POLLOUT) != 0) flush();
    if ((descriptor.revents & (POLLIN | POLLHUP | POLLERR)) == 0 && Clock::now() >= until) return std::nullopt;
  }
}

}  // namespace natpunch::io

#include "io/rendezvous_streams.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "io/tcp_listener.hpp"
#include "rendezvous/stream_framing.hpp"

namespace natpunch::io {

namespace {
constexpr std::size_t kReadChunk = 16384;
constexpr auto kExpiryEvery = seconds(1);
}  // namespace

struct RendezvousStreams::Connection {
  std::uint64_t id = 0;
  int fd = -1;
  Endpoint peer;
  std::shared_ptr<const TlsServerContext> tls_context;  // kept alive with the session
  std::unique_ptr<TlsSession> tls;
  rendezvous::StreamDeframer deframer;
  std::vector<std::uint8_t> plain;  // TLS plaintext, reused
  std::vector<std::uint8_t> out;    // bytes to write (ciphertext over TLS)
  std::size_t written = 0;          // of `out`, already written
  bool want_write = false;          // watched for EPOLLOUT
};

RendezvousStreams::RendezvousStreams(FdWatcher& watcher, rendezvous::StreamLimits limits, std::uint64_t hash_seed,
                                     Deliver deliver)
    : watcher_(watcher), guard_(limits, hash_seed), deliver_(std::move(deliver)), read_buffer_(kReadChunk) {}

RendezvousStreams::~RendezvousStreams() { stop(); }

void RendezvousStreams::stop() {
  for (auto& l : listeners_) {
    watcher_.unwatch(l->fd);
    ::close(l->fd);
  }
  listeners_.clear();
  std::vector<std::uint64_t> ids;
  for (const auto& [id, c] : connections_) ids.push_back(id);
  for (auto id : ids) close(id, true);
}

Result<Endpoint, std::string> RendezvousStreams::listen(const Endpoint& at, std::shared_ptr<const TlsServerContext> tls) {
  const char* transport = tls ? "tls" : "tcp";
  auto fd = open_tcp_listener(at, SOMAXCONN);
  if (!fd)
    return Unexpected{"cannot listen on " + at.to_string() + " (" + transport + "): " + fd.error() +
                      " (is the address configured on this host and the port free?)"};
  auto listener = std::make_unique<Listener>();
  listener->fd = *fd;
  listener->tls = std::move(tls);
  Listener* l = listener.get();
  if (!watcher_.watch(l->fd, EPOLLIN, [this, l](std::uint32_t) { accept(*l); })) {
    ::close(l->fd);
    return Unexpected{"cannot listen on " + at.to_string() + " (" + transport + "): cannot watch the socket"};
  }
  const Endpoint bound = local_endpoint_of(l->fd);
  listeners_.push_back(std::move(listener));
  return bound;
}

void RendezvousStreams::accept(Listener& listener) {
  for (;;) {
    const int fd = ::accept4(listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        // Out of descriptors or memory: accepting again at once would spin
        // (the listener stays readable); try again at the next tick.
        listener.paused = true;
        watcher_.rewatch(listener.fd, 0);
      }
      return;
    }
    const Endpoint peer = peer_endpoint_of(fd);
    const auto id = peer.address.is_unspecified() ? std::nullopt : guard_.admit(Clock::now(), peer.address);
    if (!id) {
      ::close(fd);  // the table or the address's share is full
      continue;
    }
    const int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    auto c = std::make_unique<Connection>();
    c->id = *id;
    c->fd = fd;
    c->peer = peer;
    if (listener.tls) {
      auto session = TlsSession::accept(*listener.tls);
      if (!session) {
        ++counters_.tls_failures;
        guard_.close(*id);
        ::close(fd);
        continue;
      }
      c->tls = std::move(*session);
      c->tls_context = listener.tls;
    }
    const std::uint64_t key = *id;
    if (!watcher_.watch(fd, EPOLLIN, [this, key](std::uint32_t events) { on_ready(key, events); })) {
      guard_.close(key);
      ::close(fd);
      continue;
    }
    connections_.emplace(key, std::move(c));
  }
}

void RendezvousStreams::on_ready(std::uint64_t id, std::uint32_t events) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  Connection& c = *it->second;
  if ((events & EPOLLOUT) != 0 && !write(c)) return;
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) == 0) return;
  const auto n = ::recv(c.fd, read_buffer_.data(), read_buffer_.size(), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) {  // the peer left, or the connection broke
    close(id, true);
    return;
  }
  on_bytes(c, std::span<const std::uint8_t>(read_buffer_.data(), static_cast<std::size_t>(n)));
}

void RendezvousStreams::on_bytes(Connection& c, std::span<const std::uint8_t> bytes) {
  const std::uint64_t id = c.id;
  if (c.tls) {
    c.tls->feed(bytes);
    c.plain.clear();
    const bool ok = c.tls->pump(c.plain);
    c.tls->take_ciphertext(c.out);  // handshake messages
    if (!write(c)) return;
    if (!ok || c.tls->closed_by_peer()) {
      if (!ok) ++counters_.tls_failures;
      close(id, true);
      return;
    }
    c.deframer.push(c.plain);
  } else {
    c.deframer.push(bytes);
  }
  std::size_t frames = 0;
  while (auto message = c.deframer.next()) {
    ++frames;
    ++counters_.messages_in;
    deliver_(*message, c.peer, id);
    if (!connections_.contains(id)) return;  // the answer's send closed it
  }
  if (c.deframer.error()) {
    ++counters_.framing_errors;
    close(id, true);
    return;
  }
  guard_.on_bytes(Clock::now(), id, frames, c.deframer.buffered() > 0);
}

bool RendezvousStreams::send(std::uint64_t id, std::span<const std::uint8_t> message) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return false;
  Connection& c = *it->second;
  if (c.out.size() - c.written >= kMaxBacklog) {
    ++counters_.dropped_backlog;
    return false;
  }
  frame_.clear();
  if (!rendezvous::append_frame(frame_, message)) return false;
  if (c.tls) {
    c.tls->write(frame_);
    // Everything fed was decrypted when it arrived (on_bytes): no
    // plaintext comes out here, but keep it for the deframer if it does.
    std::vector<std::uint8_t> late;
    if (!c.tls->pump(late)) {
      ++counters_.tls_failures;
      close(id, true);
      return false;
    }
    c.deframer.push(late);
    c.tls->take_ciphertext(c.out);
  } else {
    c.out.insert(c.out.end(), frame_.begin(), frame_.end());
  }
  ++counters_.messages_out;
  return write(c);
}

bool RendezvousStreams::write(Connection& c) {
  while (c.written < c.out.size()) {
    const auto n = ::send(c.fd, c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
    if (n > 0) {
      c.written += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    close(c.id, true);
    return false;
  }
  if (c.written == c.out.size()) {
    c.out.clear();
    c.written = 0;
  } else if (c.written > kMaxBacklog) {
    c.out.erase(c.out.begin(), c.out.begin() + static_cast<std::ptrdiff_t>(c.written));
    c.written = 0;
  }
  const bool pending = !c.out.empty();
  if (pending != c.want_write) {
    c.want_write = pending;
    watcher_.rewatch(c.fd, pending ? EPOLLIN | EPOLLOUT : EPOLLIN);
  }
  return true;
}

void RendezvousStreams::close(std::uint64_t id, bool tell_guard) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  std::unique_ptr<Connection> c = std::move(it->second);
  connections_.erase(it);
  if (tell_guard) guard_.close(id);
  watcher_.unwatch(c->fd);
  ::shutdown(c->fd, SHUT_RDWR);
  ::close(c->fd);
}

void RendezvousStreams::tick(TimePoint now) {
  if (now < next_expiry_) return;
  next_expiry_ = now + kExpiryEvery;
  for (auto id : guard_.expire(now)) close(id, false);
  for (auto& l : listeners_)
    if (l->paused) {
      l->paused = false;
      watcher_.rewatch(l->fd, EPOLLIN);
    }
}

}  // namespace natpunch::io

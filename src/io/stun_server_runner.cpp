#include "io/stun_server_runner.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "io/udp_batch.hpp"

namespace natpunch::io {

namespace {

constexpr std::size_t kBatch = 32;
// A request may be as long as UDP allows (PADDING), and the size rule
// compares the response with the request's true length; slots are zero-
// filled at start, so the memory is resident from the first datagram on.
constexpr std::size_t kMaxDatagram = 65536;
constexpr std::size_t kMaxResponse = 2048;
constexpr int kDrainRounds = 8;  // recvmmsg batches per socket before polling again

// File descriptor owner.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd = std::exchange(o.fd, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

std::string errno_text() { return std::strerror(errno); }

Result<Fd, std::string> bind_socket(const Endpoint& at, bool reuse_port) {
  sockaddr_storage address{};
  const int family = at.address.is_v4() ? AF_INET : AF_INET6;
  const socklen_t length = to_sockaddr(at, family, address);
  Fd s(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.fd < 0) return Unexpected{"socket(): " + errno_text()};
  const int one = 1;
  if (family == AF_INET6) ::setsockopt(s.fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (reuse_port && ::setsockopt(s.fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    return Unexpected{"SO_REUSEPORT: " + errno_text()};
  if (::bind(s.fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) return Unexpected{errno_text()};
  return s;
}

Endpoint bound_endpoint(int fd) {
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length);
  return from_sockaddr(local);
}

// Counters a worker publishes after each batch, for the stats printer.
struct PublishedCounters {
  std::atomic<std::uint64_t> received{0}, answered{0}, errors_sent{0}, dropped_malformed{0},
      dropped_not_request{0}, dropped_rate_limited{0}, dropped_no_room{0};

  void publish(const stun::ServerCounters& c) {
    received.store(c.received, std::memory_order_relaxed);
    answered.store(c.answered, std::memory_order_relaxed);
    errors_sent.store(c.errors_sent, std::memory_order_relaxed);
    dropped_malformed.store(c.dropped_malformed, std::memory_order_relaxed);
    dropped_not_request.store(c.dropped_not_request, std::memory_order_relaxed);
    dropped_rate_limited.store(c.dropped_rate_limited, std::memory_order_relaxed);
    dropped_no_room.store(c.dropped_no_room, std::memory_order_relaxed);
  }
  void add_to(stun::ServerCounters& c) const {
    c.received += received.load(std::memory_order_relaxed);
    c.answered += answered.load(std::memory_order_relaxed);
    c.errors_sent += errors_sent.load(std::memory_order_relaxed);
    c.dropped_malformed += dropped_malformed.load(std::memory_order_relaxed);
    c.dropped_not_request += dropped_not_request.load(std::memory_order_relaxed);
    c.dropped_rate_limited += dropped_rate_limited.load(std::memory_order_relaxed);
    c.dropped_no_room += dropped_no_room.load(std::memory_order_relaxed);
  }
};

// One worker: its sockets (one per SocketIndex in use), its server copy,
// its batches. Everything is allocated before serving starts.
class Worker {
 public:
  Worker(stun::Server& server, std::size_t socket_count)
      : server_(server), received_(kBatch, kMaxDatagram) {
    for (std::size_t i = 0; i < socket_count; ++i) replies_.push_back(std::make_unique<SendBatch>(kBatch, kMaxResponse));
  }

  std::array<Fd, 4> sockets;
  std::array<int, 4> families{};
  std::array<stun::SocketIndex, 4> indices{};
  std::size_t socket_count = 0;
  PublishedCounters published;

  void serve(int stop_fd) {
    std::array<pollfd, 5> fds{};
    for (std::size_t i = 0; i < socket_count; ++i) fds[i] = pollfd{sockets[i].fd, POLLIN, 0};
    fds[socket_count] = pollfd{stop_fd, POLLIN, 0};
    const auto nfds = static_cast<nfds_t>(socket_count + 1);
    for (;;) {
      if (::poll(fds.data(), nfds, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[socket_count].revents != 0) return;
      for (std::size_t i = 0; i < socket_count; ++i)
        if (fds[i].revents != 0) drain(i);
      published.publish(server_.counters());
    }
  }

 private:
  void drain(std::size_t i) {
    for (int round = 0; round < kDrainRounds; ++round) {
      const std::size_t n = received_.receive(sockets[i].fd);
      if (n == 0) return;
      const auto now = Clock::now();
      for (std::size_t k = 0; k < n; ++k) handle(i, k, now);
      for (std::size_t s = 0; s < socket_count; ++s)
        if (!replies_[s]->empty()) replies_[s]->flush(sockets[s].fd);
      if (n < received_.capacity()) return;
    }
  }

  void handle(std::size_t socket, std::size_t k, TimePoint now) {
    // Truncated (longer than any UDP payload): cannot happen on IPv4/IPv6
    // without jumbograms; dropped like the malformed datagram it would be.
    if (received_.truncated(k)) return;
    // The reply goes into the batch of the socket it must leave from;
    // which one that is, handle() says only afterwards, so write into the
    // receiving socket's batch and move it when a CHANGE-REQUEST says
    // otherwise (rare: only with --alt).
    SendBatch& own = *replies_[socket];
    if (own.full()) own.flush(sockets[socket].fd);
    const auto out = own.next_payload();
    const auto reply = server_.handle(now, received_.bytes(k), received_.from(k), indices[socket], out);
    if (!reply) return;
    std::size_t from = socket;
    for (std::size_t s = 0; s < socket_count; ++s)
      if (indices[s] == reply->socket) from = s;
    if (from == socket) {
      own.commit(reply->length, reply->to, families[socket]);
      return;
    }
    SendBatch& other = *replies_[from];
    if (other.full()) other.flush(sockets[from].fd);
    const auto moved = other.next_payload();
    std::memcpy(moved.data(), out.data(), reply->length);
    other.commit(reply->length, reply->to, families[from]);
  }

  stun::Server& server_;
  RecvBatch received_;
  std::vector<std::unique_ptr<SendBatch>> replies_;  // one per socket
};

class Loop {
 public:
  Loop(stun::Server& server, const StunServerRunOptions& options)
      : server_(server), options_(options), signals_(ctx_, SIGINT, SIGTERM), stats_timer_(ctx_) {}

  Result<stun::ServerCounters, std::string> run() {
    std::vector<stun::SocketIndex> indices{stun::SocketIndex::PrimaryIpPrimaryPort};
    if (server_.has_alternate())
      indices = {stun::SocketIndex::PrimaryIpPrimaryPort, stun::SocketIndex::PrimaryIpAltPort,
                 stun::SocketIndex::AltIpPrimaryPort, stun::SocketIndex::AltIpAltPort};
    const unsigned threads = std::max(1u, options_.threads);
    // Several workers: each its own server copy and sockets; the kernel
    // spreads datagrams over them by their 4-tuple (a source port always
    // meets the same worker, the ports of one address meet all of them),
    // and the per-address budgets are one table for all.
    stun::ServerConfig config = server_.config();
    if (threads > 1 && config.rate_limit && !config.shared_address_budgets)
      config.shared_address_budgets =
          std::make_shared<stun::AddressBudgets>(stun::address_budget_config(*config.rate_limit), true);
    if (threads > 1)
      for (unsigned t = 0; t < threads; ++t) copies_.push_back(std::make_unique<stun::Server>(config));
    for (unsigned t = 0; t < threads; ++t)
      workers_.push_back(std::make_unique<Worker>(threads > 1 ? *copies_[t] : server_, indices.size()));

    for (std::size_t i = 0; i < indices.size(); ++i) {
      Endpoint at = server_.socket_endpoint(indices[i]);
      for (unsigned t = 0; t < threads; ++t) {
        auto s = bind_socket(at, threads > 1);
        if (!s)
          return Unexpected{"cannot listen on " + at.to_string() + ": " + s.error() +
                            " (is the address configured on this host and the port free?)"};
        auto& w = *workers_[t];
        w.families[i] = at.address.is_v4() ? AF_INET : AF_INET6;
        w.indices[i] = indices[i];
        w.sockets[i] = std::move(s.value());
        w.socket_count = indices.size();
        // Port 0: the other workers join the port the first one got.
        if (t == 0) at = bound_endpoint(w.sockets[i].fd);
      }
    }
    stop_ = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (stop_.fd < 0) return Unexpected{"eventfd(): " + errno_text()};

    if (options_.on_ready) {
      for (std::size_t i = 0; i < indices.size(); ++i)
        options_.on_ready("listening on " + bound_endpoint(workers_[0]->sockets[i].fd).to_string() + " (udp)");
      if (threads > 1)
        options_.on_ready(std::to_string(threads) +
                          " threads, requests spread by source address and port (per-source limits exact: "
                          "one address budget for all threads)");
    }
    for (auto& w : workers_) threads_.emplace_back([&w, this] { w->serve(stop_.fd); });

    signals_.async_wait([this](const asio::error_code& ec, int) {
      if (!ec) ctx_.stop();
    });
    arm_stats_timer();
    ctx_.run();

    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(stop_.fd, &one, sizeof one);
    for (auto& t : threads_) t.join();
    const auto total = sum();
    if (options_.on_stats) options_.on_stats(total, true);
    return total;
  }

 private:
  stun::ServerCounters sum() const {
    stun::ServerCounters c;
    for (const auto& w : workers_) w->published.add_to(c);
    return c;
  }

  void arm_stats_timer() {
    if (options_.stats_interval.count() <= 0 || !options_.on_stats) return;
    stats_timer_.expires_after(options_.stats_interval);
    stats_timer_.async_wait([this](const asio::error_code& ec) {
      if (ec) return;
      options_.on_stats(sum(), false);
      arm_stats_timer();
    });
  }

  stun::Server& server_;
  const StunServerRunOptions& options_;
  asio::io_context ctx_;
  asio::signal_set signals_;
  asio::steady_timer stats_timer_;
  std::vector<std::unique_ptr<stun::Server>> copies_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  Fd stop_;
};

}  // namespace

Result<stun::ServerCounters, std::string> run_stun_server(stun::Server& server, const StunServerRunOptions& options) {
  Loop loop(server, options);
  return loop.run();
}

}  // namespace natpunch::io

#pragma once
// Datagram ports (io/machine_driver.hpp) over real UDP sockets: machine
// socket 0 is bound when the ports open (so its local address is known
// before the machine runs; a server opens all its sockets so); any other
// socket is bound the first time the machine sends from it, to the same
// address with a port of the kernel's choosing, or as the machine's
// socket_options() ask (SocketPorts: a chosen port, the don't-fragment
// bit), and closed when the machine releases it. One epoll set waits on
// all of them; datagrams come in by recvmmsg() batches and go out by
// sendmmsg() per run of one socket's datagrams, at flush().
//
// Send failures (no route, EMSGSIZE, a full buffer, ...) do not stop
// anything: each is handed to the machine (poll_send_failure(), which
// run_machine passes to on_send_error) and the first is kept for the report.
// The probe engine (io/punch_driver.*) keeps its own, faster path.
//
// Other descriptors (a server's TCP listeners and connections, a wake-up
// pipe, an eventfd) join the same epoll set through watch() (FdWatcher):
// when one is ready receive() calls its callback and returns nullopt, so
// the loop sends what the callback made the machine say.
#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/endpoint.hpp"
#include "core/result.hpp"
#include "core/transmit.hpp"
#include "io/machine_driver.hpp"
#include "io/udp_batch.hpp"

namespace natpunch::io {

// Descriptors other than the datagram ports that a loop waits on beside
// them (io/fd_streams, the metrics endpoint, wake-ups). Level-triggered:
// a callback that leaves data unread is called again on the next wait.
class FdWatcher {
 public:
  using Callback = std::function<void(std::uint32_t epoll_events)>;
  virtual ~FdWatcher() = default;
  // Adds `fd` (EPOLLIN / EPOLLOUT in `events`); false when epoll refuses it.
  virtual bool watch(int fd, std::uint32_t events, Callback on_ready) = 0;
  // Changes what `fd` is watched for.
  virtual void rewatch(int fd, std::uint32_t events) = 0;
  // Stops watching `fd` (before it is closed); its callback is not called again.
  virtual void unwatch(int fd) = 0;
};

struct UdpPortsOptions {
  std::size_t max_datagram = 65507;  // largest datagram received whole; longer ones are dropped
  std::size_t batch = 8;             // datagrams per recvmmsg() / sendmmsg()
  int socket_buffer = 0;             // SO_SNDBUF / SO_RCVBUF of every socket, bytes; 0: the kernel's default
  // IPv6 sockets take IPv6 only (IPV6_V6ONLY). For a set that also binds
  // IPv4 sockets: a dual-stack [::]:P holds 0.0.0.0:P as well, so the
  // IPv4 socket of the same port could not bind, and IPv4 datagrams would
  // arrive on the IPv6 socket as v4-mapped addresses.
  bool v6_only = false;
};

class UdpPorts final : public FdWatcher {
 public:
  // Binds socket 0 to `bind` (port 0: any); the family follows `bind`.
  static Result<std::unique_ptr<UdpPorts>, std::string> open(const Endpoint& bind, const UdpPortsOptions& options = {});
  // Binds socket i to binds[i] (a server's fixed ports; at least one); more
  // sockets, if the machine uses them, go on binds[0]'s address. The error
  // names the endpoint that failed.
  static Result<std::unique_ptr<UdpPorts>, std::string> open(const std::vector<Endpoint>& binds,
                                                             const UdpPortsOptions& options = {});
  ~UdpPorts() override;
  UdpPorts(const UdpPorts&) = delete;
  UdpPorts& operator=(const UdpPorts&) = delete;

  bool send(const Transmit& t);
  bool send(Transmit&& t);  // the same, without copying a large payload
  void flush();
  std::optional<Arrival> receive(TimePoint until);
  // Datagrams of the last recvmmsg() not handed out yet: the loop may hold
  // its sends until they are (io/machine_driver.hpp), so one sendmmsg()
  // answers a whole batch. receive() flushes held sends before it waits.
  bool has_buffered() const { return batch_next_ < batch_.size(); }

  // Binds socket `id` to exactly `at` now (a server's extra fixed port); the
  // error names the address.
  Result<Endpoint, std::string> bind_fixed(SocketId id, const Endpoint& at);

  // SocketPorts (io/machine_driver.hpp).
  bool is_bound(SocketId socket) const { return socket < sockets_.size() && sockets_[socket].fd >= 0; }
  std::optional<Endpoint> bind(SocketId socket, const SocketOptions& options);
  void release(SocketId socket);
  std::optional<SendFailure> poll_send_failure();

  // receive() returns at once (nullopt) while `fd` is readable: a loop's
  // stop signal (io::StopSignals::wake_fd()) ends a long wait.
  void wake_on(int fd);

  // FdWatcher: other descriptors in the same epoll set.
  bool watch(int fd, std::uint32_t events, Callback on_ready) override;
  void rewatch(int fd, std::uint32_t events) override;
  void unwatch(int fd) override;

  // The bound address of a socket (unspecified before it is bound).
  Endpoint bound_endpoint(SocketId socket) const;
  // Socket 0's address as `remote` sees it without a NAT: the bound one, or
  // when bound to the wildcard, the address the kernel uses towards `remote`.
  Endpoint local_endpoint_towards(const Endpoint& remote) const;
  const std::optional<std::string>& first_error() const { return first_error_; }
  std::uint64_t truncated() const { return truncated_; }

 private:
  struct Socket {
    int fd = -1;
    int family = AF_INET;
  };
  UdpPorts(const Endpoint& bind, const UdpPortsOptions& options);
  // The socket's descriptor, binding it now if it is new; nullptr when it cannot be opened.
  const Socket* socket(SocketId id);
  // `options`: the machine's (a taken port falls back to any); nullptr: a fixed bind.
  std::string bind_socket(SocketId id, const Endpoint& at, const SocketOptions* options = nullptr);
  void note_error(std::string error);
  void fail(const Transmit& t, SendError error);

  Endpoint bind_;
  UdpPortsOptions options_;
  int epoll_fd_ = -1;
  std::vector<Socket> sockets_;  // by SocketId; fd -1: not bound yet
  // Sends queued since the last flush.
  std::vector<Transmit> queued_;
  std::vector<mmsghdr> headers_;
  std::vector<iovec> iov_;
  std::vector<sockaddr_storage> addresses_;
  // Receiving: the batch of the socket being drained, then the next ready one.
  RecvBatch batch_;
  SocketId batch_socket_ = 0;
  std::size_t batch_next_ = 0;
  std::vector<SocketId> ready_;
  static constexpr int kMaxRereads = 4;
  int rereads_ = 0;  // full batches read again since the last wait
  std::optional<std::string> first_error_;
  std::uint64_t truncated_ = 0;
  // Failed sends not yet polled (a bounded backlog: ports nobody polls keep
  // only the first kMaxFailures).
  static constexpr std::size_t kMaxFailures = 4096;
  std::deque<SendFailure> failures_;
  bool woken_ = false;  // the wake_on() descriptor was readable in the last wait
  // watch(): callbacks by slot (epoll data: kWatchFlag | slot); a slot is
  // reused only after the wait that may still name it.
  struct Watch {
    int fd = -1;
    Callback on_ready;
  };
  std::deque<Watch> watches_;  // a deque: a callback that adds a watch is not moved while it runs
  std::unordered_map<int, std::uint32_t> watch_slot_;
  std::vector<std::uint32_t> free_watches_;
  std::vector<std::uint32_t> freed_this_wait_;
};

static_assert(SocketPorts<UdpPorts>);

}  // namespace natpunch::io

#pragma once
// A server's counters over HTTP in the Prometheus text format (`natpunch
// rendezvous --metrics IP:PORT`): GET returns body(), anything else 405.
// HTTP/1.0, one request per connection, at most kMaxConnections at once
// (more are closed at once) and each closed kTimeout after it came: keep it
// on a local or management address (it needs no credentials). Non-blocking
// sockets in the server loop's epoll set (io/udp_ports.hpp: FdWatcher).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "core/endpoint.hpp"
#include "core/result.hpp"
#include "core/time.hpp"
#include "io/udp_ports.hpp"

namespace natpunch::io {

class MetricsEndpoint {
 public:
  static constexpr std::size_t kMaxConnections = 8;
  static constexpr Duration kTimeout = seconds(10);

  // Listens on `at` (TCP); the error names the address.
  static Result<std::unique_ptr<MetricsEndpoint>, std::string> open(FdWatcher& watcher, const Endpoint& at,
                                                                    std::function<std::string()> body);
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // Closes connections older than kTimeout.
  void tick(TimePoint now);

 private:
  struct Connection {
    TimePoint opened{};
    std::string response;  // empty until the request came
    std::size_t written = 0;
  };
  MetricsEndpoint(FdWatcher& watcher, int fd, std::function<std::string()> body)
      : watcher_(watcher), fd_(fd), body_(std::move(body)) {}
  void accept();
  void on_ready(int fd, std::uint32_t events);
  void close(int fd);

  FdWatcher& watcher_;
  int fd_;
  std::function<std::string()> body_;
  std::unordered_map<int, Connection> connections_;
};

}  // namespace natpunch::io

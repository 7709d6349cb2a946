#include "io/stun_server_runner.hpp"

#include <sys/epoll.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "io/report_signal.hpp"
#include "io/server_loop.hpp"
#include "io/stop_signals.hpp"
#include "io/udp_ports.hpp"
#include "stun/server_machine.hpp"

namespace natpunch::io {

namespace {

constexpr std::size_t kBatch = 32;
// A request may be as long as UDP allows (PADDING), and the size rule
// compares the response with the request's true length; slots are zero-
// filled at start, so the memory is resident from the first datagram on.
constexpr std::size_t kMaxDatagram = 65536;

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

// One worker: its server copy, its ports, its published counters. Each on
// cache lines of its own: the workers write their counters per datagram.
struct alignas(64) Worker {
  explicit Worker(const stun::ServerConfig& config) : machine(config) {}
  stun::ServerMachine machine;
  std::unique_ptr<UdpPorts> ports;
  alignas(64) PublishedCounters published;

  void publish() { published.publish(machine.server().counters()); }

  // Serves until `stop`; `options` adds the stats of worker 0.
  void serve(ServeOptions options, const StopSignals& stop) {
    // Nothing periodic (the counters are published per batch): an idle
    // worker sleeps until a datagram or the stop signal, with no timer.
    if (stop.wake_fd() >= 0) options.stop_poll = Duration::max();
    // Between batches: a batch's counters at once, none per datagram.
    options.on_tick = [this](TimePoint) {
      if (!ports->has_buffered()) publish();
    };
    serve_until_signal(machine, *ports, ignore_events, options, stop);
    publish();
  }
};

}  // namespace

Result<stun::ServerCounters, std::string> run_stun_server(const stun::ServerConfig& server_config,
                                                          const StunServerRunOptions& options) {
  const unsigned threads = std::max(1u, options.threads);
  // Several workers: each its own server copy and sockets; the kernel
  // spreads datagrams over them by their 4-tuple (a source port always
  // meets the same worker, the ports of one address meet all of them),
  // and the per-address budgets are one table for all.
  stun::ServerConfig config = server_config;
  if (threads > 1 && config.rate_limit && !config.shared_address_budgets)
    config.shared_address_budgets =
        std::make_shared<stun::AddressBudgets>(stun::address_budget_config(*config.rate_limit), true);
  UdpPortsOptions port_options;
  port_options.batch = kBatch;
  port_options.max_datagram = kMaxDatagram;
  port_options.reuse_port = threads > 1;
  port_options.v6_only = true;  // an IPv4 server may share the port
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<Endpoint> binds;
  for (unsigned t = 0; t < threads; ++t) {
    auto& w = *workers.emplace_back(std::make_unique<Worker>(config));
    if (t == 0) binds = w.machine.socket_endpoints();
    auto opened = UdpPorts::open(binds, port_options);
    if (!opened) return Unexpected{opened.error() + " (is the address configured on this host and the port free?)"};
    w.ports = std::move(*opened);
    // Port 0: the other workers join the ports the first one got.
    if (t == 0)
      for (std::size_t i = 0; i < binds.size(); ++i) binds[i] = w.ports->bound_endpoint(static_cast<SocketId>(i));
  }
  // Before the ready line: a signal right after it must stop the server, not kill it.
  StopSignals stop;
  ReportSignal report;
  const auto sum = [&workers] {
    stun::ServerCounters c;
    for (const auto& w : workers) w->published.add_to(c);
    return c;
  };
  std::vector<std::thread> others;
  for (unsigned t = 1; t < threads; ++t)
    others.emplace_back([&w = *workers[t], &stop] { w.serve(ServeOptions{}, stop); });
  // Ready once every worker runs (worker 0 starts below, its sockets already take datagrams).
  if (options.on_ready) {
    for (const auto& at : binds) options.on_ready("listening on " + at.to_string() + " (udp)");
    if (threads > 1)
      options.on_ready(std::to_string(threads) +
                       " threads, requests spread by source address and port (per-source limits exact: "
                       "one address budget for all threads)");
  }

  Worker& first = *workers.front();
  if (options.on_stats)
    first.ports->watch(report.wake_fd(), EPOLLIN, [&](std::uint32_t) {
      if (report.take()) options.on_stats(sum(), false);
    });
  ServeOptions serve;
  serve.stats_interval = options.stats_interval;
  if (options.on_stats)
    serve.on_stats = [&](bool final) {
      if (!final) options.on_stats(sum(), false);  // the final one once every worker stopped
    };
  first.serve(serve, stop);
  for (auto& t : others) t.join();
  if (options.on_stats) first.ports->unwatch(report.wake_fd());
  const auto total = sum();
  if (options.on_stats) options.on_stats(total, true);
  return total;
}

}  // namespace natpunch::io

#pragma once
// Runs the STUN server (stun::ServerMachine) on real UDP sockets until
// SIGINT/SIGTERM, with the one server loop (io/server_loop.hpp over
// io::UdpPorts).
//
// `threads` workers each run that loop over their own ports: one socket
// per (IP, port) pair the config names (SO_REUSEPORT when more than one
// worker), their own server copy, recvmmsg()/sendmmsg() batches of 32, and
// each response written in place into the outgoing batch (the machine
// answers in place, core/transmit.hpp), so serving allocates nothing. The
// kernel spreads datagrams over the workers by their 4-tuple, so the
// thousands of ports of one carrier address are served by all workers, and
// each source port always meets the same one: its own rate limit is one
// worker's table, its address's budget one table all workers share
// (stun/address_budgets.hpp), so the limits are exactly those of one server.
// Worker 0 runs on the calling thread and also prints the statistics (every
// stats_interval, on SIGUSR1, and once at exit, summed over the workers).
#include <chrono>
#include <functional>
#include <string>

#include "core/result.hpp"
#include "stun/server.hpp"

namespace natpunch::io {

struct StunServerRunOptions {
  // Called with the counters (summed over the workers) every stats_interval
  // (0 = never), on SIGUSR1, and once at exit (final).
  std::chrono::seconds stats_interval{0};
  std::function<void(const stun::ServerCounters&, bool final)> on_stats;
  // Called once all sockets are bound, with a line per socket.
  std::function<void(const std::string&)> on_ready;
  // Worker threads (>= 1).
  unsigned threads = 1;
};

// Binds the sockets (error text names the address that failed) and serves
// until a signal arrives. Returns the final counters, summed over workers.
Result<stun::ServerCounters, std::string> run_stun_server(const stun::ServerConfig& config,
                                                          const StunServerRunOptions& options);

}  // namespace natpunch::io

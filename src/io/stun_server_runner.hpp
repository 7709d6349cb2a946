#pragma once
// Runs stun::Server on real UDP sockets until SIGINT/SIGTERM.
//
// `threads` workers each own one socket per (IP, port) pair the config names
// (SO_REUSEPORT when more than one worker) and their own stun::Server copy,
// and serve with recvmmsg()/sendmmsg() batches: a response is written in
// place into the outgoing batch, so serving allocates nothing. The kernel
// spreads datagrams over the workers by their 4-tuple, so the thousands of
// ports of one carrier address are served by all workers, and each source
// port always meets the same one: its own rate limit is one worker's
// table, its address's budget one table all workers share
// (stun/address_budgets.hpp), so the limits are exactly those of one server.
// The main thread only waits for signals and prints the statistics.
#include <functional>
#include <string>

#include "core/result.hpp"
#include "stun/server.hpp"

namespace natpunch::io {

struct StunServerRunOptions {
  // Called with the counters every stats_interval (0 = never) and once at exit.
  std::chrono::seconds stats_interval{0};
  std::function<void(const stun::ServerCounters&, bool final)> on_stats;
  // Called once all sockets are bound, with a line per socket.
  std::function<void(const std::string&)> on_ready;
  // Worker threads (>= 1).
  unsigned threads = 1;
};

// Binds the sockets (error text names the address that failed) and serves
// until a signal arrives. Returns the final counters (summed over workers;
// with several workers `server` only gives the configuration: each worker
// serves with a copy).
Result<stun::ServerCounters, std::string> run_stun_server(stun::Server& server, const StunServerRunOptions& options);

}  // namespace natpunch::io

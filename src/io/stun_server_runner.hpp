#pragma once
// Runs stun::Server on real UDP sockets until SIGINT/SIGTERM.
//
// `threads` workers each own one socket per (IP, port) pair the config names
// (SO_REUSEPORT when more than one worker) and their own stun::Server copy,
// and serve with recvmmsg()/sendmmsg() batches: a response is written in
// place into the outgoing batch, so serving allocates nothing. A classic-BPF
// reuseport program steers each datagram by its *source address* (IPv4: the
// address; IPv6: its /64) to a fixed worker, so every source's requests meet
// the same per-source rate limiter: the limits are exactly those of one
// server. If the kernel refuses the program, the kernel's 4-tuple hash is
// used and a source spreading its requests over many ports could get up to
// `threads` times its rate (reported on the ready line).
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
// `server` is worker 0's and counts only its share).
Result<stun::ServerCounters, std::string> run_stun_server(stun::Server& server, const StunServerRunOptions& options);

}  // namespace natpunch::io

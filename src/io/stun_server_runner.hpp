#pragma once
// Runs stun::Server on real UDP sockets: one per (IP, port) pair the server
// config names, in one Asio event loop, until SIGINT/SIGTERM.
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
};

// Binds the sockets (error text names the address that failed) and serves
// until a signal arrives. Returns the final counters.
Result<stun::ServerCounters, std::string> run_stun_server(stun::Server& server, const StunServerRunOptions& options);

}  // namespace natpunch::io

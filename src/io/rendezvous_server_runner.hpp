#pragma once
// Runs rendezvous::Server on one real UDP socket in an Asio event loop,
// with its expiry timer, until SIGINT/SIGTERM.
#include <chrono>
#include <functional>
#include <string>

#include "core/endpoint.hpp"
#include "core/result.hpp"
#include "rendezvous/server.hpp"

namespace natpunch::io {

struct RendezvousServerRunOptions {
  Endpoint listen;
  // Called with the counters every stats_interval (0 = never) and once at exit.
  std::chrono::seconds stats_interval{0};
  std::function<void(const rendezvous::ServerCounters&, bool final)> on_stats;
  // Called once the socket is bound, with the bound endpoint (port 0 resolved).
  std::function<void(const Endpoint&)> on_ready;
};

// Binds (the error names the address) and serves until a signal arrives.
Result<rendezvous::ServerCounters, std::string> run_rendezvous_server(rendezvous::Server& server,
                                                                      const RendezvousServerRunOptions& options);

}  // namespace natpunch::io

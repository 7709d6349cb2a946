#pragma once
// Runs rendezvous::Server on one real UDP socket in an Asio event loop,
// with its expiry timer, until SIGINT/SIGTERM.
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "core/endpoint.hpp"
#include "core/result.hpp"
#include "rendezvous/server.hpp"
#include "stun/server.hpp"

namespace natpunch::io {

struct RendezvousServerRunOptions {
  Endpoint listen;
  // Called with the counters every stats_interval (0 = never) and once at exit.
  std::chrono::seconds stats_interval{0};
  std::function<void(const rendezvous::ServerCounters&, bool final)> on_stats;
  // Called once the sockets are bound, with the bound endpoint and, with
  // `stun`, the STUN alternate (ports 0 resolved).
  std::function<void(const Endpoint&, const std::optional<Endpoint>& stun_alternate)> on_ready;
  // Set: the listening socket also answers STUN, as the primary of an RFC
  // 5780 server on `listen` and stun->alternate (io/colocated_stun.hpp);
  // stun->primary is replaced by the bound address.
  std::optional<stun::ServerConfig> stun;
};

// Binds (the error names the address) and serves until a signal arrives.
Result<rendezvous::ServerCounters, std::string> run_rendezvous_server(rendezvous::Server& server,
                                                                      const RendezvousServerRunOptions& options);

}  // namespace natpunch::io

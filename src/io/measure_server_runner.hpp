#pragma once
// Runs measure::Server (as measure::ServerMachine) on real UDP sockets --
// the main port plus a range of collection ports on one address -- on the
// one real-time loop (io/server_loop.hpp) until SIGINT/SIGTERM. Delayed
// replies and probes leave at the machine's deadline.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "core/endpoint.hpp"
#include "core/result.hpp"
#include "measure/server.hpp"

namespace natpunch::io {

struct MeasureServerSockets {
  Endpoint main;                   // replies to timeout/MTU requests come from here
  std::uint16_t range_first = 0;   // collection ports [first, last]; 0 = none
  std::uint16_t range_last = 0;
};

struct MeasureServerRunOptions {
  std::chrono::seconds stats_interval{0};
  std::function<void(const measure::ServerCounters&, bool final)> on_stats;
  std::function<void(const std::string&)> on_ready;
};

// Binds every socket (the error names the one that failed), then serves.
// The server is built from `config` with the bound ports; `sink` gets every
// collection packet as it arrives.
Result<measure::ServerCounters, std::string> run_measure_server(const MeasureServerSockets& sockets,
                                                                measure::ServerConfig config,
                                                                measure::CollectionSink sink,
                                                                const MeasureServerRunOptions& options);

}  // namespace natpunch::io

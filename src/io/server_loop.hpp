#pragma once
// Serves a server machine of the contract (measure::ServerMachine,
// rendezvous::ServerMachine, ...) on its UDP ports with the one real-time
// loop (io/machine_driver.hpp: recvmmsg/sendmmsg batches, the machine's
// timers) until SIGINT or SIGTERM, reporting counters every
// `stats_interval` and once at the end. The STUN server keeps its own
// multi-threaded fast path (io/stun_server_runner.*).
#include <algorithm>
#include <chrono>
#include <functional>

#include "io/machine_driver.hpp"
#include "io/stop_signals.hpp"
#include "io/udp_ports.hpp"

namespace natpunch::io {

struct ServeOptions {
  std::chrono::seconds stats_interval{0};  // 0: only at the end
  std::function<void(bool final)> on_stats;
};

template <ProtocolMachine M, class OnEvent>
void serve_until_signal(M& machine, UdpPorts& ports, OnEvent&& on_event, const ServeOptions& options) {
  StopSignals stop;
  ports.wake_on(stop.wake_fd());
  const bool stats = options.on_stats && options.stats_interval.count() > 0;
  TimePoint next_stats = Clock::now() + options.stats_interval;
  DriveOptions drive;
  // The signal wakes the loop at once; this only paces the stats.
  drive.stop_poll = stats ? std::min<Duration>(options.stats_interval, seconds(1)) : seconds(1);
  run_machine(
      machine, ports,
      [&] {
        if (stats && Clock::now() >= next_stats) {
          options.on_stats(false);
          next_stats = std::max(next_stats + options.stats_interval, Clock::now());
        }
        return stop.requested();
      },
      on_event, drive);
  if (options.on_stats) options.on_stats(true);
}

}  // namespace natpunch::io

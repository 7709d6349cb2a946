#pragma once
// Serves a server machine of the contract (measure::ServerMachine,
// rendezvous::ServerMachine, ...) on its UDP ports with the one real-time
// loop (io/machine_driver.hpp: recvmmsg/sendmmsg batches, the machine's
// timers) until SIGINT or SIGTERM, reporting counters every
// `stats_interval` and once at the end. The STUN server keeps its own
// multi-threaded fast path (io/stun_server_runner.*). Servers with more
// than datagrams (the rendezvous: TCP/TLS, a message bus) watch their other
// descriptors through the ports (UdpPorts::watch) and do periodic work in
// on_tick.
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
  // Called at every look at the stop predicate (between batches, and at
  // least every stop_poll): a server's periodic work beside its machine.
  std::function<void(TimePoint now)> on_tick;
  Duration stop_poll = seconds(1);
};

// `stop` is the caller's, installed before it says it is ready (a signal
// that comes right after the ready line must stop it, not kill it): there
// is no overload that installs its own, too late.
template <ProtocolMachine M, class OnEvent>
void serve_until_signal(M& machine, UdpPorts& ports, OnEvent&& on_event, const ServeOptions& options,
                        const StopSignals& stop) {
  ports.wake_on(stop.wake_fd());
  const bool stats = options.on_stats && options.stats_interval.count() > 0;
  TimePoint next_stats = Clock::now() + options.stats_interval;
  DriveOptions drive;
  // The signal wakes the loop at once; this only paces the stats.
  drive.stop_poll = stats ? std::min<Duration>(options.stats_interval, options.stop_poll) : options.stop_poll;
  run_machine(
      machine, ports,
      [&] {
        if (options.on_tick) options.on_tick(Clock::now());
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

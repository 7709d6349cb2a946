#include "io/measure_server_runner.hpp"

#include <vector>

#include "io/server_loop.hpp"
#include "io/stop_signals.hpp"
#include "io/udp_ports.hpp"
#include "measure/server_machine.hpp"

namespace natpunch::io {

Result<measure::ServerCounters, std::string> run_measure_server(const MeasureServerSockets& spec,
                                                                measure::ServerConfig config,
                                                                measure::CollectionSink sink,
                                                                const MeasureServerRunOptions& options) {
  std::vector<Endpoint> endpoints{spec.main};
  if (spec.range_first != 0)
    for (std::uint32_t p = spec.range_first; p <= spec.range_last; ++p)
      if (p != spec.main.port) endpoints.push_back(Endpoint{spec.main.address, static_cast<std::uint16_t>(p)});
  // Size-echo requests are as long as UDP allows and must arrive whole.
  UdpPortsOptions port_options;
  port_options.max_datagram = 65507;
  auto ports = UdpPorts::open(endpoints, port_options);
  if (!ports)
    return Unexpected{ports.error() + " (is the address configured on this host and the port free?)"};
  std::vector<std::uint16_t> bound_ports;
  for (std::size_t i = 0; i < endpoints.size(); ++i)
    bound_ports.push_back((*ports)->bound_endpoint(static_cast<SocketId>(i)).port);
  config.socket_count = endpoints.size();
  measure::ServerMachine machine(std::move(config), bound_ports);
  // Before the ready line: a signal right after it stops the server with
  // its report instead of killing it.
  StopSignals stop;
  if (options.on_ready) {
    options.on_ready("listening on " + (*ports)->bound_endpoint(0).to_string() + " (udp, main port)");
    if (bound_ports.size() > 1)
      options.on_ready("collecting on " + std::to_string(bound_ports.size() - 1) + " more ports " +
                       std::to_string(bound_ports[1]) + "-" + std::to_string(bound_ports.back()));
  }
  ServeOptions serve;
  serve.stats_interval = options.stats_interval;
  if (options.on_stats)
    serve.on_stats = [&](bool final) { options.on_stats(machine.server().counters(), final); };
  serve_until_signal(machine, **ports,
                     [&](const measure::MeasureServerEvent& e) {
                       if (sink) sink(std::get<measure::CollectionRow>(e));
                     },
                     serve, stop);
  return machine.server().counters();
}

}  // namespace natpunch::io

#include "io/nat_probe_runner.hpp"

#include "core/rng.hpp"
#include "io/machine_driver.hpp"
#include "io/os_random.hpp"
#include "io/resolver.hpp"
#include "io/udp_ports.hpp"

namespace natpunch::io {

namespace {

Endpoint wildcard_for(const Endpoint& server) {
  return Endpoint{server.address.is_v4() ? IpAddress() : IpAddress::v6({}), 0};
}

}  // namespace

Result<NatProbeRun, std::string> run_nat_probe(const NatProbeRunOptions& options) {
  // STUN answers are small: a 2 KiB slot holds any honest one.
  auto opened = UdpPorts::open(options.bind.value_or(wildcard_for(options.server)), UdpPortsOptions{2048, 8});
  if (!opened) return Unexpected{opened.error()};
  UdpPorts& ports = **opened;

  NatProbeRun run;
  run.local = ports.local_endpoint_towards(options.server);
  measure::NatProbeConfig config;
  config.server = options.server;
  config.local = run.local;
  config.samples = options.samples;
  config.retransmit = options.retransmit;
  config.test_hairpinning = options.test_hairpinning;
  config.local_port = [&ports](SocketId socket) -> std::optional<std::uint16_t> {
    const Endpoint bound = ports.bound_endpoint(socket);
    if (bound.port == 0) return std::nullopt;
    return bound.port;
  };
  Rng rng(os_random_seed());
  measure::NatProbe probe(config, rng, Clock::now());
  run_machine(
      probe, ports,
      [&] {
        if (probe.done()) return true;
        run.interrupted = options.should_stop && options.should_stop();
        return run.interrupted;
      },
      ignore_events, DriveOptions{milliseconds(50)});
  if (probe.done()) run.result = probe.result();
  run.send_error = ports.first_error();
  return run;
}

Result<LearnedNat, std::string> learn_nat(const NatProbeRunOptions& options, const NatCachePolicy& cache,
                                          bool refresh) {
  IpAddress local;
  if (options.bind && !options.bind->address.is_unspecified()) {
    local = options.bind->address;
  } else {
    auto towards = local_address_towards(options.server);
    if (!towards) return Unexpected{towards.error()};
    local = *towards;
  }
  if (!refresh) {
    if (auto entry = find_nat_knowledge(local, cache, WallClock::now()))
      return LearnedNat{std::move(entry->knowledge), local, true, false, std::nullopt};
  }
  auto run = run_nat_probe(options);
  if (!run) return Unexpected{run.error()};
  LearnedNat learned{std::move(run->result.knowledge), run->local.address, false, run->interrupted, std::nullopt};
  if (run->interrupted) {
    learned.knowledge = nat::NatKnowledge{};
    learned.knowledge.note = "interrupted";
    return learned;
  }
  if (run->send_error && learned.knowledge.no_answer) learned.knowledge.note += "; " + *run->send_error;
  // Nothing answered: nothing to keep (the next run asks again).
  if (!learned.knowledge.no_answer)
    learned.cache_error = remember_nat_knowledge(learned.local, learned.knowledge, cache, WallClock::now());
  return learned;
}

}  // namespace natpunch::io

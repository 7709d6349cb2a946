#pragma once
// Learns the NAT in front of this host (issue 19 item 1) on real sockets:
// the NAT probe machine (measure/nat_probe.hpp) on the one real-time loop
// (io/machine_driver.hpp) over io::UdpPorts -- socket 0 bound first, the
// sample sockets bound on first use, each at a port of the kernel's
// choosing, which the probe asks for to judge port preservation -- with the
// NAT knowledge cache (io/nat_knowledge_cache.hpp) in front of it.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/endpoint.hpp"
#include "core/result.hpp"
#include "io/nat_knowledge_cache.hpp"
#include "measure/nat_probe.hpp"

namespace natpunch::io {

struct NatProbeRunOptions {
  Endpoint server;               // the STUN primary: a rendezvous with --stun-alt, or a stun-server --alt
  std::optional<Endpoint> bind;  // socket 0; nullopt: any address of the server's family, any port
  std::uint32_t samples = 8;
  stun::RetransmitPolicy retransmit{milliseconds(100), 3, 2};
  bool test_hairpinning = true;
  std::function<bool()> should_stop;  // polled; true ends the probe early (interrupted)
};

struct NatProbeRun {
  measure::NatProbeResult result;  // result.knowledge is what was learned
  Endpoint local;                  // socket 0's address towards the server
  bool interrupted = false;
  std::optional<std::string> send_error;  // the first one, when sending failed
};

// Probes now. The error when socket 0 cannot be opened.
Result<NatProbeRun, std::string> run_nat_probe(const NatProbeRunOptions& options);

struct LearnedNat {
  nat::NatKnowledge knowledge;
  IpAddress local;      // the address the knowledge is cached under
  bool cached = false;  // from the cache: nothing was sent
  bool interrupted = false;
  std::optional<std::string> cache_error;  // the on-disk cache could not be written
};

// The cached knowledge for the local address towards options.server when
// there is some younger than cache.ttl (and `refresh` is false); else
// probes and caches what it learned (an unanswered probe is not cached).
Result<LearnedNat, std::string> learn_nat(const NatProbeRunOptions& options, const NatCachePolicy& cache,
                                          bool refresh = false);

}  // namespace natpunch::io

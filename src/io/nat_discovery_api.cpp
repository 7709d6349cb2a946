// Implements the public natpunch/nat_discovery.hpp calls by running the
// sans-IO STUN machines (BindingQuery, NatDiscovery) on the one real-time
// loop (io/machine_driver.hpp) over one real UDP socket (io/udp_ports.hpp).
#include "natpunch/nat_discovery.hpp"

#include "core/endpoint.hpp"
#include "core/host_port.hpp"
#include "core/rng.hpp"
#include "io/os_random.hpp"
#include "io/resolver.hpp"
#include "io/machine_driver.hpp"
#include "io/udp_ports.hpp"
#include "nat/public_vocabulary.hpp"
#include "stun/binding_query.hpp"
#include "stun/discovery.hpp"

namespace natpunch {

namespace {

std::optional<std::string> text(const std::optional<Endpoint>& e) {
  return e ? std::optional<std::string>(e->to_string()) : std::nullopt;
}

struct Prepared {
  std::unique_ptr<io::UdpPorts> socket;
  std::vector<Endpoint> servers;
  stun::RetransmitPolicy policy;
};

Result<Prepared, Error> prepare(const StunOptions& o) {
  // Without a local address, bind the wildcard of the first server's
  // family: an IPv6 server then needs no --local '[::]:0'.
  std::optional<Endpoint> local;
  if (!o.local.empty()) {
    auto parsed = parse_bind_endpoint(o.local);
    if (!parsed) return Unexpected{Error{ErrorKind::kBadInput, "local address: " + parsed.error()}};
    local = *parsed;
  }
  if (o.servers.empty()) return Unexpected{Error{ErrorKind::kBadInput, "no STUN server given"}};
  if (o.rto.count() <= 0 || o.rc < 1 || o.rm < 0)
    return Unexpected{Error{ErrorKind::kBadInput, "retransmission needs rto > 0, rc >= 1, rm >= 0"}};
  Prepared p;
  for (const auto& name : o.servers) {
    auto resolved = io::resolve_udp(name, 3478);
    if (!resolved) return Unexpected{Error{ErrorKind::kBadInput, resolved.error()}};
    for (const auto& e : *resolved) {
      if (!local) local = Endpoint{e.address.is_v4() ? IpAddress() : IpAddress::v6({}), 0};
      if (e.address.family() == local->address.family()) p.servers.push_back(e);
    }
  }
  if (p.servers.empty())
    return Unexpected{Error{ErrorKind::kBadInput, "no server address of the local address family (" +
                                                      local->to_string() +
                                                      "); leave the local address out to follow the server's"}};
  // STUN answers are small: a 2 KiB slot holds any honest one.
  auto socket = io::UdpPorts::open(*local, io::UdpPortsOptions{2048, 8});
  if (!socket) return Unexpected{Error{ErrorKind::kSocket, socket.error()}};
  p.socket = std::move(*socket);
  p.policy = {o.rto, o.rc, o.rm};
  return p;
}

// Runs a client machine until it is done (or has nothing left to wait for);
// the first send error, if any, for the report.
template <class Machine>
std::optional<std::string> drive(io::UdpPorts& socket, Machine& machine, const std::function<bool()>& stop) {
  io::run_machine(
      machine, socket, [&] { return machine.done() || !machine.next_deadline() || (stop && stop()); },
      io::ignore_events);
  return socket.first_error();
}

bool stopped(const StunOptions& o) { return o.stop && o.stop(); }

}  // namespace

Result<MappedAddressReport, Error> query_mapped_address(const StunOptions& options) {
  auto prepared = prepare(options);
  if (!prepared) return Unexpected{prepared.error()};
  auto& p = *prepared;
  Rng rng(io::os_random_seed());
  stun::BindingQuery query(p.servers, p.policy, rng, Clock::now());
  auto send_error = drive(*p.socket, query, options.stop);
  const auto& r = query.result();
  if (!r.answered && stopped(options))
    return Unexpected{Error{ErrorKind::kInterrupted, "interrupted before any STUN answer (" +
                                                         std::to_string(r.requests_sent) + " requests sent)"}};
  if (!r.answered)
    return Unexpected{Error{ErrorKind::kNoAnswer,
                            "no STUN response from " + std::to_string(p.servers.size()) + " server(s) (" +
                                std::to_string(r.requests_sent) + " requests" +
                                (send_error ? "; " + *send_error : std::string()) +
                                "); is the server running and is UDP allowed?"}};
  if (r.error_code || !r.mapped)
    return Unexpected{Error{ErrorKind::kNoAnswer, "server " + r.server.to_string() + " answered with STUN error " +
                                                      std::to_string(r.error_code.value_or(0))}};
  MappedAddressReport report;
  report.mapped_address = r.mapped->to_string();
  report.local_address = p.socket->local_endpoint_towards(r.server).to_string();
  report.server = r.server.to_string();
  report.other_address = text(r.other_address);
  report.round_trip = std::chrono::duration_cast<std::chrono::microseconds>(r.round_trip);
  report.requests_sent = r.requests_sent;
  return report;
}

Result<NatTypeReport, Error> detect_nat_type(const NatTypeOptions& options) {
  auto prepared = prepare(options);
  if (!prepared) return Unexpected{prepared.error()};
  auto& p = *prepared;
  stun::DiscoveryConfig config;
  config.servers = p.servers;
  config.local = p.socket->local_endpoint_towards(p.servers.front());
  config.retransmit = p.policy;
  config.test_hairpinning = options.test_hairpinning;
  Rng rng(io::os_random_seed());
  stun::NatDiscovery discovery(config, rng, Clock::now());
  auto send_error = drive(*p.socket, discovery, options.stop);
  const auto& r = discovery.result();
  NatTypeReport report;
  report.classic_type = nat::to_public(r.classic);
  report.mapping = nat::to_public(r.mapping);
  report.filtering = nat::to_public(r.filtering);
  if (r.hairpinning != nat::Hairpinning::Unknown) report.hairpinning = r.hairpinning == nat::Hairpinning::Yes;
  report.mapped_address = text(r.mapped);
  report.local_address = config.local.to_string();
  report.server = text(r.server);
  report.server_alternate = text(r.server_alternate);
  report.note = r.note;
  report.interrupted = !discovery.done() && stopped(options);
  if (!r.server && send_error) report.note += (report.note.empty() ? "" : "; ") + *send_error;
  return report;
}

}  // namespace natpunch

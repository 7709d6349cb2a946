#include "io/reflexive_address.hpp"

#include <vector>

#include "core/rng.hpp"
#include "io/machine_driver.hpp"
#include "io/os_random.hpp"
#include "io/udp_ports.hpp"
#include "stun/binding_query.hpp"

namespace natpunch::io {

std::optional<Endpoint> reflexive_address(int fd, std::span<const Endpoint> servers, Duration budget) {
  if (servers.empty()) return std::nullopt;
  // The caller's socket, for one exchange: the ports neither close it nor keep it.
  auto ports = UdpPorts::borrow(fd, UdpPortsOptions{.max_datagram = 1500, .batch = 1});
  if (!ports) return std::nullopt;
  const auto start = Clock::now();
  const auto end = start + budget;
  // Quick retransmissions: the rendezvous is one round trip away, and an
  // unanswered query must not hold the session's start for long. A server
  // of the other family is refused by the ports and stays silent.
  const stun::RetransmitPolicy policy{milliseconds(100), 3, 2};
  Rng rng(os_random_seed());
  stun::BindingQuery query(std::vector<Endpoint>(servers.begin(), servers.end()), policy, rng, start);
  DriveOptions drive;
  drive.stop_poll = milliseconds(10);  // the budget's end is no deadline of the machine
  run_machine(query, **ports, [&] { return query.done() || Clock::now() >= end; }, ignore_events, drive);
  const auto& r = query.result();
  if (!r.answered || r.error_code || !r.mapped) return std::nullopt;
  return r.mapped;
}

}  // namespace natpunch::io

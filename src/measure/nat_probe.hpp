#pragma once
// The NAT probe a peer runs at registration (issue 19 item 1): in well under
// a second it learns its NAT's mapping and filtering behaviour (RFC 5780),
// hairpinning, and a small allocator sample, from one STUN server with an
// alternate address -- the rendezvous itself (`natpunch rendezvous
// --stun-alt`) or a `natpunch stun-server --alt`. A sans-IO machine on the
// contract of core/transmit.hpp:
//
//   socket 0            stun::NatDiscovery: the Binding (mapped address,
//                       alternate address, round trip), then at once the
//                       mapping tests (towards the alternate IP) and the
//                       hairpinning test;
//   sockets S..S+N-1    one Binding each to the server, all in the first
//                       burst: N fresh mappings for the allocator sample;
//                       socket S then runs discovery's filtering tests (its
//                       mapping has only ever sent to the primary).
//
// The NAT makes the sample's mappings in the order they leave: socket 0's,
// sockets S.. in turn, then (if the mapping depends on the destination)
// socket 0's towards the alternate IP. measure/allocator_sample.hpp
// classifies their ports; for port preservation it needs the local port of
// each socket, which only the driver knows (it binds socket N on first use):
// NatProbeConfig::local_port asks it.
//
// Unanswered tests are what tell filtering apart, so the probe lasts one
// round trip plus one give-up time of the follow-up tests: with the default
// retransmission (100 ms, 3 sends, give up 2 x 100 ms after the last) and
// discovery's adaptation to the round trip, ~0.5 s on a short path.
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "core/endpoint.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "core/transmit.hpp"
#include "measure/allocator_sample.hpp"
#include "nat/nat_knowledge.hpp"
#include "stun/client_transaction.hpp"
#include "stun/discovery.hpp"

namespace natpunch::measure {

struct NatProbeConfig {
  Endpoint server;  // the STUN primary (with an alternate address: RFC 5780)
  // Socket 0's address as the server would see it without a NAT (a concrete
  // IP): mapped == local means no NAT.
  Endpoint local;
  std::uint32_t samples = 8;              // fresh sockets for the allocator sample (>= 1)
  SocketId first_sample_socket = 1;       // they are first_sample_socket, +1, ...
  stun::RetransmitPolicy retransmit{milliseconds(100), 3, 2};
  bool test_hairpinning = true;
  // The local port the driver bound socket `s` to, or nullopt when it does
  // not know (then port preservation is judged from the sockets it knows).
  std::function<std::optional<std::uint16_t>(SocketId)> local_port;
};

struct NatProbeResult {
  stun::DiscoveryResult discovery;
  std::vector<ProbeMapping> sample;  // in the order the NAT made the mappings
  nat::NatKnowledge knowledge;
};

namespace nat_probe_event {
struct Done {
  NatProbeResult result;
};
}  // namespace nat_probe_event
using NatProbeEvent = std::variant<nat_probe_event::Done>;

class NatProbe {
 public:
  // Transaction ids come from an Rng seeded from `rng` (need not outlive this).
  NatProbe(NatProbeConfig config, Rng& rng, TimePoint now);

  void on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes);
  std::optional<Transmit> poll_transmit(TimePoint now);
  std::optional<TimePoint> next_deadline() const;
  void on_timer(TimePoint now);
  std::optional<NatProbeEvent> poll_event();

  bool done() const { return done_; }
  // Final once done().
  const NatProbeResult& result() const { return result_; }

 private:
  struct Sample {
    SocketId socket;
    stun::ClientTransaction transaction;
    std::optional<Endpoint> mapped;
  };
  void check_done(TimePoint now);
  void finish(TimePoint now);
  std::optional<std::uint16_t> local_port(SocketId socket) const;

  NatProbeConfig config_;
  TimePoint started_;
  Rng rng_;
  stun::NatDiscovery discovery_;
  std::vector<Sample> samples_;
  bool done_ = false;
  bool reported_ = false;
  NatProbeResult result_;
};

static_assert(ProtocolMachine<NatProbe>);

}  // namespace natpunch::measure

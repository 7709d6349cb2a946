#pragma once
// NAT behaviour discovery (RFC 5780 §4) and the classic RFC 3489 type, as a
// sans-IO state machine in the style of stuntman's client logic, on the
// contract of core/transmit.hpp. By default all tests run from ONE local
// socket (0): the driver sends what poll_transmit() returns from it, feeds
// every datagram it receives to on_datagram(), calls on_timer() at
// next_deadline(), and poll_event() says Done once, with the result.
//
// Phases, kept apart so one test cannot open the filter another measures:
//  1. Binding to servers[i] (the next server when one does not answer):
//     mapped address M1 and the server's alternate address A.
//  2. Filtering, two requests to the primary at once: CHANGE-REQUEST(ip+port)
//     answered → endpoint-independent; else CHANGE-REQUEST(port) answered →
//     address-dependent; else address-and-port-dependent. With no NAT
//     (M1 == local) this is the open internet / symmetric UDP firewall test.
//  3. Mapping, two requests at once: to (A.ip, primary port) → M2 and to A →
//     M3. M2 == M1 → endpoint-independent; else M3 == M2 → address-dependent;
//     else address-and-port-dependent.
//  4. Hairpinning (optional): a Binding request to M1 itself; seeing our
//     own request arrive → yes, timeout → no.
//
// With DiscoveryConfig::filtering_socket set, phases 2-4 run at once after
// the Binding: the filtering tests from that other socket (whose mapping
// has only ever sent to the primary, so no mapping test can have opened
// its filter), the mapping and hairpinning tests from socket 0. Unanswered
// tests are what decide filtering and hairpinning, so this waits for one
// give-up time instead of up to three (measure/nat_probe.hpp uses it).
//
// Responses are accepted only from the address the test expects them from
// and only with an outstanding transaction id, so spoofed or stray datagrams
// cannot change the result. Malformed datagrams (including a wrong
// FINGERPRINT) are ignored.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/endpoint.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "core/transmit.hpp"
#include "nat/nat_behavior.hpp"
#include "stun/client_transaction.hpp"

namespace natpunch::stun {

struct DiscoveryConfig {
  std::vector<Endpoint> servers;  // tried in order until one answers
  // The client socket's own address as the server would see it without a
  // NAT (a concrete IP, not 0.0.0.0); M1 == local means "no NAT".
  Endpoint local;
  RetransmitPolicy retransmit;
  bool test_hairpinning = true;
  // Run the filtering tests from this socket, at the same time as the
  // mapping and hairpinning tests (see above). nullopt: one phase after
  // another, all from socket 0. Must not be 0.
  std::optional<SocketId> filtering_socket;
  // Tests after the Binding wait at least twice its round trip before
  // their first retransmission (and their give-up time grows with it), so
  // a slow path's answers are not declared missing.
  bool adapt_to_round_trip = false;
};

struct DiscoveryResult {
  nat::ClassicType classic = nat::ClassicType::Unknown;
  nat::MappingBehavior mapping = nat::MappingBehavior::Unknown;
  nat::FilteringBehavior filtering = nat::FilteringBehavior::Unknown;
  nat::Hairpinning hairpinning = nat::Hairpinning::Unknown;
  std::optional<Endpoint> mapped;            // M1, our reflexive address
  std::optional<Endpoint> server;            // the server that answered
  std::optional<Endpoint> server_alternate;  // its OTHER-ADDRESS / CHANGED-ADDRESS
  // The mapped addresses of the mapping tests (socket 0 towards the
  // alternate IP with the primary port, then the alternate IP and port),
  // when they were answered: more of the NAT's port choices.
  std::optional<Endpoint> mapped_alt_ip;
  std::optional<Endpoint> mapped_alt_both;
  std::optional<Duration> round_trip;        // of the Binding that answered (first send -> answer)
  std::string note;                          // what happened, for humans; "; "-separated
};

// What poll_event() reports: discovery finished, once.
namespace discovery_event {
struct Done {
  DiscoveryResult result;
};
}  // namespace discovery_event
using DiscoveryEvent = std::variant<discovery_event::Done>;

class NatDiscovery {
 public:
  // Transaction ids are drawn from an Rng seeded from `rng`, which need not
  // outlive this object.
  NatDiscovery(DiscoveryConfig config, Rng& rng, TimePoint now);

  void on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> datagram);
  // One datagram due now (a first send or a retransmission) per call.
  std::optional<Transmit> poll_transmit(TimePoint now);
  // nullopt once done.
  std::optional<TimePoint> next_deadline() const;
  void on_timer(TimePoint now);
  std::optional<DiscoveryEvent> poll_event();

  bool done() const { return phase_ == Phase::Done; }
  // Final once done(); before that, what has been learned so far.
  const DiscoveryResult& result() const { return result_; }

 private:
  enum class Phase : std::uint8_t { Binding, Filtering, Mapping, Hairpinning, Concurrent, Done };
  enum class Test : std::uint8_t { Binding, ChangeBoth, ChangePort, AltIpPrimaryPort, AltIpAltPort, Hairpin };

  struct Probe {
    Test test;
    SocketId socket;
    TimePoint started;
    ClientTransaction transaction;
    Endpoint expect_from;  // responses from anywhere else are ignored
    bool answered = false;
    bool error = false;    // error response, or success without a mapped address
    std::optional<Endpoint> mapped;
    std::optional<Endpoint> alternate;

    bool finished() const { return answered || transaction.finished(); }
    bool succeeded() const { return answered && !error; }
  };

  void start(Test test, const Endpoint& to, const Endpoint& expect_from, TimePoint now, SocketId socket = 0);
  Probe* find(Test test);
  void drop(Test test);
  void advance(TimePoint now);
  void finish_binding(TimePoint now);
  void start_concurrent(TimePoint now);
  void advance_concurrent();
  bool filtering_settled();
  bool mapping_settled();
  void judge_filtering();
  void judge_mapping();
  void finish_filtering(TimePoint now);
  void finish_mapping(TimePoint now);
  void start_hairpinning_or_finish(TimePoint now);
  bool behind_nat() const { return result_.mapping != nat::MappingBehavior::None; }
  void finish();
  void add_note(const std::string& text);

  DiscoveryConfig config_;
  Rng rng_;
  Phase phase_ = Phase::Binding;
  std::size_t server_index_ = 0;
  bool any_server_answered_ = false;
  std::vector<Probe> probes_;  // the current phase's tests only
  RetransmitPolicy followup_;  // for the tests after the Binding
  // Set when the mapping is known to depend on the destination but not
  // which way: still enough for RFC 3489's "symmetric".
  bool endpoint_dependent_ = false;
  DiscoveryResult result_;
  bool reported_ = false;
};

}  // namespace natpunch::stun

#pragma once
// Candidates of a session, ICE-style (RFC 8445's ideas, our own wire
// format): where a peer may be reached, typed and prioritised, and the
// check list of (our socket, peer candidate) pairs a session checks. Pure:
// no clock, no I/O, table-tested (tests/unit/session_candidates_test.cpp),
// fuzzed (tests/fuzz/fuzz_candidate_list.cpp).
//
// Where each type comes from (all through the rendezvous, all bounded):
//   host       the peer's local endpoints (NatInfo::local_endpoints, IPv4
//              and IPv6, at most rendezvous::kMaxLocalEndpoints on the wire)
//   srflx      the peer's public endpoint as the rendezvous saw it
//              (SessionInfo::peer_observed), and its IPv6 one as the
//              rendezvous's IPv6 side saw it (NatInfo::reflexive_v6: a
//              dual-stack peer registered over IPv4)
//   predicted  other ports at that public address, from the peer's
//              allocator model (NatInfo::allocator) and the birthday
//              stages: the punch strategy's probes
//   relay      the rendezvous relay: always there, last
//
// Priorities (RFC 8445 5.1.2.1's shape: type preference << 24 | local
// preference << 8 | 255; IPv6 above IPv4 within a type):
//   host v6 > host v4 > srflx v6 > srflx v4 > predicted > relay
// An IPv6 host candidate of a peer without NAT (a v6 firewall) is its
// public address: the direct IPv6 path comes first, then same-NAT host
// pairs, then the reflexive path, the predicted ports, the relay.
//
// Checks go only to host candidates and the IPv6 srflx (the strategy
// probes the public address of its own family): IPv6 ones from our IPv6
// socket, IPv4 ones only when both sides
// share one public IPv4 address (one NAT, whose inside may route between
// its clients; a check to an unreachable private address would take a
// mapping of a symmetric NAT and break the port prediction the birthday
// stages live on). A candidate list is hostile input: what makes no sense
// is dropped (usable_candidate), duplicates too, and at most kMaxChecks
// pairs are built, whatever the peer sent: never more addresses checked.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/endpoint.hpp"
#include "core/transmit.hpp"

namespace natpunch::session {

enum class CandidateType : std::uint8_t { kHost, kServerReflexive, kPredicted, kRelay };
std::string_view to_string(CandidateType type);  // "host", "srflx", "predicted", "relay"
std::string_view family_name(const IpAddress& address);  // "ipv4", "ipv6"

// RFC 8445-shaped: higher is better.
std::uint32_t candidate_priority(CandidateType type, bool ipv6);

struct Candidate {
  CandidateType type = CandidateType::kHost;
  Endpoint endpoint;
  std::uint32_t priority = 0;
  bool operator==(const Candidate&) const = default;
};

// False for what no check may ever go to: port 0, unspecified, loopback,
// multicast, broadcast and reserved IPv4 (0/8, 127/8, 224/4, 240/4),
// IPv4 link-local (169.254/16), IPv6 link-local (fe80::/10, needs a scope
// we cannot know), IPv4-mapped/compatible IPv6 (::/96, ::ffff:0:0/96),
// and `forbidden` addresses (the rendezvous server's: no reflection
// through us).
bool usable_candidate(const Endpoint& endpoint, std::span<const IpAddress> forbidden = {});

inline constexpr std::size_t kMaxChecks = 8;

// One pair of the check list: from our socket to the peer's candidate.
struct CandidatePair {
  SocketId socket = 0;
  Candidate remote;
  bool operator==(const CandidatePair&) const = default;
};

struct CheckListInput {
  std::span<const Endpoint> peer_host;  // the peer's local endpoints, as the rendezvous passed them on
  Endpoint peer_observed;               // the peer's srflx (probed by the strategy, not checked here)
  std::optional<Endpoint> own_observed;  // ours, as the rendezvous saw us
  std::optional<SocketId> v6_socket;    // our IPv6 socket, if we have one (socket 0 when IPv6-only)
  std::span<const IpAddress> forbidden;  // never checked (the rendezvous servers)
  // The peer's IPv6 reflexive endpoint (NatInfo::reflexive_v6): checked
  // from our IPv6 socket as a srflx candidate, unless a host one has its address.
  std::optional<Endpoint> peer_reflexive_v6;
};

// The pairs to check, best first, at most kMaxChecks, each remote address
// at most once.
std::vector<CandidatePair> check_list(const CheckListInput& input);

// What the path a punch strategy connected on is: one of the peer's host
// candidates (also when the rendezvous saw the peer there: no NAT), its
// srflx, or a predicted port at its public address.
Candidate classify_path(const Endpoint& peer, const Endpoint& peer_observed, std::span<const Endpoint> peer_host);

}  // namespace natpunch::session

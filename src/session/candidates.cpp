#include "session/candidates.hpp"

#include <algorithm>

namespace natpunch::session {

namespace {

std::uint32_t type_preference(CandidateType type) {
  switch (type) {
    case CandidateType::kHost: return 126;
    case CandidateType::kServerReflexive: return 100;
    case CandidateType::kPredicted: return 80;
    case CandidateType::kRelay: return 0;
  }
  return 0;
}

}  // namespace

std::string_view to_string(CandidateType type) {
  switch (type) {
    case CandidateType::kHost: return "host";
    case CandidateType::kServerReflexive: return "srflx";
    case CandidateType::kPredicted: return "predicted";
    case CandidateType::kRelay: return "relay";
  }
  return "unknown";
}

std::string_view family_name(const IpAddress& address) { return address.is_v6() ? "ipv6" : "ipv4"; }

std::uint32_t candidate_priority(CandidateType type, bool ipv6) {
  const std::uint32_t local_preference = ipv6 ? 65535 : 32767;
  return (type_preference(type) << 24) | (local_preference << 8) | 255;
}

bool usable_candidate(const Endpoint& endpoint, std::span<const IpAddress> forbidden) {
  if (endpoint.port == 0 || endpoint.address.is_unspecified()) return false;
  if (std::find(forbidden.begin(), forbidden.end(), endpoint.address) != forbidden.end()) return false;
  const std::uint8_t* a = endpoint.address.data();
  if (endpoint.address.is_v4()) {
    if (a[0] == 0 || a[0] == 127 || a[0] >= 224) return false;  // this network, loopback, multicast, reserved
    return !(a[0] == 169 && a[1] == 254);                       // link-local
  }
  if (a[0] == 0xff) return false;                      // multicast
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return false;  // link-local: needs a scope
  // ::/96 (unspecified, loopback, IPv4-compatible) and ::ffff:0:0/96 (IPv4-mapped).
  const bool zero80 = std::all_of(a, a + 10, [](std::uint8_t b) { return b == 0; });
  if (zero80 && ((a[10] == 0 && a[11] == 0) || (a[10] == 0xff && a[11] == 0xff))) return false;
  return true;
}

std::vector<CandidatePair> check_list(const CheckListInput& in) {
  std::vector<CandidatePair> pairs;
  const bool one_nat = in.own_observed && in.own_observed->address.is_v4() &&
                       in.own_observed->address == in.peer_observed.address;
  // Hostile input: never more entries looked at than the wire may carry.
  const auto looked_at = in.peer_host.first(std::min<std::size_t>(in.peer_host.size(), 4 * kMaxChecks));
  // The strategy probes the peer's srflx from socket 0: only when socket 0
  // is of its family (an IPv6-only peer of a dual-stack one: its address is
  // checked from our IPv6 socket instead).
  const bool strategy_reaches_observed =
      !in.own_observed || in.own_observed->address.family() == in.peer_observed.address.family();
  for (const auto& e : looked_at) {
    if (!usable_candidate(e, in.forbidden) || (e == in.peer_observed && strategy_reaches_observed)) continue;
    if (in.own_observed && e.address == in.own_observed->address) continue;  // ourselves
    const bool taken = std::any_of(pairs.begin(), pairs.end(),
                                   [&](const CandidatePair& p) { return p.remote.endpoint.address == e.address; });
    if (taken) continue;
    CandidatePair p;
    if (e.address.is_v6()) {
      if (!in.v6_socket) continue;
      p.socket = *in.v6_socket;
    } else {
      if (!one_nat) continue;
      p.socket = 0;
    }
    p.remote = Candidate{CandidateType::kHost, e, candidate_priority(CandidateType::kHost, e.address.is_v6())};
    pairs.push_back(p);
  }
  if (const auto& r = in.peer_reflexive_v6; r && r->address.is_v6() && in.v6_socket && usable_candidate(*r, in.forbidden) &&
      !(in.own_observed && r->address == in.own_observed->address) &&
      std::none_of(pairs.begin(), pairs.end(),
                   [&](const CandidatePair& p) { return p.remote.endpoint.address == r->address; }) &&
      std::find(looked_at.begin(), looked_at.end(), *r) == looked_at.end() &&
      !(*r == in.peer_observed && strategy_reaches_observed))
    pairs.push_back(CandidatePair{
        *in.v6_socket,
        Candidate{CandidateType::kServerReflexive, *r, candidate_priority(CandidateType::kServerReflexive, true)}});
  std::stable_sort(pairs.begin(), pairs.end(),
                   [](const CandidatePair& x, const CandidatePair& y) { return x.remote.priority > y.remote.priority; });
  if (pairs.size() > kMaxChecks) pairs.resize(kMaxChecks);
  return pairs;
}

Candidate classify_path(const Endpoint& peer, const Endpoint& peer_observed, std::span<const Endpoint> peer_host) {
  CandidateType type = CandidateType::kPredicted;
  // A peer without NAT is seen by the rendezvous at its own endpoint: a
  // reflexive candidate equal to a host one is the host one (RFC 8445 5.1.3).
  if (std::find(peer_host.begin(), peer_host.end(), peer) != peer_host.end())
    type = CandidateType::kHost;
  else if (peer == peer_observed)
    type = CandidateType::kServerReflexive;
  else if (peer.address != peer_observed.address)
    // Answered from elsewhere (RFC 8445's peer-reflexive): reflexive-grade.
    type = CandidateType::kServerReflexive;
  return Candidate{type, peer, candidate_priority(type, peer.address.is_v6())};
}

}  // namespace natpunch::session

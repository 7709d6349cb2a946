// libFuzzer target for a session's candidates (issue 19, "Bad input"): the
// peer's candidate list as the rendezvous passes it on (a hostile
// NatInfo::local_endpoints, any family, any address, any length) and the
// datagrams its candidates send back.
//
//   check_list   at most kMaxChecks pairs, each usable_candidate, each
//                address once, never ours or the forbidden one, IPv6 pairs
//                only from the IPv6 socket, best first
//   checks       whatever arrives (raw bytes, or field values sealed with
//                the session key: the fuzzer plays an insider without our
//                nonce secret), nothing is ever sent to an address outside
//                the pairs, at most max_attempts checks per pair plus one
//                answer per authentic check; a valid pair is one of them
//
// Input: byte 0 = flags (bit 0: we have an IPv6 socket; bit 1: one NAT;
// bit 2: the last endpoint is the peer's IPv6 reflexive one, NatInfo::reflexive_v6),
// then endpoints (family byte: odd = IPv6; address; 2-byte port) until a
// 0xff byte, then datagrams of 52 bytes (the probe size), each either raw
// (first byte even) or fields to seal.
#include <cstddef>
#include <cstdint>
#include <set>
#include <span>
#include <vector>

#include "session/candidate_checks.hpp"
#include "session/candidates.hpp"
#include "wire/probe.hpp"

#include "fuzz_check.hpp"

using namespace natpunch;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t* p = data;
  const std::uint8_t* end = data + size;
  const std::uint8_t flags = *p++;
  std::vector<Endpoint> host;
  while (p < end && *p != 0xff && host.size() < 64) {
    const bool v6 = (*p++ & 1) != 0;
    Endpoint e;
    if (v6) {
      std::array<std::uint8_t, 16> a{};
      for (auto& b : a) b = static_cast<std::uint8_t>(fuzz_take(p, end, 1));
      e.address = IpAddress::v6(a);
    } else {
      e.address = IpAddress::v4(static_cast<std::uint32_t>(fuzz_take(p, end, 4)));
    }
    e.port = static_cast<std::uint16_t>(fuzz_take(p, end, 2));
    host.push_back(e);
  }
  if (p < end) ++p;  // the 0xff
  std::optional<Endpoint> reflexive_v6;
  if ((flags & 4) && !host.empty()) {
    reflexive_v6 = host.back();
    host.pop_back();
  }

  const Endpoint peer_observed{IpAddress::v4({198, 51, 100, 102}), 40000};
  const Endpoint own{IpAddress::v4({198, 51, 100, (flags & 2) ? std::uint8_t{102} : std::uint8_t{101}}), 40001};
  const IpAddress forbidden = IpAddress::v4({203, 0, 113, 10});
  const std::optional<SocketId> v6_socket = (flags & 1) ? std::optional<SocketId>(7) : std::nullopt;
  const auto pairs = session::check_list(session::CheckListInput{host, peer_observed, own, v6_socket,
                                                                  std::span<const IpAddress>(&forbidden, 1), reflexive_v6});
  FUZZ_CHECK(pairs.size() <= session::kMaxChecks);
  std::set<IpAddress> addresses;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto& to = pairs[i].remote.endpoint;
    FUZZ_CHECK(session::usable_candidate(to));
    FUZZ_CHECK(to.address != forbidden && to.address != own.address && to != peer_observed);
    FUZZ_CHECK(addresses.insert(to.address).second);
    FUZZ_CHECK(to.address.is_v6() ? pairs[i].socket == 7 : pairs[i].socket == 0);
    FUZZ_CHECK(to.address.is_v6() || (flags & 2));
    // A srflx pair is only ever the peer's IPv6 reflexive endpoint.
    if (pairs[i].remote.type == session::CandidateType::kServerReflexive)
      FUZZ_CHECK(reflexive_v6 && to == *reflexive_v6 && to.address.is_v6());
    if (i > 0) FUZZ_CHECK(pairs[i - 1].remote.priority >= pairs[i].remote.priority);
  }

  wire::SessionKey key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
  session::CandidateChecksConfig config;
  config.session_id = 9;
  config.key = key;
  config.role = wire::SessionRole::Caller;
  Rng rng(1);
  session::CandidateChecks checks(config, pairs, rng, TimePoint{});
  const wire::ProbeKey peer_key(key, wire::SessionRole::Callee);
  std::uint64_t sent = 0, answers_possible = 0;
  TimePoint now{};
  std::size_t turn = 0;
  const auto drain = [&] {
    while (auto t = checks.poll_transmit(now)) {
      FUZZ_CHECK(addresses.contains(t->to.address));
      ++sent;
    }
  };
  while (end - p >= static_cast<std::ptrdiff_t>(wire::kProbeSize)) {
    std::span<const std::uint8_t> bytes(p, wire::kProbeSize);
    wire::ProbeBytes sealed{};
    if ((p[0] & 1) != 0) {
      const std::uint8_t* f = p;
      wire::ProbeMessage m;
      m.kind = static_cast<wire::ProbeKind>(1 + fuzz_take(f, p + wire::kProbeSize, 1) % 3);
      m.session_id = fuzz_take(f, p + wire::kProbeSize, 1) & 1 ? 9 : fuzz_take(f, p + wire::kProbeSize, 8);
      m.sequence = static_cast<std::uint32_t>(fuzz_take(f, p + wire::kProbeSize, 4));
      m.echo_sequence = static_cast<std::uint32_t>(fuzz_take(f, p + wire::kProbeSize, 4));
      m.nonce = fuzz_take(f, p + wire::kProbeSize, 8);
      m.echo_nonce = fuzz_take(f, p + wire::kProbeSize, 8);
      sealed = wire::encode(m, peer_key);
      bytes = sealed;
    }
    p += wire::kProbeSize;
    const auto& from = pairs.empty() ? peer_observed : pairs[turn++ % pairs.size()].remote.endpoint;
    const SocketId socket = pairs.empty() ? 0 : pairs[(turn - 1) % pairs.size()].socket;
    checks.on_datagram(now, socket, from, bytes);
    ++answers_possible;
    drain();
    now += milliseconds(50);
    if (auto due = checks.next_deadline(); due && *due <= now) checks.on_timer(now);
    drain();
  }
  // A pair that proved itself (libFuzzer's comparison tracing may learn a
  // nonce; an off-path attacker cannot) is one of ours.
  while (auto v = checks.poll_valid()) FUZZ_CHECK(addresses.contains(v->remote.endpoint.address));
  FUZZ_CHECK(sent <= pairs.size() * static_cast<std::uint64_t>(config.max_attempts) + answers_possible);
  return 0;
}

#pragma once
// What a peer tells the rendezvous about its own NAT when it registers
// (issue 19 item 1): it learns the NAT through the rendezvous's co-located
// STUN server (`natpunch rendezvous --stun-alt`; io/nat_probe_runner.hpp,
// once per local address thanks to the NAT cache), then what the user
// stated (a carrier profile, explicit mapping / filtering / timeouts)
// refines or overrides it (rendezvous::own_nat_info). `natpunch
// listen/connect` and the session API (natpunch::connect/listen) both
// build their NatInfo here, so neither needs a NAT flag.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/endpoint.hpp"
#include "core/result.hpp"
#include "io/nat_knowledge_cache.hpp"
#include "io/nat_probe_runner.hpp"
#include "rendezvous/nat_info_probe.hpp"

namespace natpunch::io {

struct OwnNatOptions {
  bool learn = true;  // false: only what was stated (no datagram is sent)
  NatCachePolicy cache;
  std::function<bool()> should_stop;
};

struct OwnNat {
  rendezvous::NatInfo info;           // what the peer is told
  std::optional<LearnedNat> learned;  // what the probe or the cache said; nullopt: not asked, or no socket
  // One line each: why nothing was learned, a statement overriding the
  // measurement, a profile contradicting it, the cache not written.
  std::vector<std::string> notes;
};

// Learns (unless options.learn is false) through `rendezvous`, then builds
// the NatInfo. Errors only as rendezvous::own_nat_info's (a carrier
// profile that cannot go on the wire); a probe that cannot run leaves the
// NatInfo to what was stated, with a note; one that gets no answer too,
// without a note (no_stun_answer below: the caller says why later).
Result<OwnNat, nat::ProfileError> own_nat(const Endpoint& rendezvous, const rendezvous::StatedNat& stated,
                                          const OwnNatOptions& options);

// The probe got no answer at all (not interrupted). Why is known only once
// the peer has registered: over UDP (the rendezvous answers UDP but not
// STUN: it lacks --stun-alt) or over a stream after UDP got no answer (UDP
// is blocked on this network). why_no_stun_answer says which in one line;
// `registered_over` is SessionProgress::transport ("udp", "tcp", "tls").
bool no_stun_answer(const OwnNat& own);
std::string why_no_stun_answer(const Endpoint& rendezvous, const std::string& registered_over);

// One line for people: "learned in 505 ms through 203.0.113.10:7000:
// endpoint-independent mapping, ..." / "from the NAT cache: ..." / "not
// learned: ...".
std::string describe(const OwnNat& own);

}  // namespace natpunch::io

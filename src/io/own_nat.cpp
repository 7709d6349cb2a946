#include "io/own_nat.hpp"

#include <chrono>

namespace natpunch::io {

Result<OwnNat, nat::ProfileError> own_nat(const Endpoint& rendezvous, const rendezvous::StatedNat& stated,
                                          const OwnNatOptions& options) {
  OwnNat own;
  std::optional<nat::NatKnowledge> measured;
  if (options.learn) {
    NatProbeRunOptions probe;
    probe.server = rendezvous;
    probe.should_stop = options.should_stop;
    auto learned = learn_nat(probe, options.cache);
    if (!learned) {
      own.notes.push_back("cannot learn the NAT: " + learned.error());
    } else {
      if (learned->cache_error) own.notes.push_back(*learned->cache_error);
      if (!learned->knowledge.no_answer && !learned->interrupted) measured = learned->knowledge;
      own.learned = std::move(*learned);
    }
  }
  auto info = rendezvous::own_nat_info(measured, stated, own.notes);
  if (!info) return Unexpected{info.error()};
  own.info = std::move(*info);
  return own;
}

bool no_stun_answer(const OwnNat& own) {
  return own.learned && own.learned->knowledge.no_answer && !own.learned->interrupted;
}

std::string why_no_stun_answer(const Endpoint& rendezvous, const std::string& registered_over) {
  if (registered_over == "udp")
    return "no STUN answer from the rendezvous " + rendezvous.to_string() +
           ", though it answers over UDP (start it with --stun-alt so peers learn their NAT): telling the peer only "
           "what was stated";
  return "UDP is blocked on this network: neither STUN nor the registration got an answer over UDP from the "
         "rendezvous " + rendezvous.to_string() + ", which answers over " + registered_over +
         ": the NAT cannot be learned without UDP (relay only)";
}

std::string describe(const OwnNat& own) {
  if (!own.learned) return "not learned";
  const LearnedNat& l = *own.learned;
  if (l.interrupted) return "not learned: interrupted";
  if (l.knowledge.no_answer) return "not learned: no STUN answer";
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(l.knowledge.took).count();
  std::string how = l.cached ? "from the NAT cache (learned in " + std::to_string(ms) + " ms)"
                             : "learned in " + std::to_string(ms) + " ms";
  if (l.knowledge.server) how += " through " + l.knowledge.server->to_string();
  return how + ": " + nat::describe(l.knowledge);
}

}  // namespace natpunch::io

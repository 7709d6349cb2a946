#pragma once
// What a peer tells the rendezvous about its NAT (NatInfo) from what it
// measured at registration (measure/nat_probe.hpp: mapping, filtering and
// an allocator guess from a handful of mappings), and how a carrier
// profile refines that: the profile fills in what a probe cannot learn
// (timeouts, the carrier's name, the allocator's parameters when the sample
// shows the profile's kind of allocator) and never overrides a
// measurement; where they disagree the measurement stays and the caller
// hears why.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "nat/nat_knowledge.hpp"
#include "nat/profile.hpp"
#include "rendezvous/messages.hpp"

namespace natpunch::rendezvous {

// Mapping, filtering and the allocator guess's spec; nothing else changes.
// Knowledge without any STUN answer leaves `info` as it is.
void apply_knowledge(const nat::NatKnowledge& knowledge, NatInfo& info);

// `info` already holds `measured` (apply_knowledge). Adds the profile's
// carrier name, timeouts where none is set, its mapping / filtering where
// the probe learned none, and its allocator where the probe learned none or
// saw the same class (block:256 refines "in order", a Beta law refines
// "random"). Each disagreement is appended to `disagreements` as one line.
// Errors as apply_profile's (a profile id that cannot go on the wire).
std::optional<nat::ProfileError> refine_with_profile(const nat::Profile& profile, const nat::NatKnowledge& measured,
                                                     NatInfo& info, std::vector<std::string>& disagreements);

// What the user said about their own NAT (command-line flags, the session
// API's NatDescription); Unknown / 0 / null: not said.
struct StatedNat {
  nat::MappingBehavior mapping = nat::MappingBehavior::Unknown;
  nat::FilteringBehavior filtering = nat::FilteringBehavior::Unknown;
  const nat::Profile* profile = nullptr;
  std::uint32_t pending_timeout_ms = 0;
  std::uint32_t idle_timeout_ms = 0;
};

// The NatInfo a peer tells the rendezvous about itself: what it measured
// (nullopt: nothing, e.g. the probe was skipped), refined by the stated
// carrier profile (refine_with_profile), and every explicit statement
// over both: a user who says "--mapping X" knows something the probe did
// not see. Each place where a statement or the profile overrides or
// contradicts the measurement is one line in `notes`. Errors as
// apply_profile's.
Result<NatInfo, nat::ProfileError> own_nat_info(const std::optional<nat::NatKnowledge>& measured,
                                                const StatedNat& stated, std::vector<std::string>& notes);

}  // namespace natpunch::rendezvous

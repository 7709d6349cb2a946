#pragma once
// Fills what a peer tells the rendezvous about its NAT (NatInfo) from a
// carrier profile, so the other side can order and predict its probes
// without measuring anything: mapping, filtering, port allocator, the two
// timeouts (Table IV's lower bounds) and the profile's id as the carrier
// name. Values the profile leaves unknown stay unknown in `info`.
#include <optional>

#include "nat/profile.hpp"
#include "rendezvous/messages.hpp"

namespace natpunch::rendezvous {

// nullopt on success; otherwise the problem, naming the profile field. The
// only thing that can be wrong after parse_profile() accepted the file is
// an id (its file name) that cannot go on the wire.
std::optional<nat::ProfileError> apply_profile(const nat::Profile& profile, NatInfo& info);

}  // namespace natpunch::rendezvous

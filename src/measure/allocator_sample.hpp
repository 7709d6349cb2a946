#pragma once
// What a handful of mappings from fresh local ports says about a NAT's port
// allocator: the classifier behind measure/nat_probe.hpp. `natpunch
// analyze` (src/analyze/allocator_detect.*) needs hundreds of mappings
// for the same question with fits and tests; here ~10 mappings must do, so
// only what such a sample shows beyond reasonable doubt is claimed:
//
//   no NAT                      -> not-translated (nothing to tell the peer)
//   >= 3/4 of the ports with a known local port kept it (at least 3)
//                               -> preserving
//   >= 3/4 of the steps between mappings (in the order the NAT made them)
//      go up by 1..16, and at most one goes back by less than 64
//                               -> in order: sequential; blocks of S ports
//                                  only when a jump goes from the end of an
//                                  aligned S-port block to the start of
//                                  another (S >= 64, a power of two), since
//                                  before a block runs out it looks
//                                  sequential (and a peer predicts both the
//                                  same way: the next ports up)
//   every port within 64 of the others, not in order
//                               -> clustered (windows handed out in random
//                                  order); told as uniform over the cluster
//                                  widened by one mean gap each side
//   otherwise                   -> random; told as uniform over the sampled
//                                  range widened by one mean gap each side
//                                  (the estimate of a discrete uniform's
//                                  ends), or the whole range when that
//                                  covers 90 % of it
//
// Chance alone makes these wrong rarely: 10 random ports look in order with
// odds below 1e-12, 8 kept ports are a random allocator's with odds
// ~(1/64k)^6. What a sample cannot tell (Beta vs uniform, a block's size
// before it runs out, how long a window is held) is left to a carrier
// profile, which refines the guess (rendezvous/nat_info_probe.hpp).
#include <cstdint>
#include <optional>
#include <span>

#include "nat/nat_behavior.hpp"
#include "nat/nat_knowledge.hpp"

namespace natpunch::measure {

struct ProbeMapping {
  std::optional<std::uint16_t> local_port;  // nullopt: the driver did not say
  std::uint16_t mapped_port = 0;
};

// Fewer mappings than this are Unknown.
inline constexpr std::size_t kMinSampleMappings = 3;

// `sample`: one entry per mapping the NAT made, in the order it made them.
// `mapping` is the NAT's mapping behaviour (None: no translation).
nat::AllocatorGuess classify_allocator_sample(std::span<const ProbeMapping> sample, nat::MappingBehavior mapping);

}  // namespace natpunch::measure

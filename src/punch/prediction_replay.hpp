#pragma once
// Port prediction measured on a real port sequence (`natpunch predict`,
// issue 17): before each mapping of a collection, a port chooser proposes
// ports from what was seen so far (as a peer would, from the rendezvous's
// view of the earlier mappings: their external ports); a hit at budget N
// is the true next port among its first N proposals. One pass per chooser
// gives every budget 1..max at once: the rank of the true port.
//
// The choosers compared are the profile's own (PeerPortModel: prediction
// from the last port, then the carrier order) and the plain ones that use
// no history: uniform over the profile's range, the densest ports of its
// Beta law, and block starts offset-major.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "nat/allocator_spec.hpp"
#include "punch/port_chooser.hpp"

namespace natpunch::punch {

// A chooser for the mapping after `history` (the run's earlier external
// ports, oldest first; never empty).
struct ReplayChooser {
  std::string name;
  std::function<std::unique_ptr<PortChooser>(std::span<const std::uint16_t> history)> make;
};

struct ReplayCurve {
  std::string name;
  std::uint64_t predictions = 0;
  std::vector<std::uint64_t> hits;  // hits[n - 1]: hits within the first n proposals

  double hit_rate(std::size_t budget) const;  // 0 without predictions
};

// Every run's first mapping has no history and is not predicted. Choosers
// that run dry before `max_budget` proposals just stop.
std::vector<ReplayCurve> replay_predictions(std::span<const std::vector<std::uint16_t>> runs,
                                            std::span<const ReplayChooser> choosers, std::size_t max_budget,
                                            std::uint64_t seed);

// The profile's chooser: prediction from the last port by the allocator's
// rule (the rest of a block, a window with locality), then its order.
ReplayChooser profile_chooser(const nat::AllocatorSpec& allocator);

// Choosers that use no history, parameterised by what the profile says of
// the range: "uniform" over the profile's ports (1024..65535 when it names
// none), "beta-densest" (only when the profile has a Beta law, as its kind
// or its windows' placement), "block-starts" (the profile's block or window
// size and offset, else 256-port blocks).
std::vector<ReplayChooser> plain_choosers(const nat::AllocatorSpec& allocator);

}  // namespace natpunch::punch

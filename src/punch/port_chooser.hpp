#pragma once
// Where a punching strategy aims its next probe: the order in which the
// peer's public ports are tried. One chooser per attack; each call hands
// out the next destination port, nullopt when the order is exhausted.
// Randomness comes from the Rng the strategy passes in, so a driver's seed
// fixes every port.
#include <cstdint>
#include <optional>

#include "core/rng.hpp"

namespace natpunch::punch {

class PortChooser {
 public:
  virtual ~PortChooser() = default;
  virtual std::optional<std::uint16_t> next(Rng& rng) = 0;
};

}  // namespace natpunch::punch

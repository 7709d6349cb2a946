#pragma once
// Uniform over [min, max]: the naive attack's order (Algorithm 1 draws with
// repeats) and the improved attack's order for uniform allocators such as
// LycaMobile NL's [2048, 65535] (drawn without repeats: a repeated guess at
// a peer that allocates uniformly is a wasted probe).
#include <vector>

#include "punch/port_chooser.hpp"

namespace natpunch::punch {

enum class Repeats : std::uint8_t { Allowed, Never };

class UniformPortChooser final : public PortChooser {
 public:
  UniformPortChooser(std::uint16_t min, std::uint16_t max, Repeats repeats);
  // With repeats: never exhausted. Without: every port of the range once,
  // in a uniformly random order, then nullopt.
  std::optional<std::uint16_t> next(Rng& rng) override;

 private:
  std::uint16_t min_;
  std::uint32_t span_;  // max - min + 1
  Repeats repeats_;
  // Without repeats: a lazy Fisher-Yates shuffle; ports_[0, left_) are the
  // ports not handed out yet. Filled on first use.
  std::vector<std::uint16_t> ports_;
  std::uint32_t left_ = 0;
  bool filled_ = false;
};

// Exactly uniform in [0, span) with Lemire's multiply-and-reject: about one
// 64-bit draw and one multiply (std::uniform_int_distribution costs a
// division or more per call, which shows at 85 million probes).
std::uint32_t uniform_below(Rng& rng, std::uint32_t span);

}  // namespace natpunch::punch

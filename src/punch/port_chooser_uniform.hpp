#pragma once
// Uniform over [min, max]: the naive attack's order (Algorithm 1 draws with
// repeats) and the improved attack's order for uniform allocators such as
// LycaMobile NL's [2048, 65535] (drawn without repeats: a repeated guess at
// a peer that allocates uniformly is a wasted probe).
#include <bitset>
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
  // Without repeats: draws rejected when already handed out (`drawn_`)
  // while at most half the range is gone, so a chooser asked for a few
  // ports costs no 64k-port array; then a lazy Fisher-Yates shuffle of the
  // rest, ports_[0, left_) being the ports not handed out yet. Either way
  // every port not handed out is equally likely next.
  std::bitset<65536> drawn_;
  std::uint32_t drawn_count_ = 0;
  std::vector<std::uint16_t> ports_;
  std::uint32_t left_ = 0;
  bool dense_ = false;
};

// Exactly uniform in [0, span) with Lemire's multiply-and-reject: about one
// 64-bit draw and one multiply (std::uniform_int_distribution costs a
// division or more per call, which shows at 85 million probes).
std::uint32_t uniform_below(Rng& rng, std::uint32_t span);

}  // namespace natpunch::punch

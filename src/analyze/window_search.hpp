#pragma once
// Where a NAT keeps one subscriber's consecutive mappings: inside a *window*
// of `size` ports whose first port is `offset` modulo `size`. KPN and
// Lebara hand out 256-port windows at offset 0 in order (the thesis's
// blocks); the real Vodafone NL logs show 32-port windows at offset 31
// (ports 32k+31 .. 32k+62) taken in random order. Both searches try every
// power of two from 2 to 32768 and, for each, the offset that explains the
// data best.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "analyze/mapping_join.hpp"

namespace natpunch::analyze {

struct WindowGrid {
  std::uint32_t size = 256;
  std::uint32_t offset = 0;  // < size

  // A key per window, the same for every port of it (not a port number).
  std::uint32_t index(std::uint16_t port) const { return (std::uint32_t{port} + size - offset) / size; }
  // The first port of window `index` (may lie below 0 for the lowest key:
  // then the window is partial and never whole inside a port range).
  std::int64_t first_port(std::uint32_t index) const {
    return std::int64_t{index} * size + offset - size;
  }
  bool operator==(const WindowGrid&) const = default;
};

// The rows with the session boundaries every pass respects: runs of
// consecutive ports and window visits never span two sessions.
struct SessionSequence {
  std::span<const MappingRow> rows;
  std::vector<std::uint32_t> session;  // per row

  bool continues(std::size_t i) const { return i > 0 && session[i] == session[i - 1]; }
  bool steps_up(std::size_t i) const {
    return continues(i) && rows[i].mapped_port == static_cast<std::uint32_t>(rows[i - 1].mapped_port) + 1;
  }
};

// Ordered data (mostly +1 steps): the smallest window whose boundaries the
// +1 steps almost never cross. At offset 0: at most 10 % of the crossings a
// sequential allocator would make, with at least 5 expected (the thesis's
// blocks). At another offset, chosen as the one the fewest steps cross,
// the crossings must also be too few for chance among `size` offsets
// (size x P(Poisson(expected) <= crossings) <= 1e-3).
struct InOrderSearch {
  std::optional<WindowGrid> grid;
  std::size_t crossings = 0;
  double expected_sequential_crossings = 0;
  // No size passed and a larger one could not be tested: too few steps.
  bool undecided = false;
};
InOrderSearch find_in_order_window(const SessionSequence& seq, std::size_t steps);

// Unordered data: the smallest window (with its best offset) in which at
// least 75 % of the transitions stay, while the same ports in a random
// order would stay with odds at most a tenth of that (the sum over windows
// of the squared share of rows in them). Inside a window of W ports taken
// at random a transition stays in an aligned half with odds ~1/2, so 75 %
// separates W from every smaller size.
struct RandomOrderSearch {
  std::optional<WindowGrid> grid;
  double stay_fraction = 0;
  double stay_by_chance = 0;
};
RandomOrderSearch find_random_order_window(const SessionSequence& seq);

// Of the transitions inside sessions, the share that stay in one window of `grid`.
double stay_fraction(const SessionSequence& seq, const WindowGrid& grid);

}  // namespace natpunch::analyze

#pragma once
// "40000-40099" (or a single "40000") as an inclusive port range.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace natpunch::measure {

struct PortRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  std::size_t size() const { return static_cast<std::size_t>(last) - first + 1; }
};

// Errors are one line a user can act on.
Result<PortRange, std::string> parse_port_range(std::string_view text);

}  // namespace natpunch::measure

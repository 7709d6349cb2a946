#include "measure/port_range.hpp"

#include <charconv>

namespace natpunch::measure {

namespace {
bool parse_port(std::string_view s, std::uint16_t& out) {
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || ptr != s.data() + s.size() || s.empty() || value == 0 || value > 65535) return false;
  out = static_cast<std::uint16_t>(value);
  return true;
}
}  // namespace

Result<PortRange, std::string> parse_port_range(std::string_view text) {
  const auto dash = text.find('-');
  PortRange r;
  const auto first = text.substr(0, dash);
  const auto last = dash == std::string_view::npos ? first : text.substr(dash + 1);
  if (!parse_port(first, r.first) || !parse_port(last, r.last))
    return Unexpected{std::string("expected A-B with ports 1..65535, e.g. 40000-40099")};
  if (r.last < r.first) return Unexpected{std::string("the range's end is below its start")};
  if (r.size() > 4096) return Unexpected{std::string("at most 4096 ports (one socket each)")};
  return r;
}

}  // namespace natpunch::measure

#include "nat/trace_text.hpp"

#include <charconv>

namespace natpunch::nat {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Printable for an error message: at most 20 characters, no control bytes.
std::string quoted(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 20)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 20) out += "...";
  return "'" + out + "'";
}

}  // namespace

Result<std::vector<std::uint16_t>, std::string> parse_trace_text(std::string_view text) {
  std::vector<std::uint16_t> ports;
  std::size_t line_number = 0;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    const std::string_view line = trim(text.substr(0, newline));
    text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
    if (ec != std::errc{} || end != line.data() + line.size() || value == 0 || value > 65535)
      return Unexpected{"line " + std::to_string(line_number) + ": " + quoted(line) + " is not a port (1-65535)"};
    ports.push_back(static_cast<std::uint16_t>(value));
  }
  return ports;
}

std::string trace_text(std::span<const std::uint16_t> ports, std::string_view comment) {
  std::string text = "# natpunch trace: external ports in allocation order, one per line\n";
  while (!comment.empty()) {
    const auto newline = comment.find('\n');
    text += "# " + std::string(comment.substr(0, newline)) + "\n";
    comment = newline == std::string_view::npos ? std::string_view{} : comment.substr(newline + 1);
  }
  text.reserve(text.size() + ports.size() * 6);
  for (const std::uint16_t port : ports) {
    text += std::to_string(port);
    text += '\n';
  }
  return text;
}

}  // namespace natpunch::nat

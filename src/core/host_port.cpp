#include "core/host_port.hpp"

#include <algorithm>
#include <charconv>

namespace natpunch {

namespace {

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

// Digits only, within [min_port, 65535].
std::optional<std::uint16_t> port_number(std::string_view text, unsigned min_port) {
  if (text.empty() || text.size() > 5 || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  unsigned value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  if (value < min_port || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

std::string bad_port(std::string_view port, std::string_view text, unsigned min_port) {
  return "bad port " + quoted(port) + " in " + quoted(text) + " (a number " + std::to_string(min_port) + "-65535)";
}

bool looks_like_dotted_quad(std::string_view host) {
  return host.find('.') != std::string_view::npos &&
         std::all_of(host.begin(), host.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

// RFC 1123 host names (plus '_', which some DNS names carry): labels of
// letters, digits, '-' and '_', 1-63 characters, 253 in all.
bool is_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  if (host.back() == '.') host.remove_suffix(1);  // a fully qualified name
  std::size_t label = 0;
  for (char c : host) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

struct Split {
  std::string_view host;
  std::optional<std::string_view> port;  // absent: no port given
  bool bracketed = false;
};

Result<Split, std::string> split(std::string_view text) {
  if (text.empty()) return Unexpected{std::string("empty address")};
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return Unexpected{"missing ']' in " + quoted(text) + " (e.g. [2001:db8::1]:3478)"};
    Split s{text.substr(1, close - 1), std::nullopt, true};
    const auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return Unexpected{"unexpected " + quoted(rest) + " after ']' in " + quoted(text)};
      s.port = rest.substr(1);
    }
    return s;
  }
  const auto first = text.find(':');
  if (first == std::string_view::npos) return Split{text, std::nullopt, false};
  if (text.find(':', first + 1) != std::string_view::npos) return Split{text, std::nullopt, false};  // IPv6, no port
  return Split{text.substr(0, first), text.substr(first + 1), false};
}

// Checks the host part: an IP literal, or a name that DNS could hold.
Result<std::optional<IpAddress>, std::string> check_host(const Split& s, std::string_view text) {
  if (s.host.empty()) return Unexpected{"missing host in " + quoted(text)};
  // inet_pton would read up to a NUL and accept what came before it.
  if (std::any_of(s.host.begin(), s.host.end(), [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; }))
    return Unexpected{"a space or control character in " + quoted(text)};
  if (auto ip = IpAddress::parse(s.host)) {
    if (s.bracketed && !ip->is_v6()) return Unexpected{"only IPv6 addresses go in brackets: " + quoted(text)};
    return std::optional<IpAddress>(*ip);
  }
  if (s.bracketed) return Unexpected{quoted(s.host) + " in " + quoted(text) + " is not an IPv6 address"};
  if (s.host.find(':') != std::string_view::npos)
    return Unexpected{quoted(text) + " is not an IPv6 address (with a port it needs brackets: [2001:db8::1]:3478)"};
  if (looks_like_dotted_quad(s.host))
    return Unexpected{quoted(s.host) + " is not an IPv4 address (four numbers 0-255, e.g. 203.0.113.10)"};
  if (!is_host_name(s.host)) return Unexpected{quoted(s.host) + " is neither an IP address nor a host name"};
  return std::optional<IpAddress>();
}

}  // namespace

Result<HostPort, std::string> parse_host_port(std::string_view text, std::uint16_t default_port) {
  auto s = split(text);
  if (!s) return Unexpected{s.error()};
  auto literal = check_host(*s, text);
  if (!literal) return Unexpected{literal.error()};
  HostPort hp{std::string(s->host), default_port, *literal};
  if (s->port) {
    auto port = port_number(*s->port, 1);
    if (!port) return Unexpected{bad_port(*s->port, text, 1)};
    hp.port = *port;
  }
  if (hp.port == 0) return Unexpected{"no port in " + quoted(text) + " (HOST:PORT, port 1-65535)"};
  return hp;
}

Result<Endpoint, std::string> parse_bind_endpoint(std::string_view text) {
  auto s = split(text);
  if (!s) return Unexpected{s.error()};
  if (!s->port) return Unexpected{"no port in " + quoted(text) + " (IP:PORT, e.g. 0.0.0.0:0 or [::]:0; port 0: any)"};
  auto literal = check_host(*s, text);
  if (!literal) return Unexpected{literal.error()};
  if (!*literal) return Unexpected{quoted(s->host) + " in " + quoted(text) + " is not an IP address (a local address to bind)"};
  auto port = port_number(*s->port, 0);
  if (!port) return Unexpected{bad_port(*s->port, text, 0)};
  return Endpoint{**literal, *port};
}

}  // namespace natpunch

#include "io/resolver.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <charconv>

#include "io/asio_convert.hpp"

namespace natpunch::io {

namespace {

struct HostPort {
  std::string host;
  std::uint16_t port;
};

Result<HostPort, std::string> split_host_port(std::string_view text, std::uint16_t default_port) {
  if (text.empty()) return Unexpected{std::string("empty server address")};
  if (auto ep = Endpoint::parse(text)) return HostPort{ep->address.to_string(), ep->port};
  if (IpAddress::parse(text)) return HostPort{std::string(text), default_port};  // bare IPv4/IPv6 literal
  std::string_view host = text;
  std::uint16_t port = default_port;
  if (auto colon = text.rfind(':'); colon != std::string_view::npos && text.find(':') == colon) {
    host = text.substr(0, colon);
    auto port_text = text.substr(colon + 1);
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (port_text.empty() || ec != std::errc{} || ptr != port_text.data() + port_text.size() || value == 0 ||
        value > 65535)
      return Unexpected{"bad port in '" + std::string(text) + "' (expected 1-65535)"};
    port = static_cast<std::uint16_t>(value);
  }
  if (host.empty()) return Unexpected{"missing host in '" + std::string(text) + "'"};
  return HostPort{std::string(host), port};
}

}  // namespace

Result<std::vector<Endpoint>, std::string> resolve_udp(std::string_view text, std::uint16_t default_port) {
  auto hp = split_host_port(text, default_port);
  if (!hp) return Unexpected{hp.error()};
  if (auto literal = IpAddress::parse(hp->host)) return std::vector<Endpoint>{Endpoint{*literal, hp->port}};
  asio::io_context ctx;
  asio::ip::udp::resolver resolver(ctx);
  asio::error_code ec;
  auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
  if (ec) return Unexpected{"cannot resolve '" + hp->host + "': " + ec.message()};
  std::vector<Endpoint> out;
  for (const auto& r : results) out.push_back(from_asio(r.endpoint()));
  if (out.empty()) return Unexpected{"'" + hp->host + "' has no addresses"};
  return out;
}

Result<IpAddress, std::string> local_address_towards(const Endpoint& remote) {
  asio::io_context ctx;
  asio::ip::udp::socket socket(ctx);
  asio::error_code ec;
  auto target = to_asio(remote);
  socket.open(target.protocol(), ec);
  if (!ec) socket.connect(target, ec);
  if (ec) return Unexpected{"no route to " + remote.to_string() + ": " + ec.message()};
  auto local = socket.local_endpoint(ec);
  if (ec) return Unexpected{"cannot read local address: " + ec.message()};
  return from_asio(local).address;
}

}  // namespace natpunch::io

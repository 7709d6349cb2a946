#include "io/resolver.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

#include "core/host_port.hpp"
#include "io/asio_convert.hpp"

namespace natpunch::io {

Result<std::vector<Endpoint>, std::string> resolve_udp(std::string_view text, std::uint16_t default_port) {
  auto hp = parse_host_port(text, default_port);
  if (!hp) return Unexpected{hp.error()};
  if (hp->literal) return std::vector<Endpoint>{Endpoint{*hp->literal, hp->port}};
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

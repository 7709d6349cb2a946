#include "io/udp_client.hpp"

#include <poll.h>

#include "io/asio_convert.hpp"
#include "io/resolver.hpp"

namespace natpunch::io {

Result<std::unique_ptr<UdpClient>, std::string> UdpClient::open(const Endpoint& bind) {
  std::unique_ptr<UdpClient> client(new UdpClient());
  auto local = to_asio(bind);
  asio::error_code ec;
  client->socket_.open(local.protocol(), ec);
  if (!ec) client->socket_.bind(local, ec);
  if (ec) return Unexpected{"cannot bind UDP socket to " + bind.to_string() + ": " + ec.message()};
  client->socket_.non_blocking(true, ec);
  return client;
}

Endpoint UdpClient::bound_endpoint() const {
  asio::error_code ec;
  auto local = socket_.local_endpoint(ec);
  return ec ? Endpoint{} : from_asio(local);
}

Endpoint UdpClient::local_endpoint_towards(const Endpoint& remote) const {
  auto bound = bound_endpoint();
  if (!bound.address.is_unspecified()) return bound;
  auto address = local_address_towards(remote);
  if (address) bound.address = *address;
  return bound;
}

bool UdpClient::send(const Endpoint& to, std::span<const std::uint8_t> bytes, std::string& error) {
  asio::error_code ec;
  socket_.send_to(asio::buffer(bytes.data(), bytes.size()), to_asio(to), 0, ec);
  if (ec && ec != asio::error::would_block) {
    error = "cannot send to " + to.to_string() + ": " + ec.message();
    return false;
  }
  return true;
}

std::optional<ReceivedDatagram> UdpClient::receive_until(TimePoint deadline) {
  for (;;) {
    asio::ip::udp::endpoint sender;
    asio::error_code ec;
    auto n = socket_.receive_from(asio::buffer(buffer_), sender, 0, ec);
    if (!ec) return ReceivedDatagram{from_asio(sender), std::span<const std::uint8_t>(buffer_.data(), n)};
    // ICMP errors surface as ECONNREFUSED etc. on the next receive: treat as loss.
    if (ec != asio::error::would_block && ec != asio::error::try_again) continue;
    auto now = Clock::now();
    if (now >= deadline) return std::nullopt;
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    pollfd pfd{socket_.native_handle(), POLLIN, 0};
    ::poll(&pfd, 1, static_cast<int>(std::min<long long>(wait, 60'000)));
  }
}

}  // namespace natpunch::io

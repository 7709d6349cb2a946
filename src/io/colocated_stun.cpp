#include "io/colocated_stun.hpp"

#include <asio/ip/v6_only.hpp>

#include "io/asio_convert.hpp"

namespace natpunch::io {

ColocatedStun::ColocatedStun(asio::io_context& ctx, asio::ip::udp::socket& primary, stun::ServerConfig config)
    : primary_(primary), machine_(std::move(config)) {
  for (auto& e : extra_) e = std::make_unique<Extra>(ctx);
}

namespace {

// A port free on `address` now (the kernel's choice), or 0.
std::uint16_t free_port(asio::io_context& ctx, const IpAddress& address) {
  asio::ip::udp::socket s(ctx);
  asio::error_code ec;
  const auto at = to_asio(Endpoint{address, 0});
  s.open(at.protocol(), ec);
  if (!ec) s.bind(at, ec);
  if (ec) return 0;
  const auto bound = s.local_endpoint(ec);
  return ec ? 0 : bound.port();
}

}  // namespace

Result<std::unique_ptr<ColocatedStun>, std::string> ColocatedStun::open(asio::io_context& ctx,
                                                                        asio::ip::udp::socket& primary,
                                                                        stun::ServerConfig config) {
  if (!config.alternate) return Unexpected{std::string("a STUN server beside the rendezvous needs an alternate address")};
  if (config.alternate->port != 0) return open_at(ctx, primary, std::move(config));
  // Port 0: a port free on the alternate address, which must then be free
  // on the primary address too; another process may take it in between.
  constexpr int kAttempts = 8;
  Result<std::unique_ptr<ColocatedStun>, std::string> last = Unexpected{std::string()};
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto with_port = config;
    with_port.alternate->port = free_port(ctx, config.alternate->address);
    if (with_port.alternate->port == 0 || with_port.alternate->port == config.primary.port) continue;
    last = open_at(ctx, primary, std::move(with_port));
    if (last) return last;
  }
  if (last.error().empty()) return Unexpected{"cannot listen on " + config.alternate->to_string() + " (STUN)"};
  return last;
}

Result<std::unique_ptr<ColocatedStun>, std::string> ColocatedStun::open_at(asio::io_context& ctx,
                                                                           asio::ip::udp::socket& primary,
                                                                           stun::ServerConfig config) {
  std::unique_ptr<ColocatedStun> stun(new ColocatedStun(ctx, primary, std::move(config)));
  for (std::size_t i = 0; i < stun->extra_.size(); ++i) {
    const Endpoint at = stun->machine_.socket_endpoint(static_cast<SocketId>(i + 1));
    auto& s = stun->extra_[i]->socket;
    asio::error_code ec;
    const auto local = to_asio(at);
    s.open(local.protocol(), ec);
    if (!ec && local.address().is_v6()) s.set_option(asio::ip::v6_only(true), ec);
    if (!ec) s.bind(local, ec);
    if (!ec) s.non_blocking(true, ec);
    if (ec)
      return Unexpected{"cannot listen on " + at.to_string() + " (STUN): " + ec.message() +
                        " (is the address configured on this host and the port free?)"};
  }
  for (std::size_t i = 0; i < stun->extra_.size(); ++i) stun->receive(i);
  return stun;
}

asio::ip::udp::socket& ColocatedStun::socket(SocketId id) { return id == 0 ? primary_ : extra_[id - 1]->socket; }

void ColocatedStun::receive(std::size_t index) {
  Extra& e = *extra_[index];
  e.socket.async_receive_from(asio::buffer(e.in), e.sender, [this, index](const asio::error_code& ec, std::size_t n) {
    if (ec == asio::error::operation_aborted) return;
    Extra& x = *extra_[index];
    if (!ec) handle(static_cast<SocketId>(index + 1), std::span<const std::uint8_t>(x.in.data(), n), from_asio(x.sender));
    receive(index);
  });
}

void ColocatedStun::on_primary_datagram(std::span<const std::uint8_t> bytes, const Endpoint& from) {
  handle(0, bytes, from);
}

void ColocatedStun::handle(SocketId socket_id, std::span<const std::uint8_t> bytes, const Endpoint& from) {
  auto reply = machine_.handle(Clock::now(), socket_id, from, bytes);
  if (!reply) return;
  asio::error_code ignored;
  // Non-blocking: a full send buffer drops the answer, like the network would.
  socket(reply->socket).send_to(asio::buffer(reply->bytes.data(), reply->bytes.size()), to_asio(reply->to), 0, ignored);
}

}  // namespace natpunch::io

#include "io/stun_server_runner.hpp"

#include <array>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <memory>
#include <vector>

#include "io/asio_convert.hpp"

namespace natpunch::io {

namespace {

constexpr std::size_t kMaxDatagram = 65536;
constexpr std::size_t kMaxResponse = 2048;

struct ServerSocket {
  explicit ServerSocket(asio::io_context& ctx) : socket(ctx) {}
  asio::ip::udp::socket socket;
  stun::SocketIndex index{};
  asio::ip::udp::endpoint sender;
  std::array<std::uint8_t, kMaxDatagram> in{};
};

class Loop {
 public:
  Loop(stun::Server& server, const StunServerRunOptions& options)
      : server_(server), options_(options), signals_(ctx_, SIGINT, SIGTERM), stats_timer_(ctx_) {}

  Result<stun::ServerCounters, std::string> run() {
    std::vector<stun::SocketIndex> indices{stun::SocketIndex::PrimaryIpPrimaryPort};
    if (server_.has_alternate())
      indices = {stun::SocketIndex::PrimaryIpPrimaryPort, stun::SocketIndex::PrimaryIpAltPort,
                 stun::SocketIndex::AltIpPrimaryPort, stun::SocketIndex::AltIpAltPort};
    for (auto index : indices) {
      auto s = std::make_unique<ServerSocket>(ctx_);
      s->index = index;
      auto local = to_asio(server_.socket_endpoint(index));
      asio::error_code ec;
      s->socket.open(local.protocol(), ec);
      if (!ec) s->socket.bind(local, ec);
      if (ec)
        return Unexpected{"cannot listen on " + server_.socket_endpoint(index).to_string() + ": " + ec.message() +
                          " (is the address configured on this host and the port free?)"};
      s->socket.non_blocking(true, ec);
      sockets_[static_cast<std::size_t>(index)] = s.get();
      owned_.push_back(std::move(s));
    }
    if (options_.on_ready)
      for (auto* s : owned_raw())
        options_.on_ready("listening on " + from_asio(s->socket.local_endpoint()).to_string() + " (udp)");
    for (auto* s : owned_raw()) receive(*s);
    signals_.async_wait([this](const asio::error_code& ec, int) {
      if (!ec) ctx_.stop();
    });
    arm_stats_timer();
    ctx_.run();
    if (options_.on_stats) options_.on_stats(server_.counters(), true);
    return server_.counters();
  }

 private:
  std::vector<ServerSocket*> owned_raw() {
    std::vector<ServerSocket*> out;
    for (auto& s : owned_) out.push_back(s.get());
    return out;
  }

  void receive(ServerSocket& s) {
    s.socket.async_receive_from(asio::buffer(s.in), s.sender, [this, &s](const asio::error_code& ec, std::size_t n) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) on_datagram(s, n);
      receive(s);
    });
  }

  void on_datagram(ServerSocket& s, std::size_t n) {
    auto reply = server_.handle(Clock::now(), std::span<const std::uint8_t>(s.in.data(), n), from_asio(s.sender),
                                s.index, out_);
    if (!reply) return;
    auto* from = sockets_[static_cast<std::size_t>(reply->socket)];
    if (!from) from = &s;
    asio::error_code ec;
    // Non-blocking: a full send buffer drops this response, like the network would.
    from->socket.send_to(asio::buffer(out_.data(), reply->length), to_asio(reply->to), 0, ec);
  }

  void arm_stats_timer() {
    if (options_.stats_interval.count() <= 0 || !options_.on_stats) return;
    stats_timer_.expires_after(options_.stats_interval);
    stats_timer_.async_wait([this](const asio::error_code& ec) {
      if (ec) return;
      options_.on_stats(server_.counters(), false);
      arm_stats_timer();
    });
  }

  stun::Server& server_;
  const StunServerRunOptions& options_;
  asio::io_context ctx_;
  asio::signal_set signals_;
  asio::steady_timer stats_timer_;
  std::vector<std::unique_ptr<ServerSocket>> owned_;
  std::array<ServerSocket*, 4> sockets_{};
  std::array<std::uint8_t, kMaxResponse> out_{};
};

}  // namespace

Result<stun::ServerCounters, std::string> run_stun_server(stun::Server& server, const StunServerRunOptions& options) {
  Loop loop(server, options);
  return loop.run();
}

}  // namespace natpunch::io

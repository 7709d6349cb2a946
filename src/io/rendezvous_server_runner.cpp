#include "io/rendezvous_server_runner.hpp"

#include <array>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include "io/asio_convert.hpp"
#include "io/colocated_stun.hpp"

namespace natpunch::io {
namespace {

class Loop {
 public:
  Loop(rendezvous::Server& server, const RendezvousServerRunOptions& options)
      : server_(server),
        options_(options),
        socket_(ctx_),
        signals_(ctx_, SIGINT, SIGTERM),
        expiry_timer_(ctx_),
        stats_timer_(ctx_) {}

  Result<rendezvous::ServerCounters, std::string> run() {
    auto local = to_asio(options_.listen);
    asio::error_code ec;
    socket_.open(local.protocol(), ec);
    if (!ec) socket_.bind(local, ec);
    if (ec)
      return Unexpected{"cannot listen on " + options_.listen.to_string() + ": " + ec.message() +
                        " (is the address configured on this host and the port free?)"};
    socket_.non_blocking(true, ec);
    if (options_.stun) {
      auto config = *options_.stun;
      config.primary = from_asio(socket_.local_endpoint());
      auto opened = ColocatedStun::open(ctx_, socket_, std::move(config));
      if (!opened) return Unexpected{opened.error()};
      stun_ = std::move(*opened);
    }
    if (options_.on_ready) {
      std::optional<Endpoint> alternate;
      if (stun_) alternate = stun_->endpoints().back();  // alternate IP and port
      options_.on_ready(from_asio(socket_.local_endpoint()), alternate);
    }
    receive();
    signals_.async_wait([this](const asio::error_code& e, int) {
      if (!e) ctx_.stop();
    });
    arm_expiry_timer();
    arm_stats_timer();
    ctx_.run();
    if (options_.on_stats) options_.on_stats(server_.counters(), true);
    return server_.counters();
  }

 private:
  void receive() {
    socket_.async_receive_from(asio::buffer(in_), sender_, [this](const asio::error_code& ec, std::size_t n) {
      if (ec == asio::error::operation_aborted) return;
      const std::span<const std::uint8_t> bytes(in_.data(), n);
      if (!ec && stun_ && looks_like_stun(bytes)) {
        stun_->on_primary_datagram(bytes, from_asio(sender_));
      } else if (!ec) {
        for (const auto& t : server_.handle(Clock::now(), std::span<const std::uint8_t>(in_.data(), n),
                                            from_asio(sender_))) {
          asio::error_code send_error;
          // Non-blocking: a full send buffer drops the datagram, like the network would.
          socket_.send_to(asio::buffer(t.bytes), to_asio(t.to), 0, send_error);
        }
      }
      receive();
    });
  }

  void arm_expiry_timer() {
    const auto deadline = server_.next_deadline().value_or(Clock::now() + std::chrono::seconds(1));
    expiry_timer_.expires_at(deadline);
    expiry_timer_.async_wait([this](const asio::error_code& ec) {
      if (ec) return;
      server_.on_timer(Clock::now());
      arm_expiry_timer();
    });
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

  rendezvous::Server& server_;
  const RendezvousServerRunOptions& options_;
  asio::io_context ctx_;
  asio::ip::udp::socket socket_;
  asio::signal_set signals_;
  asio::steady_timer expiry_timer_;
  asio::steady_timer stats_timer_;
  asio::ip::udp::endpoint sender_;
  std::array<std::uint8_t, 65536> in_{};
  std::unique_ptr<ColocatedStun> stun_;  // with options.stun
};

}  // namespace

Result<rendezvous::ServerCounters, std::string> run_rendezvous_server(rendezvous::Server& server,
                                                                      const RendezvousServerRunOptions& options) {
  Loop loop(server, options);
  return loop.run();
}

}  // namespace natpunch::io

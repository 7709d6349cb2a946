#include "io/measure_server_runner.hpp"

#include <array>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <vector>

#include "io/asio_convert.hpp"

namespace natpunch::io {

namespace {

struct MeasureSocket {
  explicit MeasureSocket(asio::io_context& ctx) : socket(ctx) {}
  asio::ip::udp::socket socket;
  std::size_t index = 0;
  asio::ip::udp::endpoint sender;
  // Per socket: the reactor may complete receives on several sockets before
  // any handler runs, so a shared buffer would be overwritten.
  std::array<std::uint8_t, 65536> in{};
};

class Loop {
 public:
  Loop(const MeasureServerRunOptions& options)
      : options_(options), signals_(ctx_, SIGINT, SIGTERM), send_timer_(ctx_), stats_timer_(ctx_) {}

  Result<measure::ServerCounters, std::string> run(const MeasureServerSockets& spec, measure::ServerConfig config,
                                                   measure::CollectionSink sink) {
    std::vector<Endpoint> endpoints{spec.main};
    if (spec.range_first != 0)
      for (std::uint32_t p = spec.range_first; p <= spec.range_last; ++p)
        if (p != spec.main.port) endpoints.push_back(Endpoint{spec.main.address, static_cast<std::uint16_t>(p)});
    std::vector<std::uint16_t> ports;
    for (const auto& e : endpoints) {
      auto s = std::make_unique<MeasureSocket>(ctx_);
      s->index = sockets_.size();
      asio::error_code ec;
      auto local = to_asio(e);
      s->socket.open(local.protocol(), ec);
      if (!ec) s->socket.bind(local, ec);
      if (ec)
        return Unexpected{"cannot listen on " + e.to_string() + ": " + ec.message() +
                          " (is the address configured on this host and the port free?)"};
      s->socket.non_blocking(true, ec);
      ports.push_back(s->socket.local_endpoint().port());
      sockets_.push_back(std::move(s));
    }
    config.socket_count = sockets_.size();
    server_.emplace(std::move(config), std::move(ports), std::move(sink));
    if (options_.on_ready) {
      options_.on_ready("listening on " + from_asio(sockets_.front()->socket.local_endpoint()).to_string() +
                        " (udp, main port)");
      if (sockets_.size() > 1)
        options_.on_ready("collecting on " + std::to_string(sockets_.size() - 1) + " more ports " +
                          std::to_string(sockets_[1]->socket.local_endpoint().port()) + "-" +
                          std::to_string(sockets_.back()->socket.local_endpoint().port()));
    }
    for (auto& s : sockets_) receive(*s);
    signals_.async_wait([this](const asio::error_code& ec, int) {
      if (!ec) ctx_.stop();
    });
    arm_stats_timer();
    ctx_.run();
    if (options_.on_stats) options_.on_stats(server_->counters(), true);
    return server_->counters();
  }

 private:
  void receive(MeasureSocket& s) {
    s.socket.async_receive_from(asio::buffer(s.in), s.sender, [this, &s](const asio::error_code& ec, std::size_t n) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        auto reply = server_->handle(Clock::now(), std::span<const std::uint8_t>(s.in.data(), n), from_asio(s.sender),
                                     s.index);
        if (reply) send(*reply);
        arm_send_timer();
      }
      receive(s);
    });
  }

  void send(const measure::Outgoing& out) {
    asio::error_code ec;
    // Non-blocking: a full send buffer drops this reply, like the network would.
    sockets_[out.socket < sockets_.size() ? out.socket : 0]->socket.send_to(
        asio::buffer(out.bytes.data(), out.length), to_asio(out.to), 0, ec);
  }

  void arm_send_timer() {
    const auto deadline = server_->next_deadline();
    if (!deadline) return;
    if (armed_for_ && *armed_for_ <= *deadline) return;
    armed_for_ = *deadline;
    send_timer_.expires_at(*deadline);
    send_timer_.async_wait([this](const asio::error_code& ec) {
      if (ec == asio::error::operation_aborted) return;
      armed_for_.reset();
      for (const auto& out : server_->take_due(Clock::now())) send(out);
      arm_send_timer();
    });
  }

  void arm_stats_timer() {
    if (options_.stats_interval.count() <= 0 || !options_.on_stats) return;
    stats_timer_.expires_after(options_.stats_interval);
    stats_timer_.async_wait([this](const asio::error_code& ec) {
      if (ec) return;
      options_.on_stats(server_->counters(), false);
      arm_stats_timer();
    });
  }

  const MeasureServerRunOptions& options_;
  asio::io_context ctx_;
  asio::signal_set signals_;
  asio::steady_timer send_timer_;
  asio::steady_timer stats_timer_;
  std::optional<TimePoint> armed_for_;
  std::vector<std::unique_ptr<MeasureSocket>> sockets_;
  std::optional<measure::Server> server_;
};

}  // namespace

Result<measure::ServerCounters, std::string> run_measure_server(const MeasureServerSockets& sockets,
                                                                measure::ServerConfig config,
                                                                measure::CollectionSink sink,
                                                                const MeasureServerRunOptions& options) {
  Loop loop(options);
  return loop.run(sockets, std::move(config), std::move(sink));
}

}  // namespace natpunch::io

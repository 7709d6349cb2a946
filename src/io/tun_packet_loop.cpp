#include "io/tun_packet_loop.hpp"

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/signal_set.hpp>
#include <array>
#include <csignal>
#include <memory>

namespace natpunch::io {

namespace {

// Above any MTU a TUN device can have, so the kernel never truncates.
constexpr std::size_t kMaxPacket = 65536;
// Packets handled per wake-up before the signal handler gets a turn.
constexpr int kBatch = 256;

class Loop {
 public:
  Loop(TunDevice& device, const PacketHandler& handler, const TunLoopOptions& options)
      : device_(device), handler_(handler), options_(options), signals_(context_, SIGINT, SIGTERM),
        descriptor_(context_, device.descriptor()) {}

  ~Loop() {
    // The TunDevice owns the descriptor; asio must not close it.
    descriptor_.release();
  }

  Result<TunLoopCounters, std::string> run() {
    signals_.async_wait([this](const asio::error_code& error, int) {
      if (!error) context_.stop();
    });
    wait_readable();
    if (options_.on_ready) options_.on_ready();
    context_.run();
    if (!error_.empty()) return Unexpected{error_};
    return counters_;
  }

 private:
  void wait_readable() {
    descriptor_.async_wait(asio::posix::stream_descriptor::wait_read, [this](const asio::error_code& error) {
      if (error) return;
      if (drain()) wait_readable();
    });
  }

  // False after a read error, which ends the loop.
  bool drain() {
    for (int i = 0; i < kBatch; ++i) {
      auto n = device_.read(buffer_);
      if (!n) {
        error_ = n.error();
        context_.stop();
        return false;
      }
      if (*n == 0) return true;
      ++counters_.read;
      const std::size_t reply = handler_(Clock::now(), std::span(buffer_.data(), *n));
      if (reply == 0) continue;
      auto written = device_.write(std::span(buffer_.data(), reply));
      if (written) {
        ++counters_.written;
      } else if (counters_.write_errors++ == 0 && options_.on_write_error) {
        options_.on_write_error(written.error());
      }
    }
    return true;
  }

  TunDevice& device_;
  const PacketHandler& handler_;
  const TunLoopOptions& options_;
  asio::io_context context_;
  asio::signal_set signals_;
  asio::posix::stream_descriptor descriptor_;
  std::array<std::uint8_t, kMaxPacket> buffer_{};
  TunLoopCounters counters_;
  std::string error_;
};

}  // namespace

Result<TunLoopCounters, std::string> run_tun_loop(TunDevice& device, const PacketHandler& handler,
                                                  const TunLoopOptions& options) {
  auto loop = std::make_unique<Loop>(device, handler, options);  // 64 KiB buffer: not on the stack
  return loop->run();
}

}  // namespace natpunch::io

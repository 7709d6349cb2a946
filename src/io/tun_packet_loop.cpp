#include "io/tun_packet_loop.hpp"

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <array>
#include <csignal>
#include <memory>

namespace natpunch::io {

namespace {

// Above any MTU a TUN device can have, so the kernel never truncates.
constexpr std::size_t kMaxPacket = 65536;
// Packets handled per wake-up before timers and signals get a turn.
constexpr int kBatch = 256;

class Loop {
 public:
  Loop(TunDevice& device, const TunLoopHandlers& handlers, const TunLoopOptions& options)
      : device_(device), handlers_(handlers), options_(options), signals_(context_, SIGINT, SIGTERM),
        descriptor_(context_, device.descriptor()), timer_(context_) {
    writer_ = [this](std::span<const std::uint8_t> packet) { write(packet); };
  }

  ~Loop() {
    // The TunDevice owns the descriptor; asio must not close it.
    descriptor_.release();
  }

  Result<TunLoopCounters, std::string> run() {
    signals_.async_wait([this](const asio::error_code& error, int) {
      if (!error) context_.stop();
    });
    wait_readable();
    if (handlers_.on_timer) handlers_.on_timer(Clock::now(), writer_);
    arm_timer();
    if (options_.on_ready) options_.on_ready();
    context_.run();
    if (!error_.empty()) return Unexpected{error_};
    return counters_;
  }

 private:
  void write(std::span<const std::uint8_t> packet) {
    auto written = device_.write(packet);
    if (written) {
      ++counters_.written;
    } else if (counters_.write_errors++ == 0 && options_.on_write_error) {
      options_.on_write_error(written.error());
    }
  }

  void wait_readable() {
    descriptor_.async_wait(asio::posix::stream_descriptor::wait_read, [this](const asio::error_code& error) {
      if (error) return;
      if (!drain()) return;
      wait_readable();
      arm_timer();
    });
  }

  // Re-arms the timer only when the wanted deadline moved.
  void arm_timer() {
    if (!handlers_.next_deadline || !handlers_.on_timer) return;
    const auto deadline = handlers_.next_deadline();
    if (deadline == armed_) return;
    armed_ = deadline;
    if (!deadline) {
      timer_.cancel();
      return;
    }
    timer_.expires_at(*deadline);
    timer_.async_wait([this](const asio::error_code& error) {
      if (error) return;  // cancelled or re-armed
      armed_.reset();
      handlers_.on_timer(Clock::now(), writer_);
      arm_timer();
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
      handlers_.on_packet(Clock::now(), std::span(buffer_.data(), *n), writer_);
    }
    return true;
  }

  TunDevice& device_;
  const TunLoopHandlers& handlers_;
  const TunLoopOptions& options_;
  asio::io_context context_;
  asio::signal_set signals_;
  asio::posix::stream_descriptor descriptor_;
  asio::steady_timer timer_;
  std::optional<TimePoint> armed_;
  PacketWriter writer_;
  std::array<std::uint8_t, kMaxPacket> buffer_{};
  TunLoopCounters counters_;
  std::string error_;
};

}  // namespace

Result<TunLoopCounters, std::string> run_tun_loop(TunDevice& device, const TunLoopHandlers& handlers,
                                                  const TunLoopOptions& options) {
  auto loop = std::make_unique<Loop>(device, handlers, options);  // 64 KiB buffer: not on the stack
  return loop->run();
}

}  // namespace natpunch::io

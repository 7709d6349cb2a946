#pragma once
// Drives a packet handler on a TUN device until SIGINT/SIGTERM: every packet
// read is handed over with the real clock's `now`, and whatever the handler
// leaves in the buffer is written back into the device.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "core/time.hpp"
#include "io/tun_device.hpp"

namespace natpunch::io {

// Returns how many bytes of `packet` (rewritten in place) to write back
// into the device; 0 drops the packet.
using PacketHandler = std::function<std::size_t(TimePoint now, std::span<std::uint8_t> packet)>;

struct TunLoopCounters {
  std::uint64_t read = 0;
  std::uint64_t written = 0;
  std::uint64_t write_errors = 0;  // e.g. no route for a translated packet
};

struct TunLoopOptions {
  // Called once the signal handlers are in place, before the first packet.
  std::function<void()> on_ready;
  // Called for the first write error only: later ones are only counted.
  std::function<void(const std::string&)> on_write_error;
};

// Runs until SIGINT or SIGTERM (returns the counters) or a read error
// (returns its text).
Result<TunLoopCounters, std::string> run_tun_loop(TunDevice& device, const PacketHandler& handler,
                                                  const TunLoopOptions& options = {});

}  // namespace natpunch::io

#pragma once
// Drives a sans-IO packet processor on a TUN device until SIGINT/SIGTERM:
// every packet read is handed over with the real clock's `now`; whatever the
// processor emits (zero, one or many packets) is written into the device;
// and a timer calls it back at the deadline it asks for (delayed packets,
// reassembly timeouts, background load).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "core/result.hpp"
#include "core/time.hpp"
#include "io/tun_device.hpp"

namespace natpunch::io {

// Writes one packet into the device (counted; errors are counted too).
using PacketWriter = std::function<void(std::span<const std::uint8_t>)>;

struct TunLoopHandlers {
  // One packet read from the device; it may be rewritten in place.
  std::function<void(TimePoint now, std::span<std::uint8_t> packet, const PacketWriter& write)> on_packet;
  // Optional: called at start and whenever next_deadline() has passed.
  std::function<void(TimePoint now, const PacketWriter& write)> on_timer;
  // Optional: when on_timer wants to run next (nullopt: no timer).
  std::function<std::optional<TimePoint>()> next_deadline;
};

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
Result<TunLoopCounters, std::string> run_tun_loop(TunDevice& device, const TunLoopHandlers& handlers,
                                                  const TunLoopOptions& options = {});

}  // namespace natpunch::io

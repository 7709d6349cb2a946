#pragma once
// Other subscribers of the same NAT, sans-IO: `subscribers` synthetic inside
// hosts open new mappings through the real NatTable at `rate` mappings per
// second in total, each from a random internal port to a random remote, and
// never get a reply (so each mapping lives for the pending timeout). Every
// allocator sees them as real traffic: block allocators hand them blocks,
// uniform and Beta allocators lose those ports, sequential ones move on.
//
// The synthetic hosts are 100.127.0.1 upwards (the top /16 of the carrier
// range 100.64.0.0/10, outside any lab subnet); the remotes are
// 198.51.100.250, ports 1024-65535. Nothing is ever sent: only the table
// changes.
#include <cstdint>
#include <optional>

#include "core/rng.hpp"
#include "core/time.hpp"
#include "nat/nat_table.hpp"

namespace natpunch::nat {

struct BackgroundLoadConfig {
  std::uint32_t subscribers = 0;  // 1 .. 65,534
  double rate = 0;                // new mappings per second, all subscribers together; > 0
};

struct BackgroundLoadCounters {
  std::uint64_t opened = 0;
  std::uint64_t refused = 0;  // the table dropped it (ports exhausted, capacity)
};

class BackgroundLoad {
 public:
  // At most this many mappings are opened in one catch-up after a stall.
  static constexpr std::uint64_t kMaxBurst = 10000;

  BackgroundLoad(BackgroundLoadConfig config, NatTable& table, std::uint64_t seed);

  // Opens the mappings due by `now` (the first call starts the clock).
  void run_until(TimePoint now);
  std::optional<TimePoint> next_deadline() const { return next_; }
  const BackgroundLoadCounters& counters() const { return counters_; }

  // The address of synthetic subscriber `index` (0-based).
  static IpAddress subscriber_address(std::uint32_t index);

 private:
  BackgroundLoadConfig config_;
  NatTable& table_;
  Rng rng_;
  Duration interval_;
  std::optional<TimePoint> next_;
  BackgroundLoadCounters counters_;
};

}  // namespace natpunch::nat

#pragma once
// Link impairment for one direction of a path, sans-IO: the lab kernel has
// no netem, so natd delays, jitters, loses, duplicates and reorders packets
// itself. Packets go into a time-ordered queue; the driver asks for the next
// deadline and pops what is due. Time and randomness are injected.
//
// Semantics (close to netem's):
// - loss: each packet is dropped with this probability.
// - duplicate: each surviving packet is sent twice with this probability
//   (the copy gets its own delay draw).
// - delay/jitter: a packet leaves after delay + U(-jitter, +jitter) (never
//   before now). Packets keep their order: a packet never leaves before the
//   one queued ahead of it, so jitter alone does not reorder.
// - reorder: with this probability a packet skips the delay and leaves at
//   once, overtaking those in flight (needs a delay).
// The queue holds at most `queue_limit_bytes`; packets beyond are dropped.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "nat/ipv4_fragmenter.hpp"

namespace natpunch::nat {

struct ImpairmentConfig {
  Duration delay{0};
  Duration jitter{0};
  double loss = 0;
  double duplicate = 0;
  double reorder = 0;
  std::size_t queue_limit_bytes = std::size_t{64} << 20;

  bool active() const { return delay.count() > 0 || jitter.count() > 0 || loss > 0 || duplicate > 0 || reorder > 0; }
};

// Parses "delay=50ms,jitter=10ms,loss=0.05,duplicate=0.01,reorder=0.02"
// (any subset, any order; durations in us, ms or s; probabilities in [0, 1],
// or percentages like 5%). The error names the bad item and what is allowed.
Result<ImpairmentConfig, std::string> parse_impairment(std::string_view text);
// The canonical spelling parse_impairment() accepts, e.g. "delay=50ms,loss=0.05".
std::string to_string(const ImpairmentConfig& config);

struct ImpairmentCounters {
  std::uint64_t offered = 0;
  std::uint64_t lost = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t reordered = 0;
  std::uint64_t overflowed = 0;  // dropped because the queue was full
  std::uint64_t delivered = 0;
};

class PathImpairment {
 public:
  // `config` must come from parse_impairment() (or satisfy its checks).
  PathImpairment(ImpairmentConfig config, std::uint64_t seed) : config_(config), rng_(seed) {}

  // Queues `packet` (copied) under the impairment rules.
  void push(TimePoint now, std::span<const std::uint8_t> packet);
  // Emits every packet due by `now`, in departure order.
  void pop_due(TimePoint now, const PacketEmitter& emit);
  std::optional<TimePoint> next_deadline() const;

  const ImpairmentCounters& counters() const { return counters_; }
  std::size_t queued_bytes() const { return queued_bytes_; }
  const ImpairmentConfig& config() const { return config_; }

 private:
  struct Queued {
    TimePoint departure;
    std::uint64_t sequence = 0;  // ties leave in arrival order
    std::uint32_t buffer = 0;
    bool operator>(const Queued& other) const {
      return departure != other.departure ? departure > other.departure : sequence > other.sequence;
    }
  };

  void enqueue(TimePoint now, std::span<const std::uint8_t> packet);
  bool chance(double probability);

  ImpairmentConfig config_;
  Rng rng_;
  std::priority_queue<Queued, std::vector<Queued>, std::greater<>> queue_;
  std::vector<std::vector<std::uint8_t>> buffers_;
  std::vector<std::uint32_t> free_buffers_;  // reused, so steady traffic does not allocate
  TimePoint last_in_order_departure_{};
  std::uint64_t next_sequence_ = 0;
  std::size_t queued_bytes_ = 0;
  ImpairmentCounters counters_;
};

}  // namespace natpunch::nat

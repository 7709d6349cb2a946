#pragma once
// One direction of a simulated wire: fixed latency, optional jitter and
// random loss, and a largest payload (a path MTU: larger datagrams vanish,
// as on a path that drops what it cannot forward, DF or not). Packets leave in the order they entered: jitter delays a
// packet but never lets it overtake the one before (arrival = max(previous
// arrival, now + latency + U[0, jitter])), which is how most real paths
// behave and what lets the engine treat every link as a FIFO instead of
// pushing every packet through one global priority queue.
//
// The ring of in-flight packets grows to the link's bandwidth-delay product
// once and is then reused, so steady-state sending does not allocate.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/rng.hpp"
#include "core/time.hpp"
#include "sim/packet.hpp"

namespace natpunch::sim {

struct LinkConfig {
  Duration latency{};
  Duration jitter{};  // extra delay, uniform in [0, jitter]
  double loss = 0;    // probability a packet is dropped, in [0, 1]
  std::size_t max_payload = kMaxPayload;  // larger ones are dropped (counted as oversize)
};

struct LinkCounters {
  std::uint64_t sent = 0;
  std::uint64_t lost = 0;
  std::uint64_t oversize = 0;  // payload above the link's max_payload, refused
  std::uint64_t delivered = 0;
};

class Link {
 public:
  Link(const LinkConfig& config, std::uint64_t seed);

  // Puts a packet on the wire at `now`; false when it is lost (or refused).
  bool push(TimePoint now, const Endpoint& from, const Endpoint& to, std::span<const std::uint8_t> payload);

  bool empty() const { return size_ == 0; }
  // Arrival time of the oldest packet; the link must not be empty.
  TimePoint front_arrival() const { return slots_[head_].arrival; }
  Packet& front() { return slots_[head_].packet; }
  void pop();

  const LinkCounters& counters() const { return counters_; }

 private:
  struct Slot {
    TimePoint arrival;
    Packet packet;
  };

  void grow();

  LinkConfig config_;
  Rng rng_;
  std::uint64_t loss_threshold_;  // next_u64() below this drops the packet
  TimePoint last_arrival_{};
  std::vector<Slot> slots_;  // size is a power of two: indices wrap with a mask
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  LinkCounters counters_;
};

}  // namespace natpunch::sim

#pragma once
// The simulator's agenda: a fixed set of event *sources* (each link's FIFO
// head, each host's next timer), each with the time of its next event, and
// the earliest of them is processed next. A topology has a handful of
// sources (two peers behind two NATs: 8), so a linear scan over a dense
// array of times beats a binary heap of every packet in flight: no
// per-packet push/pop, no allocation, and it stays in one cache line or two.
// Ties go to the lowest source id, so a run is a pure function of its seed.
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "core/time.hpp"

namespace natpunch::sim {

class EventQueue {
 public:
  using SourceId = std::uint32_t;

  SourceId add_source() {
    times_.push_back(kNever);
    return static_cast<SourceId>(times_.size() - 1);
  }

  void set(SourceId source, std::optional<TimePoint> next) {
    times_[source] = next ? next->time_since_epoch().count() : kNever;
  }
  void set(SourceId source, TimePoint next) { times_[source] = next.time_since_epoch().count(); }
  void clear(SourceId source) { times_[source] = kNever; }

  struct Due {
    SourceId source;
    TimePoint time;
  };
  // The earliest source and its time, or nullopt when nothing is scheduled.
  std::optional<Due> earliest() const {
    Duration::rep best = kNever;
    SourceId best_source = 0;
    for (SourceId i = 0; i < times_.size(); ++i) {
      if (times_[i] < best) {
        best = times_[i];
        best_source = i;
      }
    }
    if (best == kNever) return std::nullopt;
    return Due{best_source, TimePoint(Duration(best))};
  }

 private:
  static constexpr Duration::rep kNever = std::numeric_limits<Duration::rep>::max();
  std::vector<Duration::rep> times_;
};

}  // namespace natpunch::sim

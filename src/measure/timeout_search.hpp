#pragma once
// Which delays to probe next, given what earlier probes showed: the search
// half of the timeout measurement (the probing half is TimeoutProber).
//
// Both searches treat a live probe as proof (a mapping that carried a reply
// after d seconds lived at least d) and a dead one as evidence only (the
// reply may have been lost), so the answer is
//   lower = the largest delay seen alive, upper = the smallest dead above it.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace natpunch::measure {

struct TimeoutSearchResult {
  std::optional<std::uint32_t> lower_s;  // largest delay the mapping survived (0: none survived)
  std::optional<std::uint32_t> upper_s;  // smallest delay it did not, above lower
  bool above_max = false;                // survived the largest delay searched
  bool no_answer = false;                // no probe was conclusive: the server never answered
  std::uint32_t probes = 0;
};

class TimeoutSearch {
 public:
  virtual ~TimeoutSearch() = default;
  // Delays (seconds) to probe now; each will come back through on_outcome.
  virtual std::vector<std::uint32_t> take_starts() = 0;
  // Returns true when the probes still running are no longer needed.
  virtual bool on_outcome(std::uint32_t delay_s, std::optional<bool> alive) = 0;
  virtual bool done() const = 0;
  virtual TimeoutSearchResult result() const = 0;
};

// The thesis's Algorithms 2-5, one probe at a time: delays step, 2 step, ...
// until one fails at D, then the binary search of Algorithm 3/5 on
// [D - step, D] (l <= r; alive: l = mid + 1, else r = mid - 1; answer r).
// Algorithm 2 steps 20 s, Algorithm 4 steps 50 s.
class PaperTimeoutSearch final : public TimeoutSearch {
 public:
  PaperTimeoutSearch(std::uint32_t step_s, std::uint32_t max_s);
  std::vector<std::uint32_t> take_starts() override;
  bool on_outcome(std::uint32_t delay_s, std::optional<bool> alive) override;
  bool done() const override { return done_; }
  TimeoutSearchResult result() const override;

 private:
  void next(std::uint32_t delay_s);
  std::uint32_t step_, max_;
  bool binary_ = false;
  std::int64_t l_ = 0, r_ = 0;
  std::optional<std::uint32_t> to_start_;
  std::uint32_t retries_ = 0;
  bool done_ = false;
  TimeoutSearchResult result_;
  bool any_conclusive_ = false;
};

// Many probes at once: round 1 probes a grid of `parallel` delays spread
// over [1, max] (all started together, so it ends about one timeout after it
// began: once two grid delays above the largest live one have failed, the
// longer probes are dropped); later rounds probe every second between the
// bounds (at most `parallel` at a time) until they are 1 s apart.
class ParallelTimeoutSearch final : public TimeoutSearch {
 public:
  ParallelTimeoutSearch(std::uint32_t parallel, std::uint32_t max_s);
  std::vector<std::uint32_t> take_starts() override;
  bool on_outcome(std::uint32_t delay_s, std::optional<bool> alive) override;
  bool done() const override { return done_; }
  TimeoutSearchResult result() const override;

 private:
  std::uint32_t lower() const;
  std::optional<std::uint32_t> upper() const;
  bool round_can_end() const;
  void plan_round();

  std::uint32_t parallel_, max_;
  std::map<std::uint32_t, bool> known_;  // alive wins over dead for the same delay
  std::multiset<std::uint32_t> outstanding_;
  std::vector<std::uint32_t> to_start_;
  std::uint32_t rounds_ = 0;
  std::uint32_t probes_ = 0;
  bool done_ = false;
};

}  // namespace natpunch::measure

#include "measure/timeout_search.hpp"

#include <algorithm>
#include <utility>

namespace natpunch::measure {

namespace {
// A probe the server never answered is asked again this often before the
// search gives up on that delay.
constexpr std::uint32_t kInconclusiveRetries = 3;
// Rounds after the first before the parallel search settles for wider bounds
// (only repeated losses get this far).
constexpr std::uint32_t kMaxRounds = 6;
}  // namespace

PaperTimeoutSearch::PaperTimeoutSearch(std::uint32_t step_s, std::uint32_t max_s)
    : step_(std::max<std::uint32_t>(1, step_s)), max_(std::max<std::uint32_t>(1, max_s)) {
  to_start_ = std::min(step_, max_);
}

void PaperTimeoutSearch::next(std::uint32_t delay_s) {
  to_start_ = delay_s;
  ++result_.probes;
}

std::vector<std::uint32_t> PaperTimeoutSearch::take_starts() {
  if (!to_start_) return {};
  const auto d = *to_start_;
  to_start_.reset();
  if (result_.probes == 0) result_.probes = 1;
  return {d};
}

bool PaperTimeoutSearch::on_outcome(std::uint32_t delay_s, std::optional<bool> alive) {
  if (done_) return false;
  if (!alive) {
    if (++retries_ > kInconclusiveRetries) {
      done_ = true;
      result_.no_answer = !any_conclusive_;
      return false;
    }
    next(delay_s);
    return false;
  }
  retries_ = 0;
  any_conclusive_ = true;
  if (!binary_) {
    if (*alive) {
      result_.lower_s = delay_s;
      if (delay_s >= max_) {
        result_.above_max = true;
        done_ = true;
      } else {
        next(std::min(delay_s + step_, max_));
      }
      return false;
    }
    // Algorithm 2 line 8 / Algorithm 4 lines 16-17: the last step brackets it.
    binary_ = true;
    l_ = delay_s >= step_ ? delay_s - step_ : 0;
    r_ = delay_s;
    if (!result_.lower_s) result_.lower_s = 0;
  } else if (*alive) {
    l_ = static_cast<std::int64_t>(delay_s) + 1;
  } else {
    r_ = static_cast<std::int64_t>(delay_s) - 1;
  }
  if (l_ <= r_) {
    next(static_cast<std::uint32_t>((l_ + r_) / 2));
  } else {
    done_ = true;
    result_.lower_s = static_cast<std::uint32_t>(std::max<std::int64_t>(0, r_));
    result_.upper_s = static_cast<std::uint32_t>(l_);
  }
  return false;
}

TimeoutSearchResult PaperTimeoutSearch::result() const { return result_; }

ParallelTimeoutSearch::ParallelTimeoutSearch(std::uint32_t parallel, std::uint32_t max_s)
    : parallel_(std::max<std::uint32_t>(2, parallel)), max_(std::max<std::uint32_t>(1, max_s)) {
  const std::uint32_t grid = (max_ + parallel_ - 1) / parallel_;
  for (std::uint32_t d = grid; d < max_; d += grid) to_start_.push_back(d);
  to_start_.push_back(max_);
  rounds_ = 1;
}

std::vector<std::uint32_t> ParallelTimeoutSearch::take_starts() {
  for (auto d : to_start_) outstanding_.insert(d);
  probes_ += static_cast<std::uint32_t>(to_start_.size());
  return std::exchange(to_start_, {});
}

std::uint32_t ParallelTimeoutSearch::lower() const {
  std::uint32_t best = 0;
  for (const auto& [d, alive] : known_)
    if (alive) best = std::max(best, d);
  return best;
}

std::optional<std::uint32_t> ParallelTimeoutSearch::upper() const {
  const auto lo = lower();
  for (const auto& [d, alive] : known_)
    if (!alive && d > lo) return d;
  return std::nullopt;
}

bool ParallelTimeoutSearch::round_can_end() const {
  if (outstanding_.empty()) return true;
  // Two failures above the best live delay, and nothing shorter still
  // running that could move the live bound past them: the rest would only
  // confirm what the failures show.
  const auto lo = lower();
  std::vector<std::uint32_t> dead_above;
  for (const auto& [d, alive] : known_)
    if (!alive && d > lo) dead_above.push_back(d);
  if (dead_above.size() < 2) return false;
  return *outstanding_.begin() > dead_above[1];
}

void ParallelTimeoutSearch::plan_round() {
  const auto lo = lower();
  const auto hi = upper();
  if (!hi) {
    done_ = true;  // survived max (or nothing answered: result() tells which)
    return;
  }
  if (*hi - lo <= 1 || rounds_ > kMaxRounds) {
    done_ = true;
    return;
  }
  ++rounds_;
  std::vector<std::uint32_t> candidates;
  for (std::uint32_t d = lo + 1; d < *hi; ++d) candidates.push_back(d);
  if (candidates.size() > parallel_) {
    std::vector<std::uint32_t> spread;
    for (std::uint32_t i = 1; i <= parallel_; ++i)
      spread.push_back(lo + static_cast<std::uint32_t>((static_cast<std::uint64_t>(*hi - lo) * i) / (parallel_ + 1)));
    spread.erase(std::unique(spread.begin(), spread.end()), spread.end());
    candidates = spread;
  }
  to_start_ = candidates;
}

bool ParallelTimeoutSearch::on_outcome(std::uint32_t delay_s, std::optional<bool> alive) {
  if (done_) return false;
  if (auto it = outstanding_.find(delay_s); it != outstanding_.end()) outstanding_.erase(it);
  if (alive) {
    auto [it, inserted] = known_.emplace(delay_s, *alive);
    if (!inserted && *alive) it->second = true;
  }
  if (!round_can_end()) return false;
  const bool cancel = !outstanding_.empty();
  outstanding_.clear();
  plan_round();
  return cancel;
}

TimeoutSearchResult ParallelTimeoutSearch::result() const {
  TimeoutSearchResult r;
  r.probes = probes_;
  if (known_.empty()) {
    r.no_answer = true;
    return r;
  }
  r.lower_s = lower();
  r.upper_s = upper();
  r.above_max = !r.upper_s && known_.count(max_) && known_.at(max_);
  return r;
}

}  // namespace natpunch::measure

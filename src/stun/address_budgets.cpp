#include "stun/address_budgets.hpp"

#include <algorithm>
#include <chrono>

namespace natpunch::stun {
namespace {

// Seconds since `last` (never negative: a clock that steps backwards must
// not mint tokens), and moves `last` forward.
double elapsed(TimePoint now, TimePoint& last) {
  const double s = std::max(0.0, std::chrono::duration<double>(now - last).count());
  last = std::max(last, now);
  return s;
}

float refilled(float tokens, double seconds, double rate, double burst) {
  return static_cast<float>(std::min(burst, static_cast<double>(tokens) + seconds * rate));
}

// Spins on a set's lock (held for a few dozen instructions by another worker).
class SetLock {
 public:
  SetLock(std::atomic<bool>& lock, bool active) : lock_(active ? &lock : nullptr) {
    if (lock_ == nullptr) return;
    while (lock_->exchange(true, std::memory_order_acquire))
      while (lock_->load(std::memory_order_relaxed)) {
      }
  }
  ~SetLock() {
    if (lock_ != nullptr) lock_->store(false, std::memory_order_release);
  }
  SetLock(const SetLock&) = delete;
  SetLock& operator=(const SetLock&) = delete;

 private:
  std::atomic<bool>* lock_;
};

}  // namespace

AddressBudgets::AddressBudgets(const AddressBudgetConfig& config, bool shared)
    : config_(config),
      shared_(shared),
      set_count_(std::max<std::size_t>(1, (config.max_addresses + kWays - 1) / kWays)) {
  sets_ = std::make_unique<Set[]>(set_count_);
}

AddressBudgets::Entry& AddressBudgets::find(Set& set, TimePoint now, std::uint64_t hash) {
  const std::uint64_t tag = hash == 0 ? 1 : hash;
  Entry* victim = &set.ways[0];
  for (auto& a : set.ways) {
    if (a.tag == tag) {
      const double s = elapsed(now, a.last_seen);
      a.tokens = refilled(a.tokens, s, config_.requests_per_second, config_.burst);
      a.promotions = refilled(a.promotions, s, config_.known_ports_per_second, config_.known_ports_burst);
      return a;
    }
    if (victim->tag != 0 && (a.tag == 0 || a.last_seen < victim->last_seen)) victim = &a;
  }
  *victim = Entry{tag, now, static_cast<float>(config_.burst), static_cast<float>(config_.known_ports_burst)};
  return *victim;
}

AddressBudgets::Charge AddressBudgets::charge(TimePoint now, std::uint64_t hash, bool promote) {
  Set& set = sets_[hash % set_count_];
  SetLock lock(set.locked, shared_);
  Entry& a = find(set, now, hash);
  Charge c;
  if (a.tokens < 1) return c;
  a.tokens -= 1;
  c.allowed = true;
  if (promote && a.promotions >= 1) {
    a.promotions -= 1;
    c.promoted = true;
  }
  return c;
}

}  // namespace natpunch::stun

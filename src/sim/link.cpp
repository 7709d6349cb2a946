#include "sim/link.hpp"

#include <algorithm>
#include <cmath>

namespace natpunch::sim {

Link::Link(const LinkConfig& config, std::uint64_t seed) : config_(config), rng_(seed), slots_(8) {
  const double loss = std::clamp(config.loss, 0.0, 1.0);
  // 2^64 * loss, saturating: loss 1 must drop everything.
  loss_threshold_ = loss >= 1.0 ? ~std::uint64_t{0} : static_cast<std::uint64_t>(std::ldexp(loss, 64));
}

void Link::grow() {
  std::vector<Slot> bigger(slots_.size() * 2);
  for (std::size_t i = 0; i < size_; ++i) {
    const Slot& from = slots_[(head_ + i) & (slots_.size() - 1)];
    bigger[i].arrival = from.arrival;
    bigger[i].packet.assign(from.packet.from, from.packet.to, from.packet.payload());
  }
  slots_ = std::move(bigger);
  head_ = 0;
}

bool Link::push(TimePoint now, const Endpoint& from, const Endpoint& to, std::span<const std::uint8_t> payload) {
  ++counters_.sent;
  if (payload.size() > std::min(config_.max_payload, kMaxPayload)) {
    ++counters_.oversize;
    return false;
  }
  if (loss_threshold_ != 0 && rng_.next_u64() < loss_threshold_) {
    ++counters_.lost;
    return false;
  }
  TimePoint arrival = now + config_.latency;
  if (config_.jitter > Duration::zero())
    arrival += Duration(static_cast<Duration::rep>(rng_.uniform(0, static_cast<std::uint64_t>(config_.jitter.count()))));
  arrival = std::max(arrival, last_arrival_);
  last_arrival_ = arrival;
  if (size_ == slots_.size()) grow();
  Slot& slot = slots_[(head_ + size_) & (slots_.size() - 1)];
  slot.arrival = arrival;
  slot.packet.assign(from, to, payload);
  ++size_;
  return true;
}

void Link::pop() {
  head_ = (head_ + 1) & (slots_.size() - 1);
  --size_;
  ++counters_.delivered;
}

}  // namespace natpunch::sim

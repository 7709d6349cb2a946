#include "rendezvous/stream_guard.hpp"

#include <algorithm>

namespace natpunch::rendezvous {

namespace {
constexpr std::size_t kMinPerAddress = 4;
}

StreamGuard::StreamGuard(StreamLimits limits, std::uint64_t hash_seed)
    : limits_(limits), per_subscriber_(0, SourceKeyHash{hash_seed}) {}

std::size_t StreamGuard::address_cap() const {
  return std::max<std::size_t>(kMinPerAddress,
                               static_cast<std::size_t>(static_cast<double>(limits_.max_connections) * limits_.per_address));
}

std::size_t StreamGuard::open_from(const IpAddress& address) const {
  auto it = per_subscriber_.find(subscriber_key(address));
  return it == per_subscriber_.end() ? 0 : it->second;
}

std::optional<std::uint64_t> StreamGuard::admit(TimePoint now, const IpAddress& peer) {
  if (connections_.size() >= limits_.max_connections) {
    ++counters_.refused_full;
    return std::nullopt;
  }
  const SourceKey subscriber = subscriber_key(peer);
  std::size_t& held = per_subscriber_[subscriber];
  if (held >= address_cap()) {
    ++counters_.refused_address;
    return std::nullopt;
  }
  ++held;
  const std::uint64_t id = ++next_id_;
  connections_.emplace(id, Connection{subscriber, now, std::nullopt, std::nullopt});
  ++counters_.accepted;
  return id;
}

void StreamGuard::on_bytes(TimePoint now, std::uint64_t id, std::size_t whole_frames, bool partial) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  Connection& c = it->second;
  if (whole_frames > 0) {
    c.last_frame = now;
    c.partial_since.reset();  // whatever is left started with this push
  }
  if (!partial) {
    c.partial_since.reset();
  } else if (!c.partial_since) {
    c.partial_since = now;
  }
}

void StreamGuard::release(const SourceKey& subscriber) {
  auto it = per_subscriber_.find(subscriber);
  if (it == per_subscriber_.end()) return;
  if (--it->second == 0) per_subscriber_.erase(it);
}

void StreamGuard::close(std::uint64_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  release(it->second.subscriber);
  connections_.erase(it);
}

std::pair<TimePoint, StreamGuard::Reason> StreamGuard::deadline(const Connection& c) const {
  std::pair<TimePoint, Reason> d = c.last_frame ? std::pair{*c.last_frame + limits_.idle_timeout, Reason::kIdle}
                                                : std::pair{c.accepted + limits_.first_frame_timeout, Reason::kFirst};
  if (c.partial_since && *c.partial_since + limits_.frame_timeout < d.first)
    d = {*c.partial_since + limits_.frame_timeout, Reason::kFrame};
  return d;
}

std::vector<std::uint64_t> StreamGuard::expire(TimePoint now) {
  std::vector<std::uint64_t> expired;
  for (auto it = connections_.begin(); it != connections_.end();) {
    const auto [at, reason] = deadline(it->second);
    if (at > now) {
      ++it;
      continue;
    }
    switch (reason) {
      case Reason::kFirst: ++counters_.timed_out_first; break;
      case Reason::kFrame: ++counters_.timed_out_frame; break;
      case Reason::kIdle: ++counters_.timed_out_idle; break;
    }
    expired.push_back(it->first);
    release(it->second.subscriber);
    it = connections_.erase(it);
  }
  return expired;
}

}  // namespace natpunch::rendezvous

#include "rendezvous/cluster_directory.hpp"

#include <algorithm>
#include <cstring>

namespace natpunch::rendezvous {

std::size_t ClusterDirectory::KeyHash::operator()(const PublicKey& k) const noexcept {
  // Public keys are uniform; a node only learns identities that registered
  // (signed) somewhere in the cluster.
  std::uint64_t h = 0;
  std::memcpy(&h, k.data() + 8, sizeof h);
  return static_cast<std::size_t>(h);
}

ClusterDirectory::ClusterDirectory(DirectoryConfig config) : config_(config) {}

std::vector<ClusterDirectory::Eviction> ClusterDirectory::held(TimePoint now, NodeId node,
                                                               const cluster::HeldRecord& record, bool fresh) {
  std::vector<Eviction> out;
  auto [it, created] = entries_.try_emplace(record.identity);
  Entry& entry = it->second;
  auto& holders = entry.holders;
  if (created) {
    entry.timer_at = now + config_.ttl;
    timers_.push({entry.timer_at, record.identity});
  }
  const bool listening = (record.flags & kHeldListening) != 0;
  auto mine = [&] {
    return std::find_if(holders.begin(), holders.end(),
                        [&](const Holder& h) { return h.node == node && h.instance == record.instance; });
  };
  if (auto same = mine(); same != holders.end()) {
    same->expires = now + config_.ttl;
    same->listening = listening;
    if (fresh) same->stamp = ++next_stamp_;
  } else {
    if (records_ >= config_.max_records) {
      erase_if_empty(record.identity);
      return out;  // full: the registration is served by its node alone
    }
    holders.push_back(Holder{node, record.instance, ++next_stamp_, now + config_.ttl, listening});
    ++records_;
  }
  // The same instance at another node: the client moved; the older copy
  // goes (the announced one, if it is a late renewal of the old place).
  for (std::size_t i = 0; i < holders.size();) {
    const auto announced = mine();
    const Holder& h = holders[i];
    if (h.instance != record.instance || h.node == node) {
      ++i;
      continue;
    }
    const bool other_older = h.stamp < announced->stamp;
    const auto loser = other_older ? holders.begin() + static_cast<std::ptrdiff_t>(i) : announced;
    out.push_back(Eviction{loser->node, record.identity, loser->instance, cluster::EvictReason::Moved});
    holders.erase(loser);
    --records_;
    if (!other_older) break;
  }
  // Over the identity's limit: the newest goes, as if it had been refused.
  while (holders.size() > config_.max_per_identity) {
    auto last = std::max_element(holders.begin(), holders.end(),
                                 [](const Holder& a, const Holder& b) { return a.stamp < b.stamp; });
    out.push_back(Eviction{last->node, record.identity, last->instance, cluster::EvictReason::OverLimit});
    holders.erase(last);
    --records_;
  }
  erase_if_empty(record.identity);
  return out;
}

void ClusterDirectory::released(NodeId node, const PublicKey& identity, std::uint64_t instance) {
  auto it = entries_.find(identity);
  if (it == entries_.end()) return;
  auto& holders = it->second.holders;
  const auto before = holders.size();
  std::erase_if(holders, [&](const Holder& h) { return h.node == node && h.instance == instance; });
  records_ -= before - holders.size();
  erase_if_empty(identity);
}

void ClusterDirectory::drop_node(NodeId node) {
  // Rare (a node left): a pass over the directory.
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto& holders = it->second.holders;
    const auto before = holders.size();
    std::erase_if(holders, [&](const Holder& h) { return h.node == node; });
    records_ -= before - holders.size();
    it = holders.empty() ? entries_.erase(it) : std::next(it);
  }
}

std::optional<NodeId> ClusterDirectory::choose(const PublicKey& identity, NodeId exclude) const {
  auto it = entries_.find(identity);
  if (it == entries_.end()) return std::nullopt;
  const Holder* best = nullptr;
  for (const auto& h : it->second.holders)
    if (h.listening && h.node != exclude && (best == nullptr || h.stamp > best->stamp)) best = &h;
  if (best == nullptr) return std::nullopt;
  return best->node;
}

std::size_t ClusterDirectory::count(const PublicKey& identity) const {
  auto it = entries_.find(identity);
  return it == entries_.end() ? 0 : it->second.holders.size();
}

void ClusterDirectory::erase_if_empty(const PublicKey& identity) {
  auto it = entries_.find(identity);
  if (it != entries_.end() && it->second.holders.empty()) entries_.erase(it);
}

void ClusterDirectory::expire(TimePoint now) {
  while (!timers_.empty() && timers_.top().at <= now) {
    const Timer t = timers_.top();
    timers_.pop();
    auto it = entries_.find(t.identity);
    // Gone, or an older chain of a re-created entry.
    if (it == entries_.end() || it->second.timer_at != t.at) continue;
    auto& holders = it->second.holders;
    const auto before = holders.size();
    std::erase_if(holders, [now](const Holder& h) { return h.expires <= now; });
    records_ -= before - holders.size();
    if (holders.empty()) {
      entries_.erase(it);
      continue;
    }
    TimePoint next = holders.front().expires;
    for (const auto& h : holders) next = std::min(next, h.expires);
    it->second.timer_at = next;
    timers_.push({next, t.identity});
  }
}

std::optional<TimePoint> ClusterDirectory::next_deadline() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.top().at;
}

}  // namespace natpunch::rendezvous

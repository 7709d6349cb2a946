#include "rendezvous/cluster_membership.hpp"

#include <cstring>

#include "core/splitmix.hpp"

namespace natpunch::rendezvous {
namespace {

std::uint64_t score(NodeId node, const PublicKey& identity) {
  // Identities are public keys (uniform); the node id mixes in, so each
  // node's scores are independent.
  std::uint64_t a = 0, b = 0;
  std::memcpy(&a, identity.data(), 8);
  std::memcpy(&b, identity.data() + 8, 8);
  return splitmix64(splitmix64(node ^ a) ^ b);
}

}  // namespace

ClusterMembership::ClusterMembership(NodeId self, MembershipConfig config, TimePoint now)
    : self_(self), config_(config), next_hello_(now) {}

bool ClusterMembership::accept(TimePoint now, NodeId sender, std::uint64_t sequence, bool& changed) {
  changed = false;
  if (sender == self_ || sender == 0) return false;
  if (auto it = members_.find(sender); it != members_.end()) {
    if (!it->second.window.accept(sequence)) return false;
    it->second.last_heard = std::max(it->second.last_heard, now);
    return true;
  }
  if (members_.size() >= config_.max_members) return false;
  Member m;
  if (auto d = departed_.find(sender); d != departed_.end()) {
    m.window = d->second.window;  // its old messages stay spent
    departed_.erase(d);
  }
  if (!m.window.accept(sequence)) return false;
  m.last_heard = now;
  members_.emplace(sender, m);
  changed = true;
  return true;
}

bool ClusterMembership::leave(NodeId sender, TimePoint now) {
  auto it = members_.find(sender);
  if (it == members_.end()) return false;
  if (departed_.size() >= config_.max_departed) {
    auto oldest = departed_.begin();
    for (auto d = departed_.begin(); d != departed_.end(); ++d)
      if (d->second.until < oldest->second.until) oldest = d;
    departed_.erase(oldest);
  }
  departed_[sender] = Departed{now + config_.departed_memory, it->second.window};
  members_.erase(it);
  return true;
}

std::vector<NodeId> ClusterMembership::expire(TimePoint now) {
  std::vector<NodeId> gone;
  for (const auto& [id, m] : members_)
    if (now - m.last_heard >= config_.member_timeout) gone.push_back(id);
  for (auto id : gone) leave(id, now);
  std::erase_if(departed_, [now](const auto& d) { return d.second.until <= now; });
  return gone;
}

NodeId ClusterMembership::home_among(const PublicKey& identity, NodeId self, const std::vector<NodeId>& others) {
  NodeId best = self;
  std::uint64_t best_score = score(self, identity);
  for (auto id : others) {
    const auto s = score(id, identity);
    if (s > best_score || (s == best_score && id > best)) {
      best = id;
      best_score = s;
    }
  }
  return best;
}

NodeId ClusterMembership::home(const PublicKey& identity) const {
  NodeId best = self_;
  std::uint64_t best_score = score(self_, identity);
  for (const auto& [id, m] : members_) {
    const auto s = score(id, identity);
    if (s > best_score || (s == best_score && id > best)) {
      best = id;
      best_score = s;
    }
  }
  return best;
}

std::vector<NodeId> ClusterMembership::members() const {
  std::vector<NodeId> out;
  out.reserve(members_.size());
  for (const auto& [id, m] : members_) out.push_back(id);
  return out;
}

std::optional<TimePoint> ClusterMembership::next_deadline() const {
  TimePoint next = next_hello_;
  for (const auto& [id, m] : members_) next = std::min(next, m.last_heard + config_.member_timeout);
  return next;
}

}  // namespace natpunch::rendezvous

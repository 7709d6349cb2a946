#pragma once
// The home node's view of where an identity is registered across the
// cluster (sans-IO, time passed in): one record per registration
// (node, instance), soft state that the holding nodes announce (Held) when
// a registration is made, renew while it lives, and withdraw (Released)
// when it ends; a record not renewed within `ttl` expires, and a node that
// leaves takes its records with it.
//
// It enforces the one limit no node can enforce alone: an identity holds
// at most `max_per_identity` registrations in the whole cluster. A Held
// that goes over it is answered with an eviction of the newest record (the
// one that went over: as if the node had refused it), and one instance
// announced by a second node (a client that moved) evicts the older copy.
//
// A connect for an identity asks choose(): the newest listening record on
// another node than the asking one.
#include <cstdint>
#include <optional>
#include <queue>
#include <unordered_map>
#include <vector>

#include "core/time.hpp"
#include "rendezvous/cluster_messages.hpp"

namespace natpunch::rendezvous {

struct DirectoryConfig {
  Duration ttl = seconds(120);
  std::size_t max_per_identity = 16;
  std::size_t max_records = 4'000'000;
};

class ClusterDirectory {
 public:
  explicit ClusterDirectory(DirectoryConfig config);

  struct Eviction {
    NodeId node = 0;
    PublicKey identity{};
    std::uint64_t instance = 0;
    cluster::EvictReason reason = cluster::EvictReason::OverLimit;
  };
  // A registration at `node` was made (fresh) or is still alive (renewal).
  // Returns what must be evicted because of it, if anything.
  std::vector<Eviction> held(TimePoint now, NodeId node, const cluster::HeldRecord& record, bool fresh);
  void released(NodeId node, const PublicKey& identity, std::uint64_t instance);
  void drop_node(NodeId node);
  // The node of the newest listening registration of `identity` outside
  // `exclude`, if any.
  std::optional<NodeId> choose(const PublicKey& identity, NodeId exclude) const;
  void expire(TimePoint now);
  std::optional<TimePoint> next_deadline() const;

  std::size_t records() const { return records_; }
  std::size_t identities() const { return entries_.size(); }
  std::size_t count(const PublicKey& identity) const;

 private:
  struct Holder {
    NodeId node = 0;
    std::uint64_t instance = 0;
    std::uint64_t stamp = 0;  // arrival order of its fresh announcement
    TimePoint expires{};
    bool listening = false;
  };
  struct Entry {
    std::vector<Holder> holders;
    TimePoint timer_at{};  // its one live timer (older ones are skipped)
  };
  struct KeyHash {
    std::size_t operator()(const PublicKey& k) const noexcept;
  };
  struct Timer {
    TimePoint at{};
    PublicKey identity{};
    bool operator>(const Timer& o) const { return at > o.at; }
  };
  void erase_if_empty(const PublicKey& identity);

  DirectoryConfig config_;
  std::unordered_map<PublicKey, Entry, KeyHash> entries_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  std::uint64_t next_stamp_ = 0;
  std::size_t records_ = 0;
};

}  // namespace natpunch::rendezvous

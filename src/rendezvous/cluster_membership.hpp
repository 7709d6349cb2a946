#pragma once
// Which rendezvous nodes are alive, as one node sees them (sans-IO, time
// passed in): every node says Hello to all every hello_interval; a node
// not heard from for member_timeout is gone (a Goodbye removes it at
// once). Any message sealed with the cluster key counts as a sign of life.
//
// Each identity has a *home* node: the live node (this one included) with
// the highest hash of (node id, identity) -- rendezvous hashing, so when a
// node comes or goes only the identities homed there move. The home keeps
// the cluster's directory of that identity's registrations
// (cluster_directory.hpp).
//
// Replays: each sender's sequences pass a replay window; the windows of
// departed nodes are kept for `departed_memory` (a captured message of a
// node that left cannot bring it back within that time).
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "core/time.hpp"
#include "rendezvous/cluster_messages.hpp"
#include "rendezvous/replay_window.hpp"

namespace natpunch::rendezvous {

struct MembershipConfig {
  Duration hello_interval = seconds(1);
  Duration member_timeout = seconds(3);
  Duration departed_memory = seconds(600);
  std::size_t max_members = 256;
  std::size_t max_departed = 1024;
};

class ClusterMembership {
 public:
  ClusterMembership(NodeId self, MembershipConfig config, TimePoint now);

  NodeId self() const { return self_; }
  // Accepts `sequence` from `sender` (once; the window moves) and marks it
  // alive. False: a replay, our own id, or a new node while the table is
  // full. `changed` is set when the sender joined.
  bool accept(TimePoint now, NodeId sender, std::uint64_t sequence, bool& changed);
  // A Goodbye: the sender leaves now. True when it was a member.
  bool leave(NodeId sender, TimePoint now);
  // Drops members silent for member_timeout; returns those that left.
  std::vector<NodeId> expire(TimePoint now);

  // The live node responsible for `identity` (self when alone).
  NodeId home(const PublicKey& identity) const;
  // The same, over another member list (for "where did it live before").
  static NodeId home_among(const PublicKey& identity, NodeId self, const std::vector<NodeId>& others);
  std::vector<NodeId> members() const;  // the others, sorted
  std::size_t size() const { return members_.size(); }
  bool is_member(NodeId id) const { return members_.contains(id); }

  bool hello_due(TimePoint now) const { return now >= next_hello_; }
  void hello_sent(TimePoint now) { next_hello_ = now + config_.hello_interval; }
  std::optional<TimePoint> next_deadline() const;

 private:
  struct Member {
    TimePoint last_heard{};
    ReplayWindow window;
  };
  struct Departed {
    TimePoint until{};
    ReplayWindow window;
  };
  NodeId self_;
  MembershipConfig config_;
  TimePoint next_hello_{};
  std::map<NodeId, Member> members_;
  std::map<NodeId, Departed> departed_;
};

}  // namespace natpunch::rendezvous

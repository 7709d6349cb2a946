#pragma once
// What a clustered rendezvous::Server keeps about the cluster (the
// definition its unique_ptr needs where Server is built and destroyed:
// server.cpp and server_cluster.cpp).
#include <map>
#include <optional>
#include <vector>

#include "rendezvous/server.hpp"

namespace natpunch::rendezvous {

struct Server::ClusterState {
  ClusterState(const ClusterConfig& c, NodeId self, DirectoryConfig d, TimePoint now)
      : config(c), membership(self, c.membership, now), directory(d) {}
  ClusterConfig config;
  ClusterMembership membership;
  ClusterDirectory directory;
  std::uint64_t sequence = 0;
  std::vector<ClusterTransmit> outbox;
  // Announcements waiting for their message, per home, in order.
  struct Announcement {
    cluster::HeldRecord record;
    bool released = false;
  };
  std::map<NodeId, std::vector<Announcement>> announcements;
  std::size_t queued = 0;
  std::optional<TimePoint> flush_at;
  std::vector<NodeId> members;  // as of the last change: where homes were
  ClusterCounters counters;
};

}  // namespace natpunch::rendezvous

#include "punch/repunch_aim.hpp"

namespace natpunch::punch {

RepunchAim aim_repunch(SideKnowledge local, SideKnowledge peer, const std::optional<Endpoint>& local_observed,
                       const std::optional<Endpoint>& peer_reported, const std::optional<Endpoint>& peer_last_seen,
                       const IpAddress& peer_registered_address) {
  RepunchAim aim;
  if (local_observed && local_observed->port != 0) local.observed_port = local_observed->port;
  aim.peer_address = peer_registered_address;
  std::optional<Endpoint> peer_at = peer_reported;
  if (!peer_at && peer_last_seen && peer_last_seen->port != 0) peer_at = peer_last_seen;
  if (peer_at) {
    peer.observed_port = peer_at->port;
    aim.peer_address = peer_at->address;
  }
  aim.local = local;
  aim.peer = peer;
  return aim;
}

}  // namespace natpunch::punch

#pragma once
// Where a re-punch aims. It repeats the strategy of the stage that punched
// the first time (the NATs have not changed kind), but each side may be
// somewhere else now: a NAT that forgot its mappings (restart, flush,
// timeout) gives the next packet a new external port, and with a random
// allocator a port far from the old one. So the knowledge both sides
// punched with is updated with
//   - our own endpoint as the rendezvous server saw it last (refreshed when
//     the path died), socket 0's external port, and
//   - the endpoint the peer reported in its REPUNCH / REPUNCH-ACK
//     (punch/session_channel.hpp), else where the punch last reached it,
//     else where it registered.
// For an endpoint-independent NAT the reported endpoint is the one to aim
// at; for a symmetric one it is the freshest hint the port choosers have
// (its allocator's next ports follow it).
#include <optional>

#include "core/endpoint.hpp"
#include "punch/strategy_selection.hpp"

namespace natpunch::punch {

struct RepunchAim {
  SideKnowledge local;
  SideKnowledge peer;
  IpAddress peer_address;
};

RepunchAim aim_repunch(SideKnowledge local, SideKnowledge peer, const std::optional<Endpoint>& local_observed,
                       const std::optional<Endpoint>& peer_reported, const std::optional<Endpoint>& peer_last_seen,
                       const IpAddress& peer_registered_address);

}  // namespace natpunch::punch

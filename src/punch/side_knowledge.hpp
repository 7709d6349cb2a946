#pragma once
// What a peer knows about one side of a session (its own, or the other
// side's as the rendezvous forwarded it), in the form strategy selection
// and the strategies take: the NAT behaviour and port allocator the side
// registered (from `natpunch nat-type`, a carrier profile or `natpunch
// analyze`) plus the external port the rendezvous saw it use.
//
// The allocator is what turns a both-symmetric pair from a naive birthday
// attack into prediction and carrier-ordered probing: with KPN's 256-port
// blocks the peer's next ports are the rest of its current block.
#include <cstdint>

#include "punch/strategy_selection.hpp"
#include "rendezvous/messages.hpp"

namespace natpunch::punch {

// `observed_port`: the side's external port as the rendezvous saw it (the
// port of the socket that registered). A side that registered can send
// UDP, so it is never udp_blocked.
SideKnowledge side_knowledge(const rendezvous::NatInfo& info, std::uint16_t observed_port);

}  // namespace natpunch::punch

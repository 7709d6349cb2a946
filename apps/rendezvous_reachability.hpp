#pragma once
// Why a rendezvous did not answer a command that needs UDP (`probe`'s
// STUN, `turn allocate --rendezvous`'s registration): is UDP blocked on
// this network (the rendezvous answers over TCP only), does the rendezvous
// answer its own messages over UDP (then something else is missing, such
// as --stun-alt), or is nothing there? Each check is bounded and ends at
// once when should_stop says so.
#include <cstdint>
#include <functional>
#include <optional>

#include "core/endpoint.hpp"
#include "core/time.hpp"

namespace natpunch::cli {

inline constexpr Duration kReachabilityCheckTimeout = milliseconds(1500);

// A registration with a fresh identity, released again at once.
bool rendezvous_answers_over_udp(const Endpoint& server, const std::function<bool()>& should_stop);

// The first of its stream listeners -- TCP on `tcp_port` (0: the UDP port's
// number), then `tls_port` (0: not asked) -- that accepts a TCP connection
// (no handshake), or nullopt.
std::optional<Endpoint> rendezvous_stream_answering(const Endpoint& server, std::uint16_t tcp_port,
                                                    std::uint16_t tls_port, const std::function<bool()>& should_stop);

}  // namespace natpunch::cli

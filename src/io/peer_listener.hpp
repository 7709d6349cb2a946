#pragma once
// natpunch::Listener (include/natpunch/session.hpp) over open_peer_session:
// `spare` threads each hold one single-session registration on its own
// socket (open_peer_session in the Listen role); the server offers each
// registration one caller, so every session gets its own socket and
// registration, and the thread then registers afresh for the next caller.
// Open sessions queue (at most `max_ready`) for accept().
#include <cstddef>
#include <memory>

#include "io/peer_session.hpp"

namespace natpunch::io {

Result<std::unique_ptr<Listener>, Error> open_peer_listener(PeerSessionConfig config, unsigned spare,
                                                                   std::size_t max_ready);

}  // namespace natpunch::io

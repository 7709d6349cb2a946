#pragma once
// The public SessionOptions' TURN fields (include/natpunch/session.hpp) ->
// the driver's configuration (io/peer_session.hpp): the transport, the
// user's server resolved, its credentials (given, or minted from the
// server's secret). Checked before anything touches the network.
#include <optional>
#include <string>

#include "io/peer_session.hpp"
#include "natpunch/session.hpp"

namespace natpunch::io {

// Fills config's TURN fields; a one-line reason naming the option when the
// options make no sense (unknown transport, no credentials, a name that
// does not resolve).
std::optional<std::string> apply_turn_options(const SessionOptions& options, PeerSessionConfig& config);

}  // namespace natpunch::io

#pragma once
// Opens the sessions of a real learning run: one natpunch Session to every
// other peer of the group (learn/peer_group.hpp), all at once. For each
// pair the lower key connects and the higher one listens for exactly that
// caller, so both sides agree without talking: one connect() per higher key
// (each on its own thread) and one natpunch::Listener that accepts exactly
// the lower keys, while the same identity connects elsewhere. Each session
// punches with the strategy its two NATs call for and falls back to the relay.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "learn/peer_group.hpp"
#include "natpunch/session.hpp"

namespace natpunch::io {

struct MeshLink {
  std::size_t peer = 0;
  learn::LinkRole role = learn::LinkRole::Connect;
  std::unique_ptr<Session> session;  // null: could not be opened (see error)
  std::string error;
  std::chrono::milliseconds open_time{0};  // from the start of open_learning_mesh
};

// One line of progress about the link to `peer` (may be called from several threads, never at once).
using MeshProgress = std::function<void(std::size_t peer, const std::string& line)>;

// Blocks until every link is open or failed (options.wait bounds each
// connect() and the wait for all callers; options.should_stop ends them early). Returns one entry per other peer,
// in index order.
std::vector<MeshLink> open_learning_mesh(const learn::PeerGroup& group, const SessionOptions& options,
                                         const MeshProgress& progress = {});

}  // namespace natpunch::io

#pragma once
// Who trains with whom in a real run (`natpunch learn --rendezvous`): every
// process gets the same list of public keys (its own included) and derives,
// without talking to the others,
//   - its index: the rank of its own key among the sorted keys, so the list
//     may be given in any order and the shares of the data never collide;
//   - for each pair, who opens the session: the lower key connects, the
//     higher one listens for it (both sides compute the same answer).
// Pure: keys are text in, a group or a message for the user out.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace natpunch::learn {

enum class LinkRole { Connect, Listen };
const char* to_string(LinkRole role);

struct PeerGroup {
  std::vector<std::string> keys;  // 64 lowercase hex digits each, sorted, unique
  std::size_t self = 0;           // index of our own key in `keys`

  std::size_t size() const { return keys.size(); }
  // How we open the session towards peer `other` (!= self).
  LinkRole role_towards(std::size_t other) const { return keys[self] < keys[other] ? LinkRole::Connect : LinkRole::Listen; }
  // The peers that connect to us, in index order.
  std::vector<std::size_t> callers() const;
  // The peers we connect to, in index order.
  std::vector<std::size_t> callees() const;
};

// `list`: keys separated by commas (spaces around them ignored). Fails with
// a one-line message when a key is not 64 hex digits, appears twice, the
// list has fewer than 2 or more than `max_peers` keys, or `own_key` is not
// among them.
Result<PeerGroup, std::string> make_peer_group(std::string_view list, std::string_view own_key, std::size_t max_peers = 64);

}  // namespace natpunch::learn

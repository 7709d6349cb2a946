#include "learn/peer_group.hpp"

#include <algorithm>
#include <cctype>

namespace natpunch::learn {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

// Lowercase 64 hex digits, or empty when `text` is not a key.
std::string normalise_key(std::string_view text) {
  if (text.size() != 64) return {};
  std::string key;
  for (char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
    key.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return key;
}

std::string shown(std::string_view text) {
  return std::string(text.substr(0, 20)) + (text.size() > 20 ? "..." : "");
}

}  // namespace

const char* to_string(LinkRole role) { return role == LinkRole::Connect ? "connect" : "listen"; }

std::vector<std::size_t> PeerGroup::callers() const {
  std::vector<std::size_t> out;
  for (std::size_t p = 0; p < keys.size(); ++p)
    if (p != self && role_towards(p) == LinkRole::Listen) out.push_back(p);
  return out;
}

std::vector<std::size_t> PeerGroup::callees() const {
  std::vector<std::size_t> out;
  for (std::size_t p = 0; p < keys.size(); ++p)
    if (p != self && role_towards(p) == LinkRole::Connect) out.push_back(p);
  return out;
}

Result<PeerGroup, std::string> make_peer_group(std::string_view list, std::string_view own_key, std::size_t max_peers) {
  PeerGroup group;
  while (true) {
    const auto comma = list.find(',');
    const auto item = trim(list.substr(0, comma));
    const auto key = normalise_key(item);
    if (key.empty())
      return Unexpected{std::string("'") + shown(item) +
                        "' is not a public key (64 hex digits; `natpunch keygen --identity FILE` prints one)"};
    group.keys.push_back(key);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  std::sort(group.keys.begin(), group.keys.end());
  if (auto twice = std::adjacent_find(group.keys.begin(), group.keys.end()); twice != group.keys.end())
    return Unexpected{"key " + shown(*twice) + " is listed twice"};
  if (group.keys.size() < 2) return Unexpected{std::string("list every peer's key, your own included: at least 2")};
  if (group.keys.size() > max_peers) return Unexpected{"at most " + std::to_string(max_peers) + " peers"};
  const auto own = normalise_key(own_key);
  const auto it = std::find(group.keys.begin(), group.keys.end(), own);
  if (own.empty() || it == group.keys.end())
    return Unexpected{"our own key " + shown(own_key) + " is not in the list (every peer gets the same list, its own key included)"};
  group.self = static_cast<std::size_t>(it - group.keys.begin());
  return group;
}

}  // namespace natpunch::learn

#pragma once
// What this host learned about the NAT in front of each of its local
// addresses (issue 19 item 1: the probe runs once per local address, not
// once per session). Two levels:
//
//   in process  always: connect, listen --sessions N, learn (a session per
//               peer) and natpunch::connect() called again probe once
//   on disk     when NatCachePolicy::file is set (`--nat-cache`): the
//               next run skips the probe too. One JSON file, written to a
//               temporary file and renamed, mode 0600.
//
// Entries older than the policy's ttl are ignored (a phone moves between
// networks; its local address usually changes with the network, but not
// always). The on-disk cache is opt-in because a local address alone does
// not name a network: two network namespaces (the lab's clients) or two
// Wi-Fi networks may hand out the same address behind different NATs.
#include <chrono>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/endpoint.hpp"
#include "nat/nat_knowledge.hpp"

namespace natpunch::io {

using WallClock = std::chrono::system_clock;

struct NatCacheEntry {
  IpAddress local;
  WallClock::time_point stored;
  nat::NatKnowledge knowledge;
};

struct NatCachePolicy {
  std::filesystem::path file;  // empty: this process only
  std::chrono::seconds ttl{600};
};

// $XDG_CACHE_HOME/natpunch/nat-knowledge.json, else
// $HOME/.cache/natpunch/nat-knowledge.json; empty when neither is set.
std::filesystem::path default_nat_cache_file();

// The file's text -> its entries. Never throws; entries that do not parse
// are skipped (a file is input), and so is anything after the 256th.
std::vector<NatCacheEntry> parse_nat_cache(std::string_view text);
std::string format_nat_cache(std::span<const NatCacheEntry> entries);

// The youngest entry for `local` no older than policy.ttl (the process's
// first, then the file's), or nullopt.
std::optional<NatCacheEntry> find_nat_knowledge(const IpAddress& local, const NatCachePolicy& policy,
                                                WallClock::time_point now);
// Keeps `knowledge` for `local` in the process and, with a file, on disk
// (replacing that address's entry and dropping expired ones). The error
// text when the file could not be written; the process cache has it anyway.
std::optional<std::string> remember_nat_knowledge(const IpAddress& local, const nat::NatKnowledge& knowledge,
                                                  const NatCachePolicy& policy, WallClock::time_point now);
// Empties the process's cache (tests).
void forget_process_nat_knowledge();

}  // namespace natpunch::io

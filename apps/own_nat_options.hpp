#pragma once
// Command-line options about our own NAT, shared by `probe`, `listen` and
// `connect`: the NAT cache (io/nat_knowledge_cache.hpp: in the process
// always, on disk with --nat-cache / --nat-cache-file) and --profile.
#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <optional>
#include <string>

#include "commands.hpp"
#include "io/nat_knowledge_cache.hpp"
#include "io/profile_files.hpp"
#include "nat/profile.hpp"

namespace natpunch::cli {

struct NatCacheOptions {
  bool on_disk = false;
  std::string file;
  int ttl_s = 600;
};

inline void add_nat_cache_options(CLI::App& cmd, NatCacheOptions& o) {
  cmd.add_flag("--nat-cache", o.on_disk,
               "Keep what was learned about the NAT on disk ($XDG_CACHE_HOME/natpunch/nat-knowledge.json) and use "
               "it while fresh (see --nat-cache-ttl) instead of probing again");
  cmd.add_option("--nat-cache-file", o.file, "The on-disk NAT cache in another file (implies --nat-cache)");
  cmd.add_option("--nat-cache-ttl", o.ttl_s, "Seconds a cached NAT is believed")
      ->default_val(600)
      ->check(CLI::Range(1, 7 * 86400));
}

// Warns on stderr when --nat-cache has nowhere to go.
inline io::NatCachePolicy nat_cache_policy(const NatCacheOptions& o) {
  io::NatCachePolicy cache;
  cache.ttl = std::chrono::seconds(o.ttl_s);
  if (!o.file.empty()) {
    cache.file = o.file;
  } else if (o.on_disk) {
    cache.file = io::default_nat_cache_file();
    if (cache.file.empty()) std::cerr << "warning: neither XDG_CACHE_HOME nor HOME is set: no on-disk NAT cache\n";
  }
  return cache;
}

// --profile NAME|FILE: loads it into `profile` (empty text: none); on a
// bad name or file says so in one line and gives the exit code.
inline std::optional<int> load_profile_option(const std::string& text, std::optional<nat::Profile>& profile) {
  if (text.empty()) return std::nullopt;
  auto loaded = io::load_profile_by_name(text, io::default_profile_directories());
  if (!loaded) {
    std::cerr << "error: --profile: " << loaded.error().to_string() << "\n";
    return kExitUsage;
  }
  profile = std::move(*loaded);
  return std::nullopt;
}

}  // namespace natpunch::cli

#include "io/nat_knowledge_cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "nat/nat_knowledge_json.hpp"

namespace natpunch::io {

namespace {

using Json = nlohmann::json;

constexpr int kFormatVersion = 1;
constexpr std::size_t kMaxEntries = 256;

// This process's knowledge, by local address. The one piece of process-wide
// state here: what the process learned is the process's (every session of
// it shares one NAT per local address).
struct ProcessCache {
  std::mutex mutex;
  std::map<std::string, NatCacheEntry> entries;
};
ProcessCache& process_cache() {
  static ProcessCache cache;
  return cache;
}

std::int64_t unix_ms(WallClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

bool fresh(const NatCacheEntry& e, const NatCachePolicy& policy, WallClock::time_point now) {
  return e.stored <= now + std::chrono::minutes(1) && now - e.stored <= policy.ttl;  // clocks step a little
}

std::vector<NatCacheEntry> read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return parse_nat_cache(text.str());
}

std::optional<std::string> write_file(const std::filesystem::path& file, const std::string& text) {
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  const std::string path = file.string();
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot write NAT cache " + temp + ": " + std::strerror(errno);
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!written || ::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(temp.c_str());
    return "cannot write NAT cache " + path + ": " + why;
  }
  return std::nullopt;
}

}  // namespace

std::filesystem::path default_nat_cache_file() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg == '/')
    return std::filesystem::path(xdg) / "natpunch" / "nat-knowledge.json";
  if (const char* home = std::getenv("HOME"); home && *home == '/')
    return std::filesystem::path(home) / ".cache" / "natpunch" / "nat-knowledge.json";
  return {};
}

std::vector<NatCacheEntry> parse_nat_cache(std::string_view text) {
  std::vector<NatCacheEntry> out;
  try {
    const Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return out;
    const auto version = j.find("version");
    const auto entries = j.find("entries");
    if (version == j.end() || !version->is_number_integer() || version->get<std::int64_t>() != kFormatVersion ||
        entries == j.end() || !entries->is_array())
      return out;
    for (const auto& e : *entries) {
      if (out.size() == kMaxEntries) break;
      if (!e.is_object()) continue;
      const auto local = e.find("local");
      const auto stored = e.find("stored_unix_ms");
      const auto knowledge = e.find("knowledge");
      if (local == e.end() || !local->is_string() || stored == e.end() || !stored->is_number_integer() ||
          knowledge == e.end())
        continue;
      const auto address = IpAddress::parse(local->get<std::string>());
      auto parsed = nat::nat_knowledge_from_json(knowledge->dump());
      const auto ms = stored->get<std::int64_t>();
      // What the clock holds (its nanoseconds end in 2262): a larger count
      // would overflow (fuzz_nat_knowledge: 17,961,544,000,000 ms).
      constexpr std::int64_t kLatestUnixMs =
          std::chrono::duration_cast<std::chrono::milliseconds>(WallClock::duration::max()).count();
      if (!address || !parsed || ms < 0 || ms > kLatestUnixMs) continue;
      out.push_back(NatCacheEntry{*address, WallClock::time_point(std::chrono::milliseconds(ms)), std::move(*parsed)});
    }
  } catch (const std::exception&) {
    // nlohmann reports through exceptions; none may reach the caller.
  }
  return out;
}

std::string format_nat_cache(std::span<const NatCacheEntry> entries) {
  Json list = Json::array();
  for (const auto& e : entries)
    list.push_back(Json{{"local", e.local.to_string()},
                        {"stored_unix_ms", unix_ms(e.stored)},
                        {"knowledge", Json::parse(nat::to_json(e.knowledge))}});
  return Json{{"version", kFormatVersion}, {"entries", list}}.dump(1) + "\n";
}

std::optional<NatCacheEntry> find_nat_knowledge(const IpAddress& local, const NatCachePolicy& policy,
                                                WallClock::time_point now) {
  {
    auto& cache = process_cache();
    std::lock_guard lock(cache.mutex);
    const auto it = cache.entries.find(local.to_string());
    if (it != cache.entries.end() && fresh(it->second, policy, now)) return it->second;
  }
  if (policy.file.empty()) return std::nullopt;
  std::optional<NatCacheEntry> youngest;
  for (auto& e : read_file(policy.file))
    if (e.local == local && fresh(e, policy, now) && (!youngest || e.stored > youngest->stored)) youngest = std::move(e);
  return youngest;
}

std::optional<std::string> remember_nat_knowledge(const IpAddress& local, const nat::NatKnowledge& knowledge,
                                                  const NatCachePolicy& policy, WallClock::time_point now) {
  const NatCacheEntry entry{local, now, knowledge};
  {
    auto& cache = process_cache();
    std::lock_guard lock(cache.mutex);
    cache.entries.insert_or_assign(local.to_string(), entry);
  }
  if (policy.file.empty()) return std::nullopt;
  std::vector<NatCacheEntry> kept{entry};
  for (auto& e : read_file(policy.file))
    if (!(e.local == local) && fresh(e, policy, now) && kept.size() < kMaxEntries) kept.push_back(std::move(e));
  return write_file(policy.file, format_nat_cache(kept));
}

void forget_process_nat_knowledge() {
  auto& cache = process_cache();
  std::lock_guard lock(cache.mutex);
  cache.entries.clear();
}

}  // namespace natpunch::io

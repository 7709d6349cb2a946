#include "rendezvous/nat_info_profile.hpp"

#include <algorithm>
#include <chrono>
#include <limits>

namespace natpunch::rendezvous {
namespace {

// Milliseconds on the wire are u32 (~49 days); longer is "forever" anyway.
std::uint32_t wire_ms(Duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(ms, 0, std::numeric_limits<std::uint32_t>::max()));
}

bool printable_name(const std::string& id) {
  return !id.empty() && id.size() <= kMaxProfileName &&
         std::all_of(id.begin(), id.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

}  // namespace

std::optional<nat::ProfileError> apply_profile(const nat::Profile& profile, NatInfo& info) {
  if (!printable_name(profile.id))
    return nat::ProfileError{profile.file, "id",
                             "the file name (without .json) must be 1-64 printable ASCII characters without spaces"};
  if (profile.allocator) {
    if (auto invalid = nat::validate(*profile.allocator))
      return nat::ProfileError{profile.file, "allocator." + invalid->field, invalid->message};
    info.allocator = profile.allocator;
  }
  if (profile.mapping) info.mapping = *profile.mapping;
  if (profile.filtering) info.filtering = *profile.filtering;
  if (profile.pending_timeout) info.pending_timeout_ms = wire_ms(*profile.pending_timeout);
  if (profile.established_timeout) info.idle_timeout_ms = wire_ms(*profile.established_timeout);
  info.carrier_profile = profile.id;
  return std::nullopt;
}

}  // namespace natpunch::rendezvous

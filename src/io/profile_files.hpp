#pragma once
// Reads carrier profiles (nat/profile.hpp) from disk: the file I/O lives
// here so the NAT model itself stays free of it.
#include <filesystem>
#include <vector>

#include "core/result.hpp"
#include "nat/profile.hpp"

namespace natpunch::io {

// One profile; errors name the file and the field. Never throws.
Result<nat::Profile, nat::ProfileError> load_profile(const std::filesystem::path& file);

// Every *.json in `directory`, in id order; the first bad file is the
// error. Never throws.
Result<std::vector<nat::Profile>, nat::ProfileError> load_profiles(const std::filesystem::path& directory);

}  // namespace natpunch::io

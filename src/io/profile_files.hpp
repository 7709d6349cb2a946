#pragma once
// Reads carrier profiles (nat/profile.hpp) from disk: the file I/O lives
// here so the NAT model itself stays free of it.
#include <filesystem>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "nat/profile.hpp"

namespace natpunch::io {

// One profile; errors name the file and the field. Never throws.
Result<nat::Profile, nat::ProfileError> load_profile(const std::filesystem::path& file);

// Every *.json in `directory`, in id order; the first bad file is the
// error. Never throws.
Result<std::vector<nat::Profile>, nat::ProfileError> load_profiles(const std::filesystem::path& directory);

// `--profile NAME|FILE` (as lab.sh's profile:NAME): text with a '/' or
// ending in ".json" is a file; a NAME is NAME.json in the first of
// `directories` that has it. The error lists the directories tried.
Result<nat::Profile, nat::ProfileError> load_profile_by_name(std::string_view name_or_file,
                                                             const std::vector<std::filesystem::path>& directories);

// Where shipped profiles are looked for: ./profiles, then beside the
// running binary (profiles/, ../profiles for a build directory inside the
// source tree, ../share/natpunch/profiles for an installed one).
std::vector<std::filesystem::path> default_profile_directories();

}  // namespace natpunch::io

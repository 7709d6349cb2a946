#include "io/profile_files.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <system_error>

namespace natpunch::io {

Result<nat::Profile, nat::ProfileError> load_profile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Unexpected{nat::ProfileError{file.string(), "", "cannot be read"}};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Unexpected{nat::ProfileError{file.string(), "", "cannot be read"}};
  return nat::parse_profile(text.str(), file.string());
}

Result<std::vector<nat::Profile>, nat::ProfileError> load_profiles(const std::filesystem::path& directory) {
  std::error_code error;
  std::vector<std::filesystem::path> files;
  for (std::filesystem::directory_iterator it(directory, error), end; !error && it != end; it.increment(error))
    if (it->path().extension() == ".json") files.push_back(it->path());
  if (error) return Unexpected{nat::ProfileError{directory.string(), "", "cannot be listed: " + error.message()}};
  // By id (the stem), so "telia-no" comes before "telia-no-roaming-nl".
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.stem() < b.stem(); });

  std::vector<nat::Profile> profiles;
  for (const auto& file : files) {
    auto profile = load_profile(file);
    if (!profile) return Unexpected{profile.error()};
    profiles.push_back(std::move(profile).value());
  }
  return profiles;
}

}  // namespace natpunch::io

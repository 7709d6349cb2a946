#include "io/profile_files.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <system_error>

#include "io/trace_file.hpp"

namespace natpunch::io {

Result<nat::Profile, nat::ProfileError> load_profile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Unexpected{nat::ProfileError{file.string(), "", "cannot be read"}};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Unexpected{nat::ProfileError{file.string(), "", "cannot be read"}};
  auto profile = nat::parse_profile(text.str(), file.string());
  if (!profile) return profile;
  return resolve_trace(std::move(*profile));
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

Result<nat::Profile, nat::ProfileError> load_profile_by_name(std::string_view name_or_file,
                                                             const std::vector<std::filesystem::path>& directories) {
  const std::string text(name_or_file);
  if (text.empty()) return Unexpected{nat::ProfileError{text, "", "no profile name given"}};
  if (text.find('/') != std::string::npos || text.ends_with(".json")) return load_profile(text);
  std::error_code error;
  std::string tried;
  for (const auto& directory : directories) {
    const auto file = directory / (text + ".json");
    if (std::filesystem::is_regular_file(file, error)) return load_profile(file);
    tried += (tried.empty() ? "" : ", ") + directory.string();
  }
  return Unexpected{nat::ProfileError{text, "", "no such profile (looked for " + text + ".json in " +
                                                     (tried.empty() ? std::string("no directory") : tried) +
                                                     "); give a profile id such as kpn-nl or a path to a .json file"}};
}

std::vector<std::filesystem::path> default_profile_directories() {
  std::vector<std::filesystem::path> directories{"profiles"};
  std::error_code error;
  const auto binary = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    const auto dir = binary.parent_path();
    directories.push_back(dir / "profiles");
    directories.push_back(dir.parent_path() / "profiles");
    directories.push_back(dir.parent_path() / "share" / "natpunch" / "profiles");
  }
  return directories;
}

}  // namespace natpunch::io

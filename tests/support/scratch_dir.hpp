#pragma once
// A test's scratch directory: emptied when made, removed again at the end
// of the test (also when an assertion returns early).
#include <filesystem>
#include <string>
#include <system_error>

namespace natpunch::test_support {

class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name) : path_(std::filesystem::temp_directory_path() / name) {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
    std::filesystem::create_directories(path_);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace natpunch::test_support

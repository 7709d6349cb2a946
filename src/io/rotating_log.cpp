#include "io/rotating_log.hpp"

#include <cerrno>
#include <cstring>

namespace natpunch::io {

Result<RotatingLog, std::string> RotatingLog::open(std::string path, std::string header, std::uint64_t max_bytes) {
  RotatingLog log;
  log.path_ = std::move(path);
  log.header_ = std::move(header);
  log.max_bytes_ = max_bytes;
  if (log.header_.size() + 1 > max_bytes)
    return Unexpected{"the log size limit (" + std::to_string(max_bytes) + " bytes) is smaller than its header"};
  if (!log.start_file("a")) return Unexpected{"cannot open '" + log.path_ + "': " + std::strerror(errno)};
  return log;
}

bool RotatingLog::start_file(const char* mode) {
  file_.reset(std::fopen(path_.c_str(), mode));
  if (!file_) return false;
  std::fseek(file_.get(), 0, SEEK_END);
  const long at = std::ftell(file_.get());
  size_ = at > 0 ? static_cast<std::uint64_t>(at) : 0;
  if (size_ == 0) {
    if (std::fprintf(file_.get(), "%s\n", header_.c_str()) < 0) return false;
    std::fflush(file_.get());
    size_ = header_.size() + 1;
  }
  return true;
}

bool RotatingLog::write_line(std::string_view line) {
  if (!file_) return false;
  const std::uint64_t bytes = line.size() + 1;
  if (size_ + bytes > max_bytes_ && size_ > header_.size() + 1) {
    file_.reset();
    const std::string old = path_ + ".1";
    // A failed rename (the directory went read-only) would leave the file
    // growing: write nothing more rather than exceed the limit.
    if (std::rename(path_.c_str(), old.c_str()) != 0) return false;
    ++rotations_;
    if (!start_file("w")) return false;
  }
  if (size_ + bytes > max_bytes_) return false;  // a line longer than the whole limit
  if (std::fwrite(line.data(), 1, line.size(), file_.get()) != line.size() || std::fputc('\n', file_.get()) == EOF)
    return false;
  std::fflush(file_.get());
  size_ += bytes;
  return true;
}

}  // namespace natpunch::io

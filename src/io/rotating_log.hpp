#pragma once
// An append-only line log (a server's CSV) that never grows past a size:
// when the next line would make the file larger than `max_bytes`, the file
// is renamed to PATH.1 (replacing an older PATH.1) and PATH starts over
// with the header. So the log takes at most 2 x max_bytes of disk however
// fast lines arrive. Each line is flushed when written: Ctrl-C or a crash
// loses nothing already written.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace natpunch::io {

class RotatingLog {
 public:
  // Appends to PATH (a new file starts with `header`, a line of its own).
  static Result<RotatingLog, std::string> open(std::string path, std::string header, std::uint64_t max_bytes);

  // Writes `line` and a newline; false when the disk refused it.
  bool write_line(std::string_view line);
  std::uint64_t rotations() const { return rotations_; }
  const std::string& path() const { return path_; }

 private:
  RotatingLog() = default;
  bool start_file(const char* mode);

  std::string path_;
  std::string header_;
  std::uint64_t max_bytes_ = 0;
  std::uint64_t size_ = 0;
  std::uint64_t rotations_ = 0;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_{nullptr, &std::fclose};
};

}  // namespace natpunch::io

#include "io/rendezvous_identity_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace natpunch::io {
namespace {

constexpr std::string_view kHeader = "natpunch-ed25519-seed-v1";

std::string errno_text() { return std::strerror(errno); }

Result<LoadedIdentity, std::string> create(const std::string& path) {
  rendezvous::Key seed{};
  rendezvous::system_random_bytes()(seed);
  const std::string line = std::string(kHeader) + " " + rendezvous::to_hex(seed) + "\n";
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Unexpected{"cannot create identity file " + temp + ": " + errno_text()};
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  // link() fails if someone created the file meanwhile: never overwrite a key.
  if (!written || ::link(temp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(temp.c_str());
    return Unexpected{"cannot write identity file " + path + ": " + why};
  }
  ::unlink(temp.c_str());
  return LoadedIdentity{rendezvous::Identity::from_seed(seed), true};
}

}  // namespace

Result<LoadedIdentity, std::string> load_or_create_identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return create(path);
    return Unexpected{"cannot read identity file " + path + ": " + errno_text()};
  }
  if (!S_ISREG(st.st_mode)) return Unexpected{"identity file " + path + " is not a regular file"};
  if ((st.st_mode & 077) != 0)
    return Unexpected{"identity file " + path + " is readable by others; run: chmod 600 " + path};
  std::ifstream in(path);
  if (!in) return Unexpected{"cannot read identity file " + path + ": " + errno_text()};
  std::string header, hex, extra;
  in >> header >> hex >> extra;
  rendezvous::Key seed{};
  const auto parsed = rendezvous::parse_public_key(hex);  // same shape: 32 bytes of hex
  if (header != kHeader || !parsed || !extra.empty())
    return Unexpected{"identity file " + path + " is corrupt (expected '" + std::string(kHeader) +
                      " <64 hex digits>'); move it away to create a new identity"};
  std::copy(parsed->begin(), parsed->end(), seed.begin());
  return LoadedIdentity{rendezvous::Identity::from_seed(seed), false};
}

}  // namespace natpunch::io

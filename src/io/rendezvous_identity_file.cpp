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

Result<LoadedSecret, std::string> create(const std::string& path, std::string_view header, const std::string& what) {
  rendezvous::Key secret{};
  rendezvous::system_random_bytes()(secret);
  const std::string line = std::string(header) + " " + rendezvous::to_hex(secret) + "\n";
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Unexpected{"cannot create " + what + " " + temp + ": " + errno_text()};
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  // link() fails if someone created the file meanwhile: never overwrite a key.
  if (!written || ::link(temp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(temp.c_str());
    return Unexpected{"cannot write " + what + " " + path + ": " + why};
  }
  ::unlink(temp.c_str());
  return LoadedSecret{secret, true};
}

}  // namespace

Result<LoadedSecret, std::string> load_or_create_secret(const std::string& path, std::string_view header,
                                                        std::string_view what_view) {
  const std::string what(what_view);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return create(path, header, what);
    return Unexpected{"cannot read " + what + " " + path + ": " + errno_text()};
  }
  if (!S_ISREG(st.st_mode)) return Unexpected{what + " " + path + " is not a regular file"};
  if ((st.st_mode & 077) != 0) return Unexpected{what + " " + path + " is readable by others; run: chmod 600 " + path};
  std::ifstream in(path);
  if (!in) return Unexpected{"cannot read " + what + " " + path + ": " + errno_text()};
  std::string found, hex, extra;
  in >> found >> hex >> extra;
  const auto parsed = rendezvous::parse_public_key(hex);  // same shape: 32 bytes of hex
  if (found != header || !parsed || !extra.empty())
    return Unexpected{what + " " + path + " is corrupt (expected '" + std::string(header) +
                      " <64 hex digits>'); move it away to create a new one"};
  LoadedSecret loaded;
  std::copy(parsed->begin(), parsed->end(), loaded.key.begin());
  return loaded;
}

Result<LoadedIdentity, std::string> load_or_create_identity(const std::string& path) {
  auto secret = load_or_create_secret(path, kHeader, "identity file");
  if (!secret) return Unexpected{secret.error()};
  return LoadedIdentity{rendezvous::Identity::from_seed(secret->key), secret->created};
}

}  // namespace natpunch::io

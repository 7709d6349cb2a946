#include "io/tun_device.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace natpunch::io {

namespace {

std::string errno_text(int error) {
  std::string text = std::strerror(error);
  if (error == EPERM || error == EACCES) text += " (needs root / CAP_NET_ADMIN)";
  return text;
}

// Interface flags live behind a socket ioctl, not the TUN descriptor.
bool set_up(const std::string& name, std::string& error) {
  const int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    error = "cannot open a socket to set " + name + " up: " + errno_text(errno);
    return false;
  }
  ifreq request{};
  std::memcpy(request.ifr_name, name.data(), name.size());
  bool ok = ::ioctl(sock, SIOCGIFFLAGS, &request) == 0;
  if (ok) {
    request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
    ok = ::ioctl(sock, SIOCSIFFLAGS, &request) == 0;
  }
  if (!ok) error = "cannot set " + name + " up: " + errno_text(errno);
  ::close(sock);
  return ok;
}

}  // namespace

Result<TunDevice, std::string> TunDevice::open(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    return Unexpected{"TUN device name '" + name + "' must be 1-" + std::to_string(IFNAMSIZ - 1) + " characters"};
  const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return Unexpected{"cannot open /dev/net/tun: " + errno_text(errno)};
  TunDevice device(fd, name);
  ifreq request{};
  request.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::memcpy(request.ifr_name, name.data(), name.size());
  if (::ioctl(fd, TUNSETIFF, &request) != 0)
    return Unexpected{"cannot create TUN device " + name + ": " + errno_text(errno)};
  std::string error;
  if (!set_up(name, error)) return Unexpected{error};
  return device;
}

std::optional<std::string> TunDevice::accept_local_sources() {
  const std::string path = "/proc/sys/net/ipv4/conf/" + name_ + "/accept_local";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return "cannot open " + path + ": " + errno_text(errno);
  const bool ok = ::write(fd, "1\n", 2) == 2;
  const int error = errno;
  ::close(fd);
  if (!ok) return "cannot write " + path + ": " + errno_text(error);
  return std::nullopt;
}

TunDevice::TunDevice(TunDevice&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), name_(std::move(other.name_)) {}

TunDevice& TunDevice::operator=(TunDevice&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    name_ = std::move(other.name_);
  }
  return *this;
}

TunDevice::~TunDevice() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::size_t, std::string> TunDevice::read(std::span<std::uint8_t> buffer) {
  for (;;) {
    const ssize_t n = ::read(fd_, buffer.data(), buffer.size());
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return std::size_t{0};
    return Unexpected{"cannot read from " + name_ + ": " + errno_text(errno)};
  }
}

Result<std::size_t, std::string> TunDevice::write(std::span<const std::uint8_t> packet) {
  for (;;) {
    const ssize_t n = ::write(fd_, packet.data(), packet.size());
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    return Unexpected{"cannot write to " + name_ + ": " + errno_text(errno)};
  }
}

}  // namespace natpunch::io

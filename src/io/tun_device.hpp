#pragma once
// A Linux TUN device (IFF_TUN | IFF_NO_PI): whole IP packets in and out, no
// link header. The device is not persistent, so the kernel removes it (and
// every route through it) when the descriptor closes, even if the process
// dies without cleaning up.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "core/result.hpp"

namespace natpunch::io {

class TunDevice {
 public:
  // Creates (or attaches to) TUN device `name`, non-blocking, and sets it
  // up. Errors say what failed and why, e.g. "cannot open /dev/net/tun:
  // Permission denied (needs root / CAP_NET_ADMIN)".
  static Result<TunDevice, std::string> open(const std::string& name);

  TunDevice(TunDevice&& other) noexcept;
  TunDevice& operator=(TunDevice&& other) noexcept;
  TunDevice(const TunDevice&) = delete;
  TunDevice& operator=(const TunDevice&) = delete;
  ~TunDevice();

  // One packet into `buffer`; 0 when none is waiting. A packet larger than
  // the buffer is truncated by the kernel, so pass at least the MTU.
  Result<std::size_t, std::string> read(std::span<std::uint8_t> buffer);
  // One packet to the kernel, which routes it as if it arrived on the device.
  Result<std::size_t, std::string> write(std::span<const std::uint8_t> packet);

  // Lets the kernel accept packets written into the device whose source is
  // one of this host's own addresses (sysctl accept_local on the device, gone
  // with it): natd answers inside hosts with ICMP errors from the router's
  // inside address, which would otherwise be dropped as martians.
  // Returns the error text, or nullopt.
  std::optional<std::string> accept_local_sources();

  int descriptor() const { return fd_; }
  const std::string& name() const { return name_; }

 private:
  TunDevice(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  int fd_ = -1;
  std::string name_;
};

}  // namespace natpunch::io

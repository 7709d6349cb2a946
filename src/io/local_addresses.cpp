#include "io/local_addresses.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace natpunch::io {

std::vector<IpAddress> local_addresses(bool v4, std::size_t limit) {
  std::vector<IpAddress> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (const ifaddrs* i = list; i != nullptr && out.size() < limit; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK)) continue;
    IpAddress a;
    if (v4 && i->ifa_addr->sa_family == AF_INET) {
      std::array<std::uint8_t, 4> b{};
      std::memcpy(b.data(), &reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr, 4);
      if (b[0] == 0 || b[0] == 127 || b[0] >= 224 || (b[0] == 169 && b[1] == 254)) continue;
      a = IpAddress::v4(b);
    } else if (!v4 && i->ifa_addr->sa_family == AF_INET6) {
      std::array<std::uint8_t, 16> b{};
      std::memcpy(b.data(), &reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr, 16);
      static constexpr std::array<std::uint8_t, 16> kLoopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
      if (b[0] == 0xff || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || b == kLoopback) continue;
      a = IpAddress::v6(b);
      if (a.is_unspecified()) continue;
    } else {
      continue;
    }
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  ::freeifaddrs(list);
  return out;
}

rendezvous::HostFamilies host_families() {
  return rendezvous::HostFamilies{!local_addresses(true, 1).empty(), !local_addresses(false, 1).empty()};
}

}  // namespace natpunch::io

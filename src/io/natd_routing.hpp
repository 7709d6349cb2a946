#pragma once
// The router-side plumbing natd needs on a Linux router (a lab namespace):
// packets from the LAN and packets for the NAT's public address are routed
// into the TUN device, natd writes the translated packets back, and the
// kernel's main table forwards them.
//
//   ip rule add iif LAN lookup TABLE          (LAN traffic -> TABLE)
//   ip route add default dev TUN table TABLE  (TABLE -> tun)
//   ip route add PUBLIC/32 dev TUN            (traffic for the public IP -> tun)
//   ip neigh add proxy PUBLIC dev WAN         (answer ARP for the public IP)
//   rp_filter off (translated packets come back "from" the tun with
//   sources routed elsewhere), proxy_delay 0 on WAN, ip_forward on.
//
// natd owns this state: install() sets it up once the TUN exists, and
// remove() (also run by the destructor) takes it down again, so stopping
// natd leaves no rule, route or proxy entry behind. If natd is killed
// outright, the routes go with the TUN device; the rule and proxy entry
// stay until the namespace is removed.
#include <string>
#include <vector>

#include "core/result.hpp"

namespace natpunch::io {

struct NatdRoutingPlan {
  std::string lan_interface;
  std::string wan_interface;
  std::string tun_interface;
  std::string public_ip;  // dotted IPv4
  int table = 100;        // policy routing table for LAN traffic
};

class NatdRouting {
 public:
  // Errors name the command that failed and its output.
  static Result<NatdRouting, std::string> install(const NatdRoutingPlan& plan);

  NatdRouting(NatdRouting&& other) noexcept;
  NatdRouting& operator=(NatdRouting&& other) noexcept;
  NatdRouting(const NatdRouting&) = delete;
  NatdRouting& operator=(const NatdRouting&) = delete;
  ~NatdRouting();

  // Undoes install(); idempotent. Failures are ignored (the state may
  // already be gone, e.g. with the TUN device).
  void remove();

 private:
  explicit NatdRouting(NatdRoutingPlan plan) : plan_(std::move(plan)), installed_(true) {}
  NatdRoutingPlan plan_;
  bool installed_ = false;
  std::vector<std::vector<std::string>> undo_;  // commands, run in reverse order
};

// Checks interface names (1-15 characters, no '/', no whitespace) so a bad
// option fails before anything is touched.
bool valid_interface_name(const std::string& name);

}  // namespace natpunch::io

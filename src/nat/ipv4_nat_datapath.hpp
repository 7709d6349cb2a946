#pragma once
// natd's whole datapath, sans-IO: one call per packet read from the TUN
// device, one call per timer tick, and packets to write back come out
// through an emitter. In order:
//   1. side: from the inside prefix = outbound; to the public address = inbound;
//   2. fragments are reassembled (bounded memory) into whole datagrams;
//   3. path MTU (--mtu): too large with DF set -> dropped, and the sender
//      gets "fragmentation needed" from the router's address on its side;
//   4. UDP and ICMP are translated through the NAT model; an inside host's
//      UDP to the public address is hairpinned back inside when the model
//      allows it (NatConfig::hairpinning, the target's filter);
//   5. datagrams above the MTU (or above the egress link MTU after
//      reassembly) are fragmented;
//   6. per-direction impairment (delay, jitter, loss, duplicates, reorder).
// Time comes in as `now`; randomness from seeds; nothing here does I/O.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/time.hpp"
#include "nat/background_load.hpp"
#include "nat/icmp_translator.hpp"
#include "nat/ipv4_fragmenter.hpp"
#include "nat/ipv4_reassembler.hpp"
#include "nat/ipv4_udp_translator.hpp"
#include "nat/nat_table.hpp"
#include "nat/path_impairment.hpp"

namespace natpunch::nat {

struct Ipv4Prefix {
  std::uint32_t network = 0;  // host order, masked
  std::uint32_t mask = 0;
  bool contains(std::uint32_t address) const { return (address & mask) == network; }
};

struct DatapathConfig {
  Ipv4Prefix inside;
  std::uint32_t public_address = 0;   // host order
  std::uint32_t inside_gateway = 0;   // the router's inside address: source of ICMP errors to inside hosts
  // The path MTU natd enforces in both directions (nullopt: none).
  std::optional<std::size_t> path_mtu;
  // Without path_mtu, reassembled datagrams larger than this are fragmented
  // again before they are written (the links' MTU).
  std::size_t link_mtu = 1500;
  ImpairmentConfig impair_outbound;
  ImpairmentConfig impair_inbound;
  ReassemblyLimits reassembly;
  std::optional<BackgroundLoadConfig> background;
  std::uint64_t seed = 1;
};

struct DatapathCounters {
  std::uint64_t outbound = 0;  // translated inside -> outside
  std::uint64_t inbound = 0;   // translated outside -> inside
  // inside -> inside through the NAT's public address (NatConfig::hairpinning);
  // counted here, not as outbound or inbound
  std::uint64_t hairpinned = 0;
  std::uint64_t not_ours = 0;  // neither from the inside prefix nor to the public address
  std::uint64_t icmp_translated = 0;
  std::uint64_t too_big = 0;             // dropped for the MTU, "fragmentation needed" sent
  std::uint64_t fragments_received = 0;
  std::uint64_t reassembled = 0;
  std::uint64_t reassembly_expired = 0;
  std::uint64_t fragmented = 0;          // datagrams natd split
  std::uint64_t fragments_sent = 0;
  std::array<std::uint64_t, kPacketErrorCount> malformed{};
  std::array<std::uint64_t, kReassemblyErrorCount> reassembly_errors{};
  std::array<std::uint64_t, 8> dropped{};  // by nat::Drop
};

class Ipv4NatDatapath {
 public:
  // `udp` is the NAT model; the ICMP echo table is made here from the
  // public address. The caller keeps `udp` alive.
  Ipv4NatDatapath(NatTable& udp, NatTable queries, DatapathConfig config);
  // The translators hold references into this object.
  Ipv4NatDatapath(const Ipv4NatDatapath&) = delete;
  Ipv4NatDatapath& operator=(const Ipv4NatDatapath&) = delete;

  // One packet from the device (rewritten in place when that is all it needs).
  void handle(TimePoint now, std::span<std::uint8_t> packet, const PacketEmitter& emit);
  // Timers: impaired packets now due, reassembly timeouts, background load.
  void poll(TimePoint now, const PacketEmitter& emit);
  std::optional<TimePoint> next_deadline() const;

  const DatapathCounters& counters() const { return counters_; }
  const std::optional<PathImpairment>& impairment(Side from) const {
    return from == Side::Inside ? impair_outbound_ : impair_inbound_;
  }
  const std::optional<BackgroundLoad>& background() const { return background_; }
  const DatapathConfig& config() const { return config_; }

 private:
  void process(TimePoint now, Side from, std::span<std::uint8_t> packet, const Ipv4Header& header,
               const PacketEmitter& emit);
  void send(TimePoint now, Side from, std::span<const std::uint8_t> packet, const PacketEmitter& emit);
  void send_whole(TimePoint now, Side from, std::span<const std::uint8_t> packet, const PacketEmitter& emit);

  NatTable& udp_table_;
  NatTable query_table_;
  DatapathConfig config_;
  Ipv4UdpTranslator udp_;
  IcmpTranslator icmp_;
  Ipv4Reassembler reassembler_;
  std::optional<PathImpairment> impair_outbound_;
  std::optional<PathImpairment> impair_inbound_;
  std::optional<BackgroundLoad> background_;
  std::vector<std::uint8_t> fragment_scratch_;
  std::array<std::uint8_t, 576> icmp_scratch_{};
  DatapathCounters counters_;
};

}  // namespace natpunch::nat

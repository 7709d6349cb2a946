#pragma once
// The discrete-event simulator: hosts running sans-IO machines, NAT boxes
// built from the NAT model, and the links between them, all in virtual time.
//
// Topology: every NAT box and every public host is an "attachment" to the
// internet with an uplink config (latency, jitter, loss each way); hosts
// behind a NAT hang off it by a pair of access links. Between two
// attachments that talk there is one directed *path* link (made on first
// use) whose latency is the sender's uplink plus the receiver's, so a packet from A behind NAT a to B
// behind NAT b crosses: A.up -> a (outbound translation) -> path(a, b) ->
// b (inbound filter) -> B.down -> B. Routing by destination address happens
// when a packet enters its path, so the internet core costs no event.
//
// Every link and every host is one event source in the EventQueue; one
// step() processes the single earliest event (one packet leaving a link, or
// one host timer). Nothing allocates per packet once links have warmed up.
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/result.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "nat/nat_config.hpp"
#include "sim/event_queue.hpp"
#include "sim/host_app.hpp"
#include "sim/link.hpp"
#include "sim/nat_box.hpp"

namespace natpunch::sim {

using HostId = std::uint32_t;
using NatId = std::uint32_t;

struct NetworkCounters {
  std::uint64_t events = 0;
  std::uint64_t unroutable = 0;  // no host or NAT owns the destination address
  std::uint64_t filtered = 0;    // dropped by filter
};

class Network {
 public:
  explicit Network(std::uint64_t seed);
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  // A NAT on the internet, reachable at its config's public addresses.
  // Fails (with the field at fault) when the config is invalid.
  Result<NatId, nat::NatConfigError> add_nat(const nat::NatConfig& config, const LinkConfig& uplink);
  // A host with a public address on the internet. `app` must outlive the network.
  HostId add_public_host(const IpAddress& address, const LinkConfig& uplink, HostApp& app);
  // A host inside `nat` at the internal address `address`.
  HostId add_inside_host(NatId nat, const IpAddress& address, const LinkConfig& access, HostApp& app);
  // Another address owned by a public host (e.g. a STUN server's alternate IP).
  void add_address(HostId host, const IpAddress& address);
  // A public address of its own for any host, over its own uplink (a
  // dual-stack phone: IPv4 behind its NAT, IPv6 routed): what the host
  // sends from `address` leaves there, what is sent to it arrives.
  void add_public_address(HostId host, const IpAddress& address, const LinkConfig& uplink);

  // Asks host `host` for its next deadline again: for a host whose state
  // changed from outside the network (a test, a scripted attacker).
  void wake(HostId host) { reschedule_host(host); }

  // Processes the earliest event if it is due no later than `limit`;
  // false when nothing is due by then (time stops at the last event).
  bool step(TimePoint limit);
  // Steps until `stop()` holds or nothing is due by `limit`.
  template <class Stop>
  void run(TimePoint limit, Stop&& stop) {
    while (!stop() && step(limit)) {
    }
  }
  // Time passes to `t` (when nothing is due before it: after run(t, ...)
  // stopped for want of events, which leaves time at the last one).
  void advance_to(TimePoint t) {
    if (t > now_) now_ = t;
  }
  // A host's app was called between steps (a test's application sends):
  // its next deadline may have moved.
  void reschedule(HostId host) { reschedule_host(host); }

  // Drops a packet when it returns true: an outage of one path while others
  // work, a phone out of coverage, a blocked port. Asked where a host sends
  // (`from`: the host's own endpoint, inside its NAT if it has one) and
  // where a packet enters the internet core (`from`: the public source,
  // after NAT translation). Empty: nothing is dropped.
  std::function<bool(TimePoint now, const Endpoint& from, const Endpoint& to)> filter;

  TimePoint now() const { return now_; }
  const NetworkCounters& counters() const { return counters_; }
  NatBox& nat(NatId id) { return nats_[id]; }
  const Link& link(std::uint32_t id) const { return links_[id]; }
  // Packets every link lost so far.
  std::uint64_t lost_packets() const;

 private:
  friend class Outbox;

  // Where a link delivers.
  enum class Sink : std::uint8_t { NatOutbound, NatInbound, Host };
  struct LinkEnd {
    Sink sink;
    std::uint32_t index;  // NAT or host id
  };
  struct Host {
    HostApp* app;
    std::uint32_t up;          // access link to its NAT; unused for public hosts
    std::uint32_t down;        // access link from its NAT; unused for public hosts
    std::uint32_t attachment;  // public hosts: their attachment; kNone behind a NAT
    EventQueue::SourceId timer;
    std::vector<std::pair<IpAddress, std::uint32_t>> own{};  // add_public_address: address, attachment
  };
  // A NAT or public host on the internet.
  struct Attachment {
    LinkConfig uplink;
    LinkEnd end;                       // where packets for it are delivered
    std::vector<std::uint32_t> paths;  // path link to each attachment by index, kNone until first used
  };
  struct Route {
    IpAddress address;
    std::uint32_t attachment;
  };
  static constexpr std::uint32_t kNone = 0xffffffffU;

  std::uint32_t add_link(const LinkConfig& config, LinkEnd end);
  std::uint32_t add_attachment(const LinkConfig& uplink, LinkEnd end);
  void send_from_host(TimePoint now, HostId host, const Endpoint& from, const Endpoint& to,
                      std::span<const std::uint8_t> payload);
  void push(TimePoint now, std::uint32_t link, const Endpoint& from, const Endpoint& to,
            std::span<const std::uint8_t> payload);
  // Onto the path from attachment `from_attachment` to whoever owns `to`.
  void send_on_internet(TimePoint now, std::uint32_t from_attachment, const Endpoint& from, const Endpoint& to,
                        std::span<const std::uint8_t> payload);
  std::uint32_t path(std::uint32_t from_attachment, std::uint32_t to_attachment);
  void deliver(TimePoint now, std::uint32_t link);
  void reschedule_link(std::uint32_t link);
  void reschedule_host(HostId host);

  Rng rng_;  // seeds each link and NAT, in creation order
  TimePoint now_{};
  EventQueue queue_;
  // A deque, so links made during a run (new paths) never move the packet
  // deliver() is passing on.
  std::deque<Link> links_;
  std::vector<LinkEnd> link_ends_;
  std::vector<EventQueue::SourceId> link_sources_;
  // Per event source: a link id, or a host id with kHostSource set.
  static constexpr std::uint32_t kHostSource = 0x80000000U;
  std::vector<std::uint32_t> source_owner_;
  std::vector<Host> hosts_;
  std::vector<NatBox> nats_;
  std::vector<std::uint32_t> nat_attachment_;  // per NAT
  std::vector<Attachment> attachments_;
  std::vector<Route> routes_;
  NetworkCounters counters_;
};

}  // namespace natpunch::sim

#pragma once
// A NAT's translation state, sans-IO: every operation takes `now`, the port
// allocator draws from the table's own Rng (seeded from the one passed in),
// and nothing here reads a clock or touches a socket. The simulator wraps it
// in a NAT box; tests call it directly with hand-made time.
//
// State (RFC 4787 terms):
// - A mapping binds an internal endpoint (and, for endpoint-dependent
//   mapping, the remote address or address+port) to an external endpoint.
// - A filter entry records that a mapping sent to a remote (address, or
//   address+port); address-dependent and address-and-port-dependent
//   filtering admit inbound packets only from recorded remotes. When the
//   mapping is at least as specific as the filter (e.g. symmetric NAT with
//   APDF) the mapping itself is the filter entry.
//
// Timers (Table IV; Algorithms 2-5): mappings and filter entries each have
// one. An entry is *pending* until an inbound packet passes through it and
// *established* from then on. Outbound packets refresh the mapping and the
// filter entry towards their remote; an inbound packet that passes refreshes
// both and makes them established. Dropped packets refresh nothing. An entry
// lives while now <= last refresh + timeout (pending or established).
// The mapping and its filter entries time out separately: a filter entry
// never outlives its mapping, and a mapping may outlive its filter entries.
//
// Cost: one or two hash lookups per packet plus amortised O(1) expiry (about
// 125 ns for a new mapping, 17 ns for a dropped inbound probe: see
// bench/RESULTS.md). Entries sit in four intrusive lists (mapping/filter x
// pending/established) kept in expiry order because every entry in a list
// has the same timeout and is appended when refreshed; each call first
// removes the expired heads. After warm-up no packet allocates. Time never
// runs backwards in a table: a `now` earlier than one already seen counts as
// the latest seen.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "core/endpoint.hpp"
#include "core/result.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "nat/flat_index.hpp"
#include "nat/nat_config.hpp"
#include "nat/port_allocator.hpp"

namespace natpunch::nat {

enum class Drop : std::uint8_t {
  TooLarge,             // payload above max_payload (either direction)
  CapacityExceeded,     // the subscriber already holds max_mappings_per_subscriber mappings
  PortsExhausted,       // the allocator has no free port for a new mapping
  HairpinningDisabled,  // outbound to one of the NAT's own public addresses
  NotOurAddress,        // inbound to an address this NAT does not own
  NoMapping,            // inbound to a port that was never mapped
  Expired,              // inbound to a port whose mapping timed out (and was not reused)
  Filtered,             // the mapping exists but its filter refuses this source
};

// "too large", "capacity exceeded", "ports exhausted", "hairpinning disabled",
// "not our address", "no mapping", "expired", "filtered".
std::string_view to_string(Drop drop);

struct Translated {
  enum class Route : std::uint8_t {
    Outside,  // send from `source` to `destination` on the public side
    Hairpin,  // deliver inside to `destination`, an internal endpoint
  };
  Route route = Route::Outside;
  Endpoint source;       // the sender's external endpoint
  Endpoint destination;  // the remote, or the internal target of a hairpinned packet
};

// A new mapping, for logs that need the ground truth (internal -> external).
struct MappingEvent {
  TimePoint time;
  Endpoint internal;
  Endpoint external;
  Endpoint remote;  // the destination of the packet that created it
};
// Must not call back into the NatTable that reports.
using MappingObserver = std::function<void(const MappingEvent&)>;

class NatTable {
 public:
  static Result<NatTable, NatConfigError> create(NatConfig config, Rng& rng);

  // A datagram from inside: `internal` sends `payload_bytes` to `remote`.
  // Creates the mapping (and filter entry) if needed. A hairpinned packet is
  // translated, then filtered by the target mapping as if it had arrived
  // from outside from the sender's external endpoint.
  Result<Translated, Drop> outbound(TimePoint now, const Endpoint& internal, const Endpoint& remote,
                                    std::size_t payload_bytes);
  // A datagram from outside: `remote` sends to our `external` endpoint.
  // Returns the internal endpoint to deliver it to.
  Result<Endpoint, Drop> inbound(TimePoint now, const Endpoint& remote, const Endpoint& external,
                                 std::size_t payload_bytes);
  // The internal endpoint of the live mapping that owns `external`, without
  // filtering or refreshing it: for ICMP errors that quote a datagram the
  // mapping sent (RFC 5508 section 3.2: errors never refresh a mapping).
  std::optional<Endpoint> internal_endpoint(TimePoint now, const Endpoint& external);
  // Removes everything that has timed out by `now` and gives the ports back
  // to the allocator. outbound() and inbound() do this themselves; call it
  // to advance time without traffic.
  void expire(TimePoint now);

  void set_mapping_observer(MappingObserver observer) { observer_ = std::move(observer); }

  std::size_t mapping_count() const { return mapping_index_.size(); }
  // Mappings held by the internal host `address`.
  std::size_t mapping_count(const IpAddress& address) const;
  const NatConfig& config() const { return config_; }

 private:
  static constexpr std::uint32_t kNone = 0xffffffffU;
  // port_owner_ values besides a mapping slot.
  static constexpr std::uint32_t kNeverMapped = 0xffffffffU;
  static constexpr std::uint32_t kMappingExpired = 0xfffffffeU;

  struct TimerLinks {
    std::uint32_t prev = kNone;
    std::uint32_t next = kNone;
  };
  struct TimerList {
    std::uint32_t head = kNone;
    std::uint32_t tail = kNone;
  };
  struct Mapping {
    Endpoint internal;
    Endpoint remote;  // the remote that created it: its key, and its filter entry when specific enough
    TimePoint last_refresh;
    std::uint64_t key_hash = 0;
    TimerLinks timer;  // timer.next doubles as the free-list link
    std::uint32_t subscriber = 0;
    std::uint32_t generation = 0;  // bumped on reuse, so old filter entries never match a new mapping
    std::uint16_t external_port = 0;
    std::uint8_t public_index = 0;
    bool established = false;
  };
  struct FilterEntry {
    Endpoint remote;  // port 0 under address-dependent filtering
    TimePoint last_refresh;
    std::uint64_t key_hash = 0;
    TimerLinks timer;
    std::uint32_t mapping = 0;
    std::uint32_t mapping_generation = 0;
    bool established = false;
  };
  struct Subscriber {
    IpAddress address;
    std::size_t mappings = 0;
    std::uint8_t public_index = 0;
  };

  NatTable(NatConfig config, Rng& rng);

  template <class Entry>
  static void link_tail(std::vector<Entry>& slab, TimerList& list, std::uint32_t slot);
  template <class Entry>
  static void unlink(std::vector<Entry>& slab, TimerList& list, std::uint32_t slot);

  void advance(TimePoint now);
  Result<std::uint32_t, Drop> mapping_for(std::uint64_t key_hash, const Endpoint& internal, const Endpoint& remote);
  std::uint32_t subscriber_for(const IpAddress& address);
  void refresh_mapping(std::uint32_t slot, bool inbound);
  void refresh_filter_entry(std::uint32_t slot, bool inbound);
  void refresh_outbound(std::uint32_t mapping, const Endpoint& remote);
  Result<Endpoint, Drop> admit(const Endpoint& remote, const Endpoint& external);
  void remove_mapping(std::uint32_t slot);
  void remove_filter_entry(std::uint32_t slot);
  std::uint32_t find_filter_entry(std::uint32_t mapping, const Endpoint& remote) const;
  Endpoint external_endpoint(const Mapping& m) const;
  std::uint64_t mapping_key_hash(const Endpoint& internal, const Endpoint& remote) const;
  std::uint64_t filter_key_hash(std::uint32_t mapping, std::uint32_t generation, const Endpoint& remote) const;
  Endpoint filter_key(const Endpoint& remote) const;
  std::optional<std::uint8_t> public_index_of(const IpAddress& address) const;

  NatConfig config_;
  Rng rng_;
  std::uint64_t hash_seed_;
  bool needs_filter_entries_;  // filtering is more specific than mapping
  TimePoint now_{};
  std::vector<std::unique_ptr<PortAllocator>> allocators_;  // one per public address

  std::vector<Mapping> mappings_;
  std::uint32_t free_mappings_ = kNone;
  FlatIndex mapping_index_;
  TimerList pending_mappings_;
  TimerList established_mappings_;

  std::vector<FilterEntry> filters_;
  std::uint32_t free_filters_ = kNone;
  FlatIndex filter_index_;
  TimerList pending_filters_;
  TimerList established_filters_;

  // 65,536 entries per public address: the mapping slot owning each
  // external port, kNeverMapped or kMappingExpired.
  std::vector<std::uint32_t> port_owner_;

  std::vector<Subscriber> subscribers_;
  FlatIndex subscriber_index_;

  MappingObserver observer_;
};

}  // namespace natpunch::nat

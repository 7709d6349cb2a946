#include "nat/nat_table.hpp"

#include <bit>
#include <cassert>
#include <cstring>
#include <utility>

namespace natpunch::nat {
namespace {

constexpr std::size_t kPortsPerAddress = 65536;

// How much of the remote endpoint a behaviour looks at: 0 none, 1 the
// address, 2 address and port. Filter entries are needed exactly when the
// filter looks at more of the remote than the mapping key already does.
int specificity(MappingBehavior m) {
  switch (m) {
    case MappingBehavior::AddressDependent: return 1;
    case MappingBehavior::AddressAndPortDependent: return 2;
    default: return 0;
  }
}
int specificity(FilteringBehavior f) {
  switch (f) {
    case FilteringBehavior::AddressDependent: return 1;
    case FilteringBehavior::AddressAndPortDependent: return 2;
    default: return 0;
  }
}

// Multiply-xorshift hashing. The two word products are independent, so a
// hash costs about two multiplies of latency; the final fold brings the
// high product bits down into the low bits FlatIndex uses for the home slot.
// (A chained splitmix64 per word cost ~15 % of a packet.)
std::uint64_t fold(std::uint64_t x) {
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ULL;
  return x ^ (x >> 32);
}

// IpAddress keeps 16 bytes for either family (zeros after a v4 address), so
// reading all 16 is always in bounds.
std::uint64_t hash_endpoint(std::uint64_t seed, const IpAddress& address, std::uint16_t port) {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  std::memcpy(&hi, address.data(), 8);
  std::memcpy(&lo, address.data() + 8, 8);
  const std::uint64_t tail = (std::uint64_t{port} << 8) | static_cast<std::uint64_t>(address.family());
  const std::uint64_t a = (hi ^ seed) * 0x9e3779b97f4a7c15ULL;
  const std::uint64_t b = (lo ^ (tail << 32) ^ (seed >> 17)) * 0xc2b2ae3d27d4eb4fULL;
  return fold(a ^ std::rotl(b, 29));
}

// Address equality as two 8-byte compares: IpAddress's defaulted == goes
// through a memcmp call, which showed up as 10 % of a packet's cost.
bool same_address(const IpAddress& a, const IpAddress& b) {
  std::uint64_t a_hi = 0, a_lo = 0, b_hi = 0, b_lo = 0;
  std::memcpy(&a_hi, a.data(), 8);
  std::memcpy(&a_lo, a.data() + 8, 8);
  std::memcpy(&b_hi, b.data(), 8);
  std::memcpy(&b_lo, b.data() + 8, 8);
  return ((a_hi ^ b_hi) | (a_lo ^ b_lo)) == 0 && a.family() == b.family();
}

bool same_endpoint(const Endpoint& a, const Endpoint& b) {
  return a.port == b.port && same_address(a.address, b.address);
}

bool same_remote(int level, const Endpoint& a, const Endpoint& b) {
  if (level == 0) return true;
  if (level == 1) return same_address(a.address, b.address);
  return same_endpoint(a, b);
}

}  // namespace

std::string_view to_string(Drop drop) {
  switch (drop) {
    case Drop::TooLarge: return "too large";
    case Drop::CapacityExceeded: return "capacity exceeded";
    case Drop::PortsExhausted: return "ports exhausted";
    case Drop::HairpinningDisabled: return "hairpinning disabled";
    case Drop::NotOurAddress: return "not our address";
    case Drop::NoMapping: return "no mapping";
    case Drop::Expired: return "expired";
    case Drop::Filtered: return "filtered";
  }
  return "unknown";
}

// Intrusive doubly linked timer lists over a slab of entries.
template <class Entry>
void NatTable::link_tail(std::vector<Entry>& slab, TimerList& list, std::uint32_t slot) {
  slab[slot].timer = TimerLinks{list.tail, kNone};
  if (list.tail != kNone) slab[list.tail].timer.next = slot;
  else list.head = slot;
  list.tail = slot;
}

template <class Entry>
void NatTable::unlink(std::vector<Entry>& slab, TimerList& list, std::uint32_t slot) {
  const TimerLinks links = slab[slot].timer;
  if (links.prev != kNone) slab[links.prev].timer.next = links.next;
  else list.head = links.next;
  if (links.next != kNone) slab[links.next].timer.prev = links.prev;
  else list.tail = links.prev;
  slab[slot].timer = TimerLinks{};
}

Result<NatTable, NatConfigError> NatTable::create(NatConfig config, Rng& rng) {
  if (auto error = validate(config)) return Unexpected{std::move(*error)};
  return NatTable(std::move(config), rng);
}

NatTable::NatTable(NatConfig config, Rng& rng)
    : config_(std::move(config)),
      rng_(rng.next_u64()),
      hash_seed_(rng_.next_u64()),
      needs_filter_entries_(specificity(config_.filtering) > specificity(config_.mapping)),
      mapping_index_(1024),
      filter_index_(needs_filter_entries_ ? 1024 : 16),
      port_owner_(kPortsPerAddress * config_.public_addresses.size(), kNeverMapped),
      subscriber_index_(16) {
  for (std::size_t i = 0; i < config_.public_addresses.size(); ++i)
    allocators_.push_back(make_allocator(config_.allocator));
}

std::size_t NatTable::mapping_count(const IpAddress& address) const {
  const std::uint32_t found = subscriber_index_.find(hash_endpoint(hash_seed_, address, 0), [&](std::uint32_t s) {
    return same_address(subscribers_[s].address, address);
  });
  return found == FlatIndex::npos ? 0 : subscribers_[found].mappings;
}

std::optional<std::uint8_t> NatTable::public_index_of(const IpAddress& address) const {
  for (std::size_t i = 0; i < config_.public_addresses.size(); ++i)
    if (same_address(config_.public_addresses[i], address)) return static_cast<std::uint8_t>(i);
  return std::nullopt;
}

Endpoint NatTable::external_endpoint(const Mapping& m) const {
  return Endpoint{config_.public_addresses[m.public_index], m.external_port};
}

std::uint64_t NatTable::mapping_key_hash(const Endpoint& internal, const Endpoint& remote) const {
  // Internal and remote parts hash independently (in parallel), with
  // different seeds so swapping them does not collide.
  const std::uint64_t h = hash_endpoint(hash_seed_, internal.address, internal.port);
  switch (specificity(config_.mapping)) {
    case 0: return h;
    case 1: return h ^ std::rotl(hash_endpoint(~hash_seed_, remote.address, 0), 21);
    default: return h ^ std::rotl(hash_endpoint(~hash_seed_, remote.address, remote.port), 21);
  }
}

Endpoint NatTable::filter_key(const Endpoint& remote) const {
  if (specificity(config_.filtering) == 1) return Endpoint{remote.address, 0};
  return remote;
}

std::uint64_t NatTable::filter_key_hash(std::uint32_t mapping, std::uint32_t generation,
                                        const Endpoint& remote) const {
  return hash_endpoint(hash_seed_ ^ ((std::uint64_t{generation} << 32) | mapping), remote.address, remote.port);
}

std::uint32_t NatTable::find_filter_entry(std::uint32_t mapping, const Endpoint& remote) const {
  const Endpoint key = filter_key(remote);
  const std::uint32_t generation = mappings_[mapping].generation;
  return filter_index_.find(filter_key_hash(mapping, generation, key), [&](std::uint32_t f) {
    const FilterEntry& e = filters_[f];
    return e.mapping == mapping && e.mapping_generation == generation && same_endpoint(e.remote, key);
  });
}

void NatTable::expire(TimePoint now) { advance(now); }

void NatTable::advance(TimePoint now) {
  if (now > now_) now_ = now;
  // Each list is in expiry order, so only its head needs looking at.
  const auto expired = [this](TimePoint last_refresh, Duration timeout) { return now_ - last_refresh > timeout; };
  while (pending_filters_.head != kNone &&
         expired(filters_[pending_filters_.head].last_refresh, config_.pending_timeout))
    remove_filter_entry(pending_filters_.head);
  while (established_filters_.head != kNone &&
         expired(filters_[established_filters_.head].last_refresh, config_.established_timeout))
    remove_filter_entry(established_filters_.head);
  while (pending_mappings_.head != kNone &&
         expired(mappings_[pending_mappings_.head].last_refresh, config_.pending_timeout))
    remove_mapping(pending_mappings_.head);
  while (established_mappings_.head != kNone &&
         expired(mappings_[established_mappings_.head].last_refresh, config_.established_timeout))
    remove_mapping(established_mappings_.head);
}

void NatTable::remove_mapping(std::uint32_t slot) {
  Mapping& m = mappings_[slot];
  // Entries expire in list order, so the next one is likely due soon and,
  // being old, is out of cache.
  if (m.timer.next != kNone) __builtin_prefetch(&mappings_[m.timer.next]);
  unlink(mappings_, m.established ? established_mappings_ : pending_mappings_, slot);
  mapping_index_.erase(m.key_hash, slot);
  port_owner_[m.public_index * kPortsPerAddress + m.external_port] = kMappingExpired;
  allocators_[m.public_index]->release(now_, m.external_port);
  --subscribers_[m.subscriber].mappings;
  // Its filter entries stay until their own timers run out; the new
  // generation makes sure they never match whatever reuses this slot.
  ++m.generation;
  m.timer.next = free_mappings_;
  free_mappings_ = slot;
}

void NatTable::remove_filter_entry(std::uint32_t slot) {
  FilterEntry& f = filters_[slot];
  unlink(filters_, f.established ? established_filters_ : pending_filters_, slot);
  filter_index_.erase(f.key_hash, slot);
  f.timer.next = free_filters_;
  free_filters_ = slot;
}

std::uint32_t NatTable::subscriber_for(const IpAddress& address) {
  const std::uint64_t hash = hash_endpoint(hash_seed_, address, 0);
  const std::uint32_t found =
      subscriber_index_.find(hash, [&](std::uint32_t s) { return same_address(subscribers_[s].address, address); });
  if (found != FlatIndex::npos) return found;
  const auto id = static_cast<std::uint32_t>(subscribers_.size());
  const auto public_index = static_cast<std::uint8_t>(id % config_.public_addresses.size());
  subscribers_.push_back(Subscriber{address, 0, public_index});
  subscriber_index_.insert(hash, id);
  return id;
}

Result<std::uint32_t, Drop> NatTable::mapping_for(std::uint64_t hash, const Endpoint& internal,
                                                  const Endpoint& remote) {
  const int level = specificity(config_.mapping);
  const std::uint32_t found = mapping_index_.find(hash, [&](std::uint32_t slot) {
    const Mapping& m = mappings_[slot];
    return same_endpoint(m.internal, internal) && same_remote(level, m.remote, remote);
  });
  if (found != FlatIndex::npos) return found;

  const std::uint32_t subscriber = subscriber_for(internal.address);
  const std::uint8_t public_index = subscribers_[subscriber].public_index;
  if (config_.max_mappings_per_subscriber && subscribers_[subscriber].mappings >= *config_.max_mappings_per_subscriber)
    return Unexpected{Drop::CapacityExceeded};
  const auto port = allocators_[public_index]->allocate(now_, PortRequest{subscriber, internal.port}, rng_);
  if (!port) return Unexpected{Drop::PortsExhausted};
  std::uint32_t& owner = port_owner_[public_index * kPortsPerAddress + *port];
  assert(owner == kNeverMapped || owner == kMappingExpired);  // allocators never hand out a mapped port

  std::uint32_t slot = free_mappings_;
  if (slot != kNone) {
    free_mappings_ = mappings_[slot].timer.next;
  } else {
    slot = static_cast<std::uint32_t>(mappings_.size());
    mappings_.emplace_back();
  }
  Mapping& m = mappings_[slot];
  m.internal = internal;
  m.remote = remote;
  m.last_refresh = now_;
  m.key_hash = hash;
  m.subscriber = subscriber;
  m.external_port = *port;
  m.public_index = public_index;
  m.established = false;
  link_tail(mappings_, pending_mappings_, slot);
  mapping_index_.insert(hash, slot);
  owner = slot;
  ++subscribers_[subscriber].mappings;
  if (observer_) observer_(MappingEvent{now_, internal, external_endpoint(m), remote});
  return slot;
}

void NatTable::refresh_mapping(std::uint32_t slot, bool inbound) {
  Mapping& m = mappings_[slot];
  unlink(mappings_, m.established ? established_mappings_ : pending_mappings_, slot);
  m.established = m.established || inbound;
  m.last_refresh = now_;
  link_tail(mappings_, m.established ? established_mappings_ : pending_mappings_, slot);
}

void NatTable::refresh_filter_entry(std::uint32_t slot, bool inbound) {
  FilterEntry& f = filters_[slot];
  unlink(filters_, f.established ? established_filters_ : pending_filters_, slot);
  f.established = f.established || inbound;
  f.last_refresh = now_;
  link_tail(filters_, f.established ? established_filters_ : pending_filters_, slot);
}

void NatTable::refresh_outbound(std::uint32_t mapping, const Endpoint& remote) {
  refresh_mapping(mapping, false);
  if (!needs_filter_entries_) return;
  const std::uint32_t existing = find_filter_entry(mapping, remote);
  if (existing != FlatIndex::npos) {
    refresh_filter_entry(existing, false);
    return;
  }
  std::uint32_t slot = free_filters_;
  if (slot != kNone) {
    free_filters_ = filters_[slot].timer.next;
  } else {
    slot = static_cast<std::uint32_t>(filters_.size());
    filters_.emplace_back();
  }
  FilterEntry& f = filters_[slot];
  f.remote = filter_key(remote);
  f.last_refresh = now_;
  f.mapping = mapping;
  f.mapping_generation = mappings_[mapping].generation;
  f.key_hash = filter_key_hash(mapping, f.mapping_generation, f.remote);
  f.established = false;
  link_tail(filters_, pending_filters_, slot);
  filter_index_.insert(f.key_hash, slot);
}

Result<Endpoint, Drop> NatTable::admit(const Endpoint& remote, const Endpoint& external) {
  const auto public_index = public_index_of(external.address);
  if (!public_index) return Unexpected{Drop::NotOurAddress};
  const std::uint32_t owner = port_owner_[*public_index * kPortsPerAddress + external.port];
  if (owner == kNeverMapped) return Unexpected{Drop::NoMapping};
  if (owner == kMappingExpired) return Unexpected{Drop::Expired};

  if (needs_filter_entries_) {
    const std::uint32_t entry = find_filter_entry(owner, remote);
    if (entry == FlatIndex::npos) return Unexpected{Drop::Filtered};
    refresh_filter_entry(entry, true);
  } else if (!same_remote(specificity(config_.filtering), mappings_[owner].remote, remote)) {
    return Unexpected{Drop::Filtered};
  }
  refresh_mapping(owner, true);
  return mappings_[owner].internal;
}

std::optional<Endpoint> NatTable::internal_endpoint(TimePoint now, const Endpoint& external) {
  advance(now);
  const auto public_index = public_index_of(external.address);
  if (!public_index) return std::nullopt;
  const std::uint32_t owner = port_owner_[*public_index * kPortsPerAddress + external.port];
  if (owner == kNeverMapped || owner == kMappingExpired) return std::nullopt;
  return mappings_[owner].internal;
}

Result<Translated, Drop> NatTable::outbound(TimePoint now, const Endpoint& internal, const Endpoint& remote,
                                            std::size_t payload_bytes) {
  // The mapping's index slot is a likely cache miss; fetch it while expiry runs.
  const std::uint64_t key_hash = mapping_key_hash(internal, remote);
  mapping_index_.prefetch(key_hash);
  advance(now);
  if (config_.max_payload && payload_bytes > *config_.max_payload) return Unexpected{Drop::TooLarge};
  const bool to_ourselves = public_index_of(remote.address).has_value();
  if (to_ourselves && !config_.hairpinning) return Unexpected{Drop::HairpinningDisabled};

  auto mapping = mapping_for(key_hash, internal, remote);
  if (!mapping) return Unexpected{mapping.error()};
  refresh_outbound(*mapping, remote);
  if (!to_ourselves) return Translated{Translated::Route::Outside, external_endpoint(mappings_[*mapping]), remote};

  const Endpoint source = external_endpoint(mappings_[*mapping]);
  auto target = admit(source, remote);
  if (!target) return Unexpected{target.error()};
  return Translated{Translated::Route::Hairpin, source, *target};
}

Result<Endpoint, Drop> NatTable::inbound(TimePoint now, const Endpoint& remote, const Endpoint& external,
                                         std::size_t payload_bytes) {
  advance(now);
  if (config_.max_payload && payload_bytes > *config_.max_payload) return Unexpected{Drop::TooLarge};
  return admit(remote, external);
}

}  // namespace natpunch::nat

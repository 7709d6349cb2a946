#pragma once
// The rendezvous server's registrations, laid out for a million of them
// (issue 21): records in chunks whose addresses never move, no node per
// record, no second map from registration id to record, and one small
// open-addressing index by identity whose entries also carry what an
// identity's registrations share.
//
// - A registration id is (tag << 32) | index: the record is found by id in
//   one step, and the tag (random, from the caller) makes an id of a
//   removed record, whose slot was reused, miss.
// - An identity's registrations are a chain through their records, oldest
//   first; the identity index holds the chain's head, the count and the
//   identity's unanswered requests. An identity's key is not stored twice:
//   the index compares against its head record's.
// - The identity index is keyed with the caller's secret seed (identities
//   are the clients' choice) and probes linearly; removal shifts back, so
//   there are no tombstones.
//
// R needs members `identity` (PublicKey), `instance` and `id` (uint64).
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "core/splitmix.hpp"
#include "rendezvous/messages.hpp"

namespace natpunch::rendezvous {

template <class R>
class RegistrationTable {
 public:
  struct IdentityEntry {
    std::uint32_t head = 0;  // index + 1 of the oldest registration; 0: empty slot
    std::uint32_t count = 0;
    std::uint32_t pending_requests = 0;  // unanswered requests of the identity
  };

  explicit RegistrationTable(std::uint64_t seed) : seed_(seed), index_(16) {}

  std::size_t size() const { return size_; }
  std::size_t identities() const { return identities_; }

  R* find(const PublicKey& identity, std::uint64_t instance) {
    const IdentityEntry* e = find_identity(identity);
    if (e == nullptr) return nullptr;
    for (std::uint32_t i = e->head; i != 0; i = entry(i - 1).next)
      if (entry(i - 1).value.instance == instance) return &entry(i - 1).value;
    return nullptr;
  }

  R* find_by_id(std::uint64_t id) {
    const auto index = static_cast<std::uint32_t>(id & 0xffffffffu);
    if (index >= capacity()) return nullptr;
    Entry& e = entry(index);
    return e.live && e.value.id == id ? &e.value : nullptr;
  }

  IdentityEntry* find_identity(const PublicKey& identity) {
    const std::size_t at = probe(identity);
    return index_[at].head == 0 ? nullptr : &index_[at];
  }
  const IdentityEntry* find_identity(const PublicKey& identity) const {
    const std::size_t at = probe(identity);
    return index_[at].head == 0 ? nullptr : &index_[at];
  }
  std::size_t count(const PublicKey& identity) const {
    const IdentityEntry* e = find_identity(identity);
    return e == nullptr ? 0 : e->count;
  }

  // A new registration (none may exist for identity and instance), with
  // id (tag << 32) | index; tag must not be 0. Returns it default-made but
  // for identity, instance and id.
  R& insert(const PublicKey& identity, std::uint64_t instance, std::uint32_t tag) {
    if ((identities_ + 1) * 4 > index_.size() * 3) grow_index();
    std::uint32_t index = free_;
    if (index != 0) {
      --index;
      free_ = entry(index).next;
    } else {
      if (used_ == capacity()) chunks_.push_back(std::make_unique<Entry[]>(kChunk));
      index = used_++;
    }
    Entry& e = entry(index);
    e.live = true;
    e.next = 0;
    e.value.identity = identity;
    e.value.instance = instance;
    e.value.id = (std::uint64_t{tag} << 32) | index;
    ++size_;
    const std::size_t at = probe(identity);
    IdentityEntry& ids = index_[at];
    if (ids.head == 0) {
      ids = IdentityEntry{index + 1, 1, 0};
      ++identities_;
    } else {
      std::uint32_t last = ids.head;
      while (entry(last - 1).next != 0) last = entry(last - 1).next;
      entry(last - 1).next = index + 1;
      ++ids.count;
    }
    return e.value;
  }

  // Removes `r` (a record of this table); the identity goes with its last one.
  void erase(R& r) {
    const auto index = static_cast<std::uint32_t>(r.id & 0xffffffffu);
    const std::size_t at = probe(r.identity);
    IdentityEntry& ids = index_[at];
    if (ids.head == index + 1) {
      ids.head = entry(index).next;
    } else {
      for (std::uint32_t i = ids.head; i != 0; i = entry(i - 1).next)
        if (entry(i - 1).next == index + 1) {
          entry(i - 1).next = entry(index).next;
          break;
        }
    }
    --ids.count;
    Entry& e = entry(index);
    e.value = R{};
    e.live = false;
    e.next = free_;
    free_ = index + 1;
    --size_;
    if (ids.head == 0) remove_index_slot(at);
  }

  // f(R&) for each registration of `identity`, oldest first; f may not
  // insert or erase.
  template <class F>
  void for_each_of(const PublicKey& identity, F&& f) {
    const IdentityEntry* e = find_identity(identity);
    if (e == nullptr) return;
    for (std::uint32_t i = e->head; i != 0; i = entry(i - 1).next) f(entry(i - 1).value);
  }
  template <class F>
  void for_each_of(const PublicKey& identity, F&& f) const {
    const IdentityEntry* e = find_identity(identity);
    if (e == nullptr) return;
    for (std::uint32_t i = e->head; i != 0; i = entry(i - 1).next) f(std::as_const(entry(i - 1).value));
  }
  // f(R&) for every registration; f may not insert or erase.
  template <class F>
  void for_each(F&& f) {
    for (std::uint32_t i = 0; i < used_; ++i)
      if (entry(i).live) f(entry(i).value);
  }

 private:
  static constexpr std::uint32_t kChunk = 1024;
  struct Entry {
    R value{};
    std::uint32_t next = 0;  // index + 1: the identity's next registration, or the next free entry
    bool live = false;
  };

  std::size_t capacity() const { return chunks_.size() * kChunk; }
  Entry& entry(std::uint32_t index) { return chunks_[index / kChunk][index % kChunk]; }
  const Entry& entry(std::uint32_t index) const { return chunks_[index / kChunk][index % kChunk]; }

  std::size_t hash(const PublicKey& k) const {
    std::uint64_t a = 0, b = 0;
    std::memcpy(&a, k.data(), 8);
    std::memcpy(&b, k.data() + 8, 8);
    return static_cast<std::size_t>(splitmix64(splitmix64(seed_ ^ a) ^ b));
  }
  // The slot of `identity` in the index, or the empty slot where it would go.
  std::size_t probe(const PublicKey& identity) const {
    const std::size_t mask = index_.size() - 1;
    for (std::size_t at = hash(identity) & mask;; at = (at + 1) & mask) {
      const IdentityEntry& e = index_[at];
      if (e.head == 0 || entry(e.head - 1).value.identity == identity) return at;
    }
  }
  void grow_index() {
    std::vector<IdentityEntry> old(index_.size() * 2);
    old.swap(index_);
    for (const IdentityEntry& e : old)
      if (e.head != 0) index_[probe(entry(e.head - 1).value.identity)] = e;
  }
  // Linear probing's removal: later entries of the run move back into the hole.
  void remove_index_slot(std::size_t hole) {
    const std::size_t mask = index_.size() - 1;
    index_[hole] = IdentityEntry{};
    --identities_;
    for (std::size_t at = (hole + 1) & mask; index_[at].head != 0; at = (at + 1) & mask) {
      const std::size_t home = hash(entry(index_[at].head - 1).value.identity) & mask;
      // Moves back if its home is not in (hole, at] (cyclically).
      const bool stays = hole <= at ? (hole < home && home <= at) : (hole < home || home <= at);
      if (stays) continue;
      index_[hole] = index_[at];
      index_[at] = IdentityEntry{};
      hole = at;
    }
  }

  std::uint64_t seed_;
  std::vector<std::unique_ptr<Entry[]>> chunks_;
  std::uint32_t used_ = 0;  // entries ever handed out (the rest of the last chunk is fresh)
  std::uint32_t free_ = 0;  // index + 1 of the first free entry below used_
  std::size_t size_ = 0;
  std::vector<IdentityEntry> index_;  // a power of two, at most 3/4 full
  std::size_t identities_ = 0;
};

}  // namespace natpunch::rendezvous

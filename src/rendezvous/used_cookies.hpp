#pragma once
// The Challenge cookies already spent on a Prove, remembered until they
// expire, in fixed memory: a cookie buys one signature check, however
// often it is replayed within its lifetime.
//
// 8-way set associative on the cookie's first bytes (a keyed MAC: uniform,
// not chosen by the sender). When a set is full, the entry closest to
// expiry is forgotten, which at worst lets that one cookie be spent once
// more: the harm of a full table is bounded, never a refusal of fresh
// cookies.
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/time.hpp"
#include "rendezvous/messages.hpp"

namespace natpunch::rendezvous {

class UsedCookies {
 public:
  explicit UsedCookies(std::size_t capacity) : entries_(((capacity + kWays - 1) / kWays) * kWays) {
    if (entries_.empty()) entries_.resize(kWays);
  }

  bool spent(const Cookie& cookie, TimePoint now) const {
    const std::uint64_t tag = tag_of(cookie);
    const Entry* ways = set_of(tag);
    for (std::size_t i = 0; i < kWays; ++i)
      if (ways[i].tag == tag && ways[i].expires > now) return true;
    return false;
  }

  // Remembers `cookie` as spent until `expires`.
  void spend(const Cookie& cookie, TimePoint now, TimePoint expires) {
    const std::uint64_t tag = tag_of(cookie);
    Entry* ways = set_of(tag);
    Entry* victim = &ways[0];
    for (std::size_t i = 0; i < kWays; ++i) {
      Entry& e = ways[i];
      if (e.tag == tag || e.tag == 0 || e.expires <= now) {
        victim = &e;
        break;
      }
      if (e.expires < victim->expires) victim = &e;
    }
    *victim = Entry{tag, expires};
  }

 private:
  static constexpr std::size_t kWays = 8;
  struct Entry {
    std::uint64_t tag = 0;  // 0: free
    TimePoint expires{};
  };
  static std::uint64_t tag_of(const Cookie& cookie) {
    std::uint64_t tag = 0;
    std::memcpy(&tag, cookie.data(), sizeof tag);
    return tag == 0 ? 1 : tag;
  }
  const Entry* set_of(std::uint64_t tag) const { return entries_.data() + (tag % (entries_.size() / kWays)) * kWays; }
  Entry* set_of(std::uint64_t tag) { return entries_.data() + (tag % (entries_.size() / kWays)) * kWays; }

  std::vector<Entry> entries_;
};

}  // namespace natpunch::rendezvous

#pragma once
// A NAT router in the simulator: nat::NatTable (the model, untouched) plus
// what a router needs around it: which inside host owns an internal
// address, and counters of every drop by reason so a run can say *why*
// probes died (filtered, expired, capacity...).
#include <array>
#include <cassert>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "core/endpoint.hpp"
#include "nat/nat_table.hpp"

namespace natpunch::sim {

// nat::Drop's values are 0..Filtered (its last); keep in step with it.
inline constexpr std::size_t kDropReasons = static_cast<std::size_t>(nat::Drop::Filtered) + 1;

class NatBox {
 public:
  explicit NatBox(nat::NatTable table) : table_(std::move(table)) {}

  void attach_inside(const IpAddress& internal, std::uint32_t host) { inside_.emplace_back(internal, host); }
  // The inside host owning `internal`, if any.
  std::optional<std::uint32_t> inside_host(const IpAddress& internal) const {
    for (const auto& [address, host] : inside_)
      if (address == internal) return host;
    return std::nullopt;
  }

  // A router that forwards between its inside clients (a home router's
  // LAN, a carrier that routes subscriber to subscriber): a packet to
  // another inside host's address goes there untranslated. Off: only
  // through the NAT's public side (hairpinning, if the NAT does it).
  void set_routes_inside(bool on) { routes_inside_ = on; }
  bool routes_inside() const { return routes_inside_; }

  nat::NatTable& table() { return table_; }
  const nat::NatTable& table() const { return table_; }

  void count_drop(nat::Drop drop) {
    assert(static_cast<std::size_t>(drop) < kDropReasons);
    ++drops_[static_cast<std::size_t>(drop)];
  }
  std::uint64_t drops(nat::Drop drop) const { return drops_[static_cast<std::size_t>(drop)]; }

 private:
  nat::NatTable table_;
  std::vector<std::pair<IpAddress, std::uint32_t>> inside_;
  bool routes_inside_ = false;
  std::array<std::uint64_t, kDropReasons> drops_{};  // indexed by nat::Drop
};

}  // namespace natpunch::sim

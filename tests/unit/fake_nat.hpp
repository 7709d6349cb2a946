#pragma once
// Test-only NAT with RFC 4787 mapping and filtering behaviours, in the
// spirit of stuntman's test NAT and Tailscale's natlab: small enough to
// trust by reading, so a discovery test failure points at the code under
// test, not at the fake.
//
// - Mapping None: no translation (external == internal); with a filtering
//   behaviour other than None it models a stateful firewall on a public host.
// - Ports are allocated sequentially from first_port, so tests can predict
//   the mapped address (the first mapping gets first_port).
// - Hairpinning: a packet from inside to the NAT's own public address is
//   translated like any outbound packet and handed to the inside owner of
//   the destination mapping. It skips inbound filtering: the packet never
//   leaves the NAT, and this keeps the hairpinning column of the test table
//   independent of the filtering column.
// - drop_all blackholes every packet in both directions ("UDP blocked").
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "core/endpoint.hpp"
#include "nat/nat_behavior.hpp"

namespace natpunch::fake {

struct Datagram {
  Endpoint from;
  Endpoint to;
  std::vector<std::uint8_t> bytes;
};

struct FakeNatConfig {
  nat::MappingBehavior mapping = nat::MappingBehavior::EndpointIndependent;
  nat::FilteringBehavior filtering = nat::FilteringBehavior::EndpointIndependent;
  bool hairpinning = false;
  bool drop_all = false;
  IpAddress public_ip;
  std::uint16_t first_port = 40000;
};

class FakeNat {
 public:
  enum class Route { Drop, Outside, Inside };

  explicit FakeNat(FakeNatConfig config) : config_(config), next_port_(config.first_port) {}

  // A packet from an inside host. Returns where the translated packet goes:
  // Outside (towards d.to) or, when hairpinned, Inside (to the internal owner).
  std::pair<Route, Datagram> outbound(Datagram d) {
    if (config_.drop_all) return {Route::Drop, {}};
    Mapping& m = mapping_for(d.from, d.to);
    m.contacted.insert(d.to);
    d.from = Endpoint{config_.public_ip, m.external_port};
    const bool translating = config_.mapping != nat::MappingBehavior::None;
    if (translating && d.to.address == config_.public_ip) {
      auto target = by_port_.find(d.to.port);
      if (!config_.hairpinning || target == by_port_.end()) return {Route::Drop, {}};
      d.to = target->second.internal;
      return {Route::Inside, std::move(d)};
    }
    return {Route::Outside, std::move(d)};
  }

  // A packet from outside addressed to the NAT's public IP; nullopt if the
  // filter (or a missing mapping) drops it.
  std::optional<Datagram> inbound(Datagram d) const {
    if (config_.drop_all || d.to.address != config_.public_ip) return std::nullopt;
    auto it = by_port_.find(d.to.port);
    if (it == by_port_.end() || !admits(it->second, d.from)) return std::nullopt;
    d.to = it->second.internal;
    return d;
  }

  const FakeNatConfig& config() const { return config_; }
  std::size_t mapping_count() const { return by_port_.size(); }

 private:
  struct Mapping {
    Endpoint internal;
    std::uint16_t external_port = 0;
    std::set<Endpoint> contacted;
  };

  Mapping& mapping_for(const Endpoint& internal, const Endpoint& remote) {
    using M = nat::MappingBehavior;
    auto key = std::make_tuple(internal, IpAddress{}, std::uint16_t{0});
    if (config_.mapping == M::AddressDependent || config_.mapping == M::AddressAndPortDependent)
      std::get<1>(key) = remote.address;
    if (config_.mapping == M::AddressAndPortDependent) std::get<2>(key) = remote.port;
    auto found = by_key_.find(key);
    if (found != by_key_.end()) return by_port_.at(found->second);
    const std::uint16_t port = config_.mapping == M::None ? internal.port : next_port_++;
    by_key_.emplace(key, port);
    return by_port_.emplace(port, Mapping{internal, port, {}}).first->second;
  }

  bool admits(const Mapping& m, const Endpoint& source) const {
    using F = nat::FilteringBehavior;
    switch (config_.filtering) {
      case F::None:
      case F::EndpointIndependent: return true;
      case F::AddressDependent:
        for (const auto& c : m.contacted)
          if (c.address == source.address) return true;
        return false;
      case F::AddressAndPortDependent: return m.contacted.count(source) > 0;
      case F::Unknown: break;
    }
    return false;
  }

  FakeNatConfig config_;
  std::uint16_t next_port_;
  std::map<std::tuple<Endpoint, IpAddress, std::uint16_t>, std::uint16_t> by_key_;
  std::map<std::uint16_t, Mapping> by_port_;
};

}  // namespace natpunch::fake

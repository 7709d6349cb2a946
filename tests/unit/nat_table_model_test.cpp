// Differential test: random traffic through the NatTable and through a
// deliberately naive reference (linear scans, a filter entry per remote for
// every behaviour, full expiry scan on each step) that states the timer and
// filter semantics of nat_table.hpp directly. Any disagreement on a
// translation or a verdict fails. Time moves in whole seconds against
// timeouts of 10 s and 20 s, so exact-boundary instants come up often.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "nat_table_test_support.hpp"

namespace natpunch::nat {
namespace {

using M = MappingBehavior;
using F = FilteringBehavior;

class ReferenceNat {
 public:
  ReferenceNat(M mapping, F filtering, Duration pending, Duration established, std::size_t ports)
      : mapping_(mapping), filtering_(filtering), pending_(pending), established_(established), ports_(ports) {}

  // nullopt: a new mapping is needed (its port is the real NAT's choice).
  // Otherwise the external port of the existing mapping.
  std::optional<std::uint16_t> existing(TimePoint now, const Endpoint& internal, const Endpoint& remote) {
    expire(now);
    for (const auto& m : mappings_)
      if (m.internal == internal && same(level(mapping_), m.remote, remote)) return m.port;
    return std::nullopt;
  }
  bool full() const { return mappings_.size() == ports_; }
  bool port_mapped(std::uint16_t port) const {
    return std::any_of(mappings_.begin(), mappings_.end(), [&](const auto& m) { return m.port == port; });
  }

  void outbound(TimePoint now, const Endpoint& internal, const Endpoint& remote,
                std::optional<std::uint16_t> new_port) {
    expire(now);
    if (new_port) {
      mappings_.push_back(Mapping{next_id_++, internal, remote, *new_port, now, false});
      ever_mapped_.insert(*new_port);
    }
    Mapping& m = *std::find_if(mappings_.begin(), mappings_.end(), [&](const auto& x) {
      return x.internal == internal && same(level(mapping_), x.remote, remote);
    });
    m.last = now;
    if (auto* f = filter_entry(m.id, remote)) {
      f->last = now;
    } else {
      filters_.push_back(FilterEntry{m.id, remote, now, false});
    }
  }

  // The internal endpoint, or the reason for dropping.
  Result<Endpoint, Drop> inbound(TimePoint now, const Endpoint& remote, std::uint16_t port) {
    expire(now);
    auto m = std::find_if(mappings_.begin(), mappings_.end(), [&](const auto& x) { return x.port == port; });
    if (m == mappings_.end()) return Unexpected{ever_mapped_.count(port) ? Drop::Expired : Drop::NoMapping};
    FilterEntry* f = filter_entry(m->id, remote);
    if (level(filtering_) > 0 && f == nullptr) return Unexpected{Drop::Filtered};
    m->last = now;
    m->established = true;
    if (f) {
      f->last = now;
      f->established = true;
    }
    return m->internal;
  }

 private:
  struct Mapping {
    int id;
    Endpoint internal;
    Endpoint remote;
    std::uint16_t port;
    TimePoint last;
    bool established;
  };
  struct FilterEntry {
    int mapping;
    Endpoint remote;
    TimePoint last;
    bool established;
  };

  static int level(M m) { return m == M::EndpointIndependent ? 0 : m == M::AddressDependent ? 1 : 2; }
  static int level(F f) { return f == F::EndpointIndependent ? 0 : f == F::AddressDependent ? 1 : 2; }
  static bool same(int level, const Endpoint& a, const Endpoint& b) {
    return level == 0 || (level == 1 ? a.address == b.address : a == b);
  }
  FilterEntry* filter_entry(int mapping, const Endpoint& remote) {
    for (auto& f : filters_)
      if (f.mapping == mapping && same(std::max(level(filtering_), 1), f.remote, remote)) return &f;
    return nullptr;
  }
  bool dead(TimePoint now, TimePoint last, bool established) const {
    return now - last > (established ? established_ : pending_);
  }
  void expire(TimePoint now) {
    std::erase_if(mappings_, [&](const Mapping& m) { return dead(now, m.last, m.established); });
    std::erase_if(filters_, [&](const FilterEntry& f) {
      const bool orphan =
          std::none_of(mappings_.begin(), mappings_.end(), [&](const auto& m) { return m.id == f.mapping; });
      return orphan || dead(now, f.last, f.established);
    });
  }

  M mapping_;
  F filtering_;
  Duration pending_;
  Duration established_;
  std::size_t ports_;
  int next_id_ = 0;
  std::vector<Mapping> mappings_;
  std::vector<FilterEntry> filters_;
  std::set<std::uint16_t> ever_mapped_;
};

struct ModelRow {
  M mapping;
  F filtering;
  Duration pending;
  Duration established;
};

void PrintTo(const ModelRow& row, std::ostream* os) {
  *os << to_string(row.mapping) << " mapping, " << to_string(row.filtering) << " filtering, pending "
      << std::chrono::duration<double>(row.pending).count() << " s, established "
      << std::chrono::duration<double>(row.established).count() << " s";
}

class NatTableModelTest : public ::testing::TestWithParam<ModelRow> {};

TEST_P(NatTableModelTest, AgreesWithTheReferenceUnderRandomTraffic) {
  const auto& row = GetParam();
  constexpr std::uint16_t kMin = 20000;
  constexpr std::uint16_t kMax = 20011;  // 12 ports: fewer than the 18 flows symmetric mapping can open
  std::map<std::string, int> seen;  // what happened, so the test proves it exercised each case
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    NatConfig config = test::config_of(row.mapping, row.filtering);
    config.allocator = UniformSpec{kMin, kMax};
    config.pending_timeout = row.pending;
    config.established_timeout = row.established;
    NatTable nat = test::make_nat(config, seed);
    ReferenceNat reference(row.mapping, row.filtering, row.pending, row.established, kMax - kMin + 1);

    const std::vector<Endpoint> hosts = {test::kHost, test::kHost2, Endpoint{test::kHost.address, 5001}};
    std::vector<Endpoint> remotes;
    for (std::uint8_t a : {10, 20})
      for (std::uint16_t p : {3478, 3479, 4000}) remotes.push_back(Endpoint{IpAddress::v4({203, 0, 113, a}), p});

    Rng traffic(seed * 1000);
    TimePoint now = kTimeZero;
    for (int step = 0; step < 6000; ++step) {
      now += seconds(traffic.uniform(0, 99) < 70 ? 0 : traffic.uniform(1, 6));
      const auto& remote = remotes[traffic.uniform(0, remotes.size() - 1)];
      const std::string where = "seed " + std::to_string(seed) + " step " + std::to_string(step);
      if (traffic.uniform(0, 1) == 0) {
        const auto& host = hosts[traffic.uniform(0, hosts.size() - 1)];
        const auto before = reference.existing(now, host, remote);
        auto out = nat.outbound(now, host, remote, test::kSmall);
        if (!before && reference.full()) {
          ASSERT_FALSE(out) << where;
          ASSERT_EQ(out.error(), Drop::PortsExhausted) << where;
          ++seen["ports exhausted"];
          continue;
        }
        ASSERT_TRUE(out) << where << ": " << to_string(out.error());
        if (before) {
          ASSERT_EQ(out->source.port, *before) << where << ": an existing flow changed its port";
        } else {
          ASSERT_FALSE(reference.port_mapped(out->source.port))
              << where << ": port " << out->source.port << " still mapped";
          ASSERT_GE(out->source.port, kMin);
          ASSERT_LE(out->source.port, kMax);
        }
        ++seen[before ? "existing mapping" : "new mapping"];
        reference.outbound(now, host, remote, before ? std::nullopt : std::optional(out->source.port));
      } else {
        const auto port = static_cast<std::uint16_t>(traffic.uniform(kMin, kMax + 2));
        auto expected = reference.inbound(now, remote, port);
        auto actual = nat.inbound(now, remote, Endpoint{test::kPublic, port}, test::kSmall);
        ASSERT_EQ(actual.ok(), expected.ok()) << where;
        ++seen[expected ? std::string("admitted") : std::string(to_string(expected.error()))];
        if (expected) {
          ASSERT_EQ(*actual, *expected) << where;
        } else {
          ASSERT_EQ(to_string(actual.error()), to_string(expected.error())) << where;
        }
      }
    }
  }
  for (const char* outcome : {"new mapping", "existing mapping", "admitted", "no mapping", "expired"})
    EXPECT_GT(seen[outcome], 0) << outcome;
  EXPECT_EQ(seen["filtered"] > 0, row.filtering != F::EndpointIndependent);
  EXPECT_EQ(seen["ports exhausted"] > 0, row.mapping == M::AddressAndPortDependent);
}

std::vector<ModelRow> all_rows() {
  std::vector<ModelRow> rows;
  for (M m : {M::EndpointIndependent, M::AddressDependent, M::AddressAndPortDependent})
    for (F f : {F::EndpointIndependent, F::AddressDependent, F::AddressAndPortDependent}) {
      rows.push_back(ModelRow{m, f, seconds(10), seconds(20)});
      rows.push_back(ModelRow{m, f, seconds(20), seconds(10)});  // established shorter, like Vodafone
    }
  return rows;
}

INSTANTIATE_TEST_SUITE_P(AllBehaviours, NatTableModelTest, ::testing::ValuesIn(all_rows()),
                         [](const auto& info) {
                           const auto& r = info.param;
                           return std::to_string(static_cast<int>(r.mapping)) + "M" +
                                  std::to_string(static_cast<int>(r.filtering)) + "F_" +
                                  (r.pending < r.established ? "PendingShorter" : "EstablishedShorter");
                         });

}  // namespace
}  // namespace natpunch::nat

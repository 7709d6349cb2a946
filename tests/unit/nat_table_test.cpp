#include "nat/nat_table.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "nat_table_test_support.hpp"

namespace natpunch::nat {
namespace {

using namespace test;
using M = MappingBehavior;
using F = FilteringBehavior;
using Route = Translated::Route;

constexpr TimePoint kT0 = kTimeZero + seconds(1000);
constexpr Duration kTick = Duration{1};  // the smallest step of time

// ---- mapping x filtering ------------------------------------------------

struct BehaviourRow {
  M mapping;
  F filtering;
  // After the host has sent to A only:
  bool same_port_to_a_other_port;  // does sending to A's other port reuse the mapping?
  bool same_port_to_b;             // ... and to another address?
  bool admits_a_other_port;        // may A's other port send in?
  bool admits_b;                   // may B send in?
};

void PrintTo(const BehaviourRow& row, std::ostream* os) {
  *os << to_string(row.mapping) << " mapping, " << to_string(row.filtering) << " filtering";
}

std::string row_name(const ::testing::TestParamInfo<BehaviourRow>& info) {
  auto word = [](auto behaviour) {
    switch (static_cast<int>(behaviour)) {
      case 1: return std::string("EndpointIndependent");
      case 2: return std::string("AddressDependent");
      default: return std::string("AddressAndPortDependent");
    }
  };
  return word(info.param.mapping) + "Mapping_" + word(info.param.filtering) + "Filtering";
}

class MappingFilteringTest : public ::testing::TestWithParam<BehaviourRow> {};

TEST_P(MappingFilteringTest, WhichFlowsShareAMapping) {
  const auto& row = GetParam();
  auto nat = make_nat(config_of(row.mapping, row.filtering));
  const Endpoint to_a = send(nat, kT0, kHost, kRemoteA);
  ASSERT_EQ(to_a.address, kPublic);
  EXPECT_EQ(send(nat, kT0, kHost, kRemoteA), to_a) << "the same flow always keeps its mapping";
  EXPECT_EQ(send(nat, kT0, kHost, kRemoteASamePortOtherPort) == to_a, row.same_port_to_a_other_port);
  EXPECT_EQ(send(nat, kT0, kHost, kRemoteB) == to_a, row.same_port_to_b);
}

TEST_P(MappingFilteringTest, WhoMaySendIn) {
  const auto& row = GetParam();
  auto nat = make_nat(config_of(row.mapping, row.filtering));
  const Endpoint external = send(nat, kT0, kHost, kRemoteA);
  auto verdict = [&](const Endpoint& from) { return nat.inbound(kT0, from, external, kSmall); };

  auto from_b = verdict(kRemoteB);
  auto from_a_other_port = verdict(kRemoteASamePortOtherPort);
  auto from_a = verdict(kRemoteA);
  ASSERT_TRUE(from_a);
  EXPECT_EQ(*from_a, kHost);
  EXPECT_EQ(from_a_other_port.ok(), row.admits_a_other_port);
  EXPECT_EQ(from_b.ok(), row.admits_b);
  if (!from_b) {
    EXPECT_EQ(from_b.error(), Drop::Filtered);
  }
  if (!from_a_other_port) {
    EXPECT_EQ(from_a_other_port.error(), Drop::Filtered);
  }
}

INSTANTIATE_TEST_SUITE_P(AllCombinations, MappingFilteringTest,
                         ::testing::Values(
                             // mapping, filtering,                 A:3479 shares, B shares, A:3479 in, B in
                             BehaviourRow{M::EndpointIndependent, F::EndpointIndependent, true, true, true, true},
                             BehaviourRow{M::EndpointIndependent, F::AddressDependent, true, true, true, false},
                             BehaviourRow{M::EndpointIndependent, F::AddressAndPortDependent, true, true, false, false},
                             BehaviourRow{M::AddressDependent, F::EndpointIndependent, true, false, true, true},
                             BehaviourRow{M::AddressDependent, F::AddressDependent, true, false, true, false},
                             BehaviourRow{M::AddressDependent, F::AddressAndPortDependent, true, false, false, false},
                             BehaviourRow{M::AddressAndPortDependent, F::EndpointIndependent, false, false, true, true},
                             BehaviourRow{M::AddressAndPortDependent, F::AddressDependent, false, false, true, false},
                             BehaviourRow{M::AddressAndPortDependent, F::AddressAndPortDependent, false, false, false,
                                          false}),
                         row_name);

TEST(NatTableTest, SendingToARemoteOpensTheFilterForItUnderEndpointIndependentMapping) {
  // Port-restricted cone: the hole-punching case. A second destination gets
  // the same external port and, from then on, may answer.
  auto nat = make_nat(config_of(M::EndpointIndependent, F::AddressAndPortDependent));
  const Endpoint external = send(nat, kT0, kHost, kRemoteA);
  EXPECT_EQ(nat.inbound(kT0, kRemoteB, external, kSmall).error(), Drop::Filtered);
  EXPECT_EQ(send(nat, kT0, kHost, kRemoteB), external);
  EXPECT_TRUE(nat.inbound(kT0, kRemoteB, external, kSmall));
}

TEST(NatTableTest, InboundDropReasons) {
  auto nat = make_nat(config_of(M::EndpointIndependent, F::EndpointIndependent));
  EXPECT_EQ(nat.inbound(kT0, kRemoteA, Endpoint{kPublic, 1024}, kSmall).error(), Drop::NoMapping);
  EXPECT_EQ(nat.inbound(kT0, kRemoteA, Endpoint{kPublic2, 1024}, kSmall).error(), Drop::NotOurAddress);
  const Endpoint external = send(nat, kT0, kHost, kRemoteA);
  const TimePoint later = kT0 + nat.config().pending_timeout + kTick;
  EXPECT_EQ(nat.inbound(later, kRemoteA, external, kSmall).error(), Drop::Expired);
}

TEST(NatTableTest, DropReasonNames) {
  EXPECT_EQ(to_string(Drop::TooLarge), "too large");
  EXPECT_EQ(to_string(Drop::CapacityExceeded), "capacity exceeded");
  EXPECT_EQ(to_string(Drop::PortsExhausted), "ports exhausted");
  EXPECT_EQ(to_string(Drop::HairpinningDisabled), "hairpinning disabled");
  EXPECT_EQ(to_string(Drop::NotOurAddress), "not our address");
  EXPECT_EQ(to_string(Drop::NoMapping), "no mapping");
  EXPECT_EQ(to_string(Drop::Expired), "expired");
  EXPECT_EQ(to_string(Drop::Filtered), "filtered");
}

// ---- timeouts -------------------------------------------------------------

struct TimeoutRow {
  std::string name;
  Duration pending;
  Duration established;
};

void PrintTo(const TimeoutRow& row, std::ostream* os) { *os << row.name; }

class TimeoutTest : public ::testing::TestWithParam<TimeoutRow> {
 protected:
  NatTable nat_for_row(F filtering = F::AddressAndPortDependent) {
    NatConfig config = config_of(M::AddressAndPortDependent, filtering);
    config.pending_timeout = GetParam().pending;
    config.established_timeout = GetParam().established;
    return make_nat(config);
  }
};

TEST_P(TimeoutTest, PendingMappingLivesExactlyThePendingTimeout) {
  const Duration pending = GetParam().pending;
  {
    auto nat = nat_for_row();
    const Endpoint external = send(nat, kT0, kHost, kRemoteA);
    EXPECT_TRUE(nat.inbound(kT0 + pending, kRemoteA, external, kSmall)) << "a reply after exactly LB arrives";
  }
  {
    auto nat = nat_for_row();
    const Endpoint external = send(nat, kT0, kHost, kRemoteA);
    EXPECT_EQ(nat.inbound(kT0 + pending + kTick, kRemoteA, external, kSmall).error(), Drop::Expired);
    EXPECT_EQ(nat.mapping_count(), 0u);
  }
}

TEST_P(TimeoutTest, OutboundPacketsRefreshAPendingMapping) {
  const Duration pending = GetParam().pending;
  auto nat = nat_for_row();
  const Endpoint external = send(nat, kT0, kHost, kRemoteA);
  EXPECT_EQ(send(nat, kT0 + pending, kHost, kRemoteA), external);
  EXPECT_TRUE(nat.inbound(kT0 + 2 * pending, kRemoteA, external, kSmall));
}

TEST_P(TimeoutTest, EstablishedMappingLivesExactlyTheEstablishedTimeout) {
  const Duration established = GetParam().established;
  const TimePoint reply = kT0 + GetParam().pending / 2;
  {
    auto nat = nat_for_row();
    const Endpoint external = send(nat, kT0, kHost, kRemoteA);
    ASSERT_TRUE(nat.inbound(reply, kRemoteA, external, kSmall));
    EXPECT_TRUE(nat.inbound(reply + established, kRemoteA, external, kSmall));
  }
  {
    auto nat = nat_for_row();
    const Endpoint external = send(nat, kT0, kHost, kRemoteA);
    ASSERT_TRUE(nat.inbound(reply, kRemoteA, external, kSmall));
    EXPECT_EQ(nat.inbound(reply + established + kTick, kRemoteA, external, kSmall).error(), Drop::Expired);
  }
}

// Algorithm 4: request/response, then silence. Once a reply has passed, an
// outbound packet refreshes with the established timeout too, whichever of
// the two timeouts is longer (Vodafone: 302 s pending, 299 s established).
TEST_P(TimeoutTest, AnEstablishedMappingStaysEstablishedWhenRefreshedByOutbound) {
  const Duration established = GetParam().established;
  const TimePoint reply = kT0 + GetParam().pending / 2;
  const TimePoint resend = reply + established / 2;
  {
    auto nat = nat_for_row();
    const Endpoint external = send(nat, kT0, kHost, kRemoteA);
    ASSERT_TRUE(nat.inbound(reply, kRemoteA, external, kSmall));
    ASSERT_EQ(send(nat, resend, kHost, kRemoteA), external);
    EXPECT_TRUE(nat.inbound(resend + established, kRemoteA, external, kSmall));
  }
  {
    auto nat = nat_for_row();
    const Endpoint external = send(nat, kT0, kHost, kRemoteA);
    ASSERT_TRUE(nat.inbound(reply, kRemoteA, external, kSmall));
    ASSERT_EQ(send(nat, resend, kHost, kRemoteA), external);
    EXPECT_FALSE(nat.inbound(resend + established + kTick, kRemoteA, external, kSmall));
  }
}

// Filter entries have their own timers: under endpoint-independent mapping a
// probe to a new remote opens a pending entry that closes after the pending
// timeout while the mapping, kept busy with another remote, lives on.
TEST_P(TimeoutTest, FilterEntriesTimeOutOnTheirOwn) {
  const auto [name, pending, established] = GetParam();
  NatConfig config = config_of(M::EndpointIndependent, F::AddressAndPortDependent);
  config.pending_timeout = pending;
  config.established_timeout = established;
  for (const bool just_in_time : {true, false}) {
    auto nat = make_nat(config);
    const Endpoint external = send(nat, kT0, kHost, kRemoteA);
    ASSERT_TRUE(nat.inbound(kT0, kRemoteA, external, kSmall));  // mapping established via A
    const TimePoint probe = kT0 + std::min(pending, established) / 2;
    ASSERT_EQ(send(nat, probe, kHost, kRemoteB), external);
    // Keep the mapping alive through A while B's entry ages.
    const TimePoint check = probe + pending + (just_in_time ? Duration::zero() : kTick);
    for (TimePoint t = probe; t < check; t += std::min(pending, established) / 2) {
      ASSERT_EQ(send(nat, t, kHost, kRemoteA), external);
      ASSERT_TRUE(nat.inbound(t, kRemoteA, external, kSmall));
    }
    EXPECT_EQ(nat.inbound(check, kRemoteB, external, kSmall).ok(), just_in_time);
    EXPECT_TRUE(nat.inbound(check, kRemoteA, external, kSmall));
  }
}

TEST_P(TimeoutTest, AnExpiredMappingIsReplacedByANewOne) {
  auto nat = nat_for_row();
  const Endpoint first = send(nat, kT0, kHost, kRemoteA);
  const Endpoint second = send(nat, kT0 + GetParam().pending + kTick, kHost, kRemoteA);
  EXPECT_NE(second, first) << "sequential allocation moves on to the next port";
  EXPECT_EQ(nat.mapping_count(), 1u);
}

// Table IV (lower bounds, seconds); names say where each pair comes from.
INSTANTIATE_TEST_SUITE_P(
    TableIV, TimeoutTest,
    ::testing::Values(TimeoutRow{"Kpn", seconds(120), seconds(239)}, TimeoutRow{"Lebara", seconds(120), seconds(240)},
                      TimeoutRow{"LycaMobileNl", seconds(120), seconds(120)},
                      TimeoutRow{"VodafoneNl", seconds(302), seconds(299)},
                      TimeoutRow{"OrangeBeRoaming", seconds(59), seconds(57)},
                      TimeoutRow{"TeliaNoRoaming", seconds(5), seconds(300)},
                      TimeoutRow{"SubSecond", milliseconds(250), milliseconds(40)}),
    [](const auto& info) { return info.param.name; });

TEST(NatTableTest, ExplicitExpireSweepsWithoutTraffic) {
  auto nat = make_nat(config_of(M::AddressAndPortDependent, F::AddressAndPortDependent));
  send(nat, kT0, kHost, kRemoteA);
  send(nat, kT0 + seconds(10), kHost, kRemoteB);
  EXPECT_EQ(nat.mapping_count(), 2u);
  nat.expire(kT0 + nat.config().pending_timeout);
  EXPECT_EQ(nat.mapping_count(), 2u);
  nat.expire(kT0 + nat.config().pending_timeout + kTick);
  EXPECT_EQ(nat.mapping_count(), 1u);
  nat.expire(kT0 + seconds(10) + nat.config().pending_timeout + kTick);
  EXPECT_EQ(nat.mapping_count(), 0u);
  EXPECT_EQ(nat.mapping_count(kHost.address), 0u);
}

TEST(NatTableTest, TimeNeverRunsBackwards) {
  auto nat = make_nat(config_of(M::AddressAndPortDependent, F::AddressAndPortDependent));
  const Duration pending = nat.config().pending_timeout;
  send(nat, kT0 + seconds(100), kHost, kRemoteA);
  // Stamped "earlier", so it counts as happening at the latest time seen.
  const Endpoint late = send(nat, kT0, kHost, kRemoteB);
  EXPECT_TRUE(nat.inbound(kT0 + seconds(100) + pending, kRemoteB, late, kSmall));
}

// ---- ports, capacity, hairpinning, MTU, observer ---------------------------

TEST(NatTableTest, ExpiryGivesPortsBackForReuse) {
  NatConfig config = config_of(M::AddressAndPortDependent, F::AddressAndPortDependent);
  config.allocator = SequentialSpec{6000, 6003};
  auto nat = make_nat(config);
  std::vector<Endpoint> remotes;
  for (std::uint16_t i = 0; i < 5; ++i)
    remotes.push_back(Endpoint{kRemoteA.address, static_cast<std::uint16_t>(7000 + i)});
  for (std::size_t i = 0; i < 4; ++i) ASSERT_TRUE(nat.outbound(kT0, kHost, remotes[i], kSmall));
  EXPECT_EQ(nat.outbound(kT0, kHost, remotes[4], kSmall).error(), Drop::PortsExhausted);
  EXPECT_EQ(nat.mapping_count(), 4u);
  const TimePoint later = kT0 + nat.config().pending_timeout + kTick;
  auto after = nat.outbound(later, kHost, remotes[4], kSmall);
  ASSERT_TRUE(after);
  EXPECT_GE(after->source.port, 6000);
  EXPECT_LE(after->source.port, 6003);
  EXPECT_EQ(nat.mapping_count(), 1u);
}

TEST(NatTableTest, PortPreservationGetsTheSamePortAgainAfterExpiry) {
  NatConfig config = config_of(M::EndpointIndependent, F::AddressAndPortDependent);
  config.allocator = PreservingSpec{};
  auto nat = make_nat(config);
  EXPECT_EQ(send(nat, kT0, kHost, kRemoteA).port, kHost.port);
  EXPECT_EQ(send(nat, kT0, kHost2, kRemoteA).port, kHost.port + 1) << "taken by the first host: next one up";
  EXPECT_EQ(send(nat, kT0 + seconds(1000), kHost2, kRemoteA).port, kHost.port) << "free again after expiry";
}

TEST(NatTableTest, CapacityLimitsConcurrentMappingsPerSubscriber) {
  NatConfig config = config_of(M::AddressAndPortDependent, F::AddressAndPortDependent);
  config.max_mappings_per_subscriber = 3;
  auto nat = make_nat(config);
  for (std::uint16_t port = 1; port <= 3; ++port)
    ASSERT_TRUE(nat.outbound(kT0, kHost, Endpoint{kRemoteA.address, port}, kSmall));
  EXPECT_EQ(nat.outbound(kT0, kHost, Endpoint{kRemoteA.address, 4}, kSmall).error(), Drop::CapacityExceeded);
  EXPECT_TRUE(nat.outbound(kT0, kHost, Endpoint{kRemoteA.address, 2}, kSmall)) << "existing flows still pass";
  EXPECT_TRUE(nat.outbound(kT0, kHost2, Endpoint{kRemoteA.address, 4}, kSmall)) << "the quota is per subscriber";
  EXPECT_EQ(nat.mapping_count(kHost.address), 3u);
  EXPECT_EQ(nat.mapping_count(kHost2.address), 1u);
  const TimePoint later = kT0 + nat.config().pending_timeout + kTick;
  EXPECT_TRUE(nat.outbound(later, kHost, Endpoint{kRemoteA.address, 4}, kSmall)) << "room again after expiry";
}

TEST(NatTableTest, HairpinningDeliversInsideFromTheSendersExternalEndpoint) {
  NatConfig config = config_of(M::EndpointIndependent, F::EndpointIndependent);
  config.hairpinning = true;
  auto nat = make_nat(config);
  const Endpoint first = send(nat, kT0, kHost, kRemoteA);
  auto hairpinned = nat.outbound(kT0, kHost2, first, kSmall);
  ASSERT_TRUE(hairpinned);
  EXPECT_EQ(hairpinned->route, Route::Hairpin);
  EXPECT_EQ(hairpinned->destination, kHost);
  EXPECT_EQ(hairpinned->source.address, kPublic) << "RFC 4787 REQ-9: the external source address and port";
  EXPECT_NE(hairpinned->source.port, first.port);
}

TEST(NatTableTest, HairpinnedPacketsPassTheTargetsFilterLikeOutsideOnes) {
  NatConfig config = config_of(M::EndpointIndependent, F::AddressAndPortDependent);
  config.hairpinning = true;
  auto nat = make_nat(config);
  const Endpoint first = send(nat, kT0, kHost, kRemoteA);
  const Endpoint second = send(nat, kT0, kHost2, kRemoteA);
  EXPECT_EQ(nat.outbound(kT0, kHost2, first, kSmall).error(), Drop::Filtered);
  // The first host answers towards the second's external endpoint, which
  // the second opened by sending: a hole punch inside one NAT.
  auto back = nat.outbound(kT0, kHost, second, kSmall);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->destination, kHost2);
  EXPECT_TRUE(nat.outbound(kT0, kHost2, first, kSmall));
}

TEST(NatTableTest, WithoutHairpinningPacketsToOurOwnAddressAreDropped) {
  auto nat = make_nat(config_of(M::EndpointIndependent, F::EndpointIndependent));
  const Endpoint first = send(nat, kT0, kHost, kRemoteA);
  EXPECT_EQ(nat.outbound(kT0, kHost2, first, kSmall).error(), Drop::HairpinningDisabled);
  EXPECT_EQ(nat.mapping_count(kHost2.address), 0u);
}

TEST(NatTableTest, PayloadsAboveTheLimitAreDroppedBothWays) {
  NatConfig config = config_of(M::EndpointIndependent, F::EndpointIndependent);
  config.max_payload = 1472;  // Table V: Orange BE
  auto nat = make_nat(config);
  EXPECT_EQ(nat.outbound(kT0, kHost, kRemoteA, 1473).error(), Drop::TooLarge);
  EXPECT_EQ(nat.mapping_count(), 0u) << "a dropped packet creates no mapping";
  auto out = nat.outbound(kT0, kHost, kRemoteA, 1472);
  ASSERT_TRUE(out);
  EXPECT_EQ(nat.inbound(kT0, kRemoteA, out->source, 1473).error(), Drop::TooLarge);
  EXPECT_TRUE(nat.inbound(kT0, kRemoteA, out->source, 1472));
  EXPECT_TRUE(nat.inbound(kT0, kRemoteA, out->source, 0));
}

TEST(NatTableTest, ObserverSeesEachNewMappingOnce) {
  auto nat = make_nat(config_of(M::AddressAndPortDependent, F::AddressAndPortDependent));
  std::vector<MappingEvent> events;
  nat.set_mapping_observer([&](const MappingEvent& e) { events.push_back(e); });
  const Endpoint to_a = send(nat, kT0, kHost, kRemoteA);
  send(nat, kT0 + seconds(1), kHost, kRemoteA);
  const Endpoint to_b = send(nat, kT0 + seconds(2), kHost, kRemoteB);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].time, kT0);
  EXPECT_EQ(events[0].internal, kHost);
  EXPECT_EQ(events[0].external, to_a);
  EXPECT_EQ(events[0].remote, kRemoteA);
  EXPECT_EQ(events[1].time, kT0 + seconds(2));
  EXPECT_EQ(events[1].external, to_b);
  EXPECT_EQ(events[1].remote, kRemoteB);
}

TEST(NatTableTest, SubscribersKeepOnePublicAddressAndAreSpreadOverThem) {
  NatConfig config = config_of(M::AddressAndPortDependent, F::AddressAndPortDependent);
  config.public_addresses = {kPublic, kPublic2};
  auto nat = make_nat(config);
  const Endpoint third_host{IpAddress::v4({100, 64, 0, 4}), 5000};
  EXPECT_EQ(send(nat, kT0, kHost, kRemoteA).address, kPublic);
  EXPECT_EQ(send(nat, kT0, kHost2, kRemoteA).address, kPublic2);
  EXPECT_EQ(send(nat, kT0, third_host, kRemoteA).address, kPublic);
  for (std::uint16_t port = 1; port < 20; ++port)
    EXPECT_EQ(send(nat, kT0, kHost2, Endpoint{kRemoteB.address, port}).address, kPublic2);
  const Endpoint on_second = send(nat, kT0, kHost2, kRemoteA);
  EXPECT_EQ(nat.inbound(kT0, kRemoteA, on_second, kSmall).value(), kHost2);
  auto same_port_other_address = nat.inbound(kT0, kRemoteA, Endpoint{kPublic, on_second.port}, kSmall);
  EXPECT_TRUE(!same_port_other_address || *same_port_other_address != kHost2);
}

TEST(NatTableTest, KpnLikeBlocksShowThroughTheNat) {
  NatConfig config = config_of(M::AddressAndPortDependent, F::AddressAndPortDependent);
  config.allocator = BlockSpec{};
  auto nat = make_nat(config);
  std::vector<std::uint16_t> ports;
  for (std::uint16_t i = 0; i < 300; ++i)
    ports.push_back(send(nat, kT0, kHost, Endpoint{kRemoteA.address, static_cast<std::uint16_t>(10000 + i)}).port);
  EXPECT_EQ(ports[0] % 256, 0);
  for (std::size_t i = 1; i < 256; ++i) ASSERT_EQ(ports[i], ports[0] + i);
  EXPECT_EQ(ports[256] % 256, 0);
  EXPECT_NE(ports[256], ports[0]);
}

// ---- configuration ----------------------------------------------------------

struct BadConfig {
  std::string name;
  void (*spoil)(NatConfig&);
  std::string field;
};

void PrintTo(const BadConfig& row, std::ostream* os) { *os << row.name; }

class NatConfigValidationTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(NatConfigValidationTest, NamesTheFaultyField) {
  NatConfig config = config_of(M::EndpointIndependent, F::AddressDependent);
  ASSERT_FALSE(validate(config));
  GetParam().spoil(config);
  Rng rng(1);
  auto nat = NatTable::create(config, rng);
  ASSERT_FALSE(nat);
  EXPECT_EQ(nat.error().field, GetParam().field) << nat.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, NatConfigValidationTest,
    ::testing::Values(
        BadConfig{"MappingNone", [](NatConfig& c) { c.mapping = M::None; }, "mapping"},
        BadConfig{"MappingUnknown", [](NatConfig& c) { c.mapping = M::Unknown; }, "mapping"},
        BadConfig{"FilteringNone", [](NatConfig& c) { c.filtering = F::None; }, "filtering"},
        BadConfig{"AllocatorBlockSize", [](NatConfig& c) { c.allocator = BlockSpec{100}; }, "allocator.block_size"},
        BadConfig{"PendingZero", [](NatConfig& c) { c.pending_timeout = Duration::zero(); }, "pending_timeout"},
        BadConfig{"EstablishedNegative", [](NatConfig& c) { c.established_timeout = -seconds(1); },
                  "established_timeout"},
        BadConfig{"CapacityZero", [](NatConfig& c) { c.max_mappings_per_subscriber = 0; },
                  "max_mappings_per_subscriber"},
        BadConfig{"PayloadZero", [](NatConfig& c) { c.max_payload = 0; }, "max_payload"},
        BadConfig{"NoAddresses", [](NatConfig& c) { c.public_addresses.clear(); }, "public_addresses"},
        BadConfig{"DuplicateAddress", [](NatConfig& c) { c.public_addresses = {kPublic, kPublic}; },
                  "public_addresses"},
        BadConfig{"UnspecifiedAddress", [](NatConfig& c) { c.public_addresses = {IpAddress{}}; },
                  "public_addresses"}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace natpunch::nat

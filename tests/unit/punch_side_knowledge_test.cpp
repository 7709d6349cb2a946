// From a carrier profile to the probes: a profile fills the NatInfo a peer
// registers, the NatInfo crosses the rendezvous wire, and the knowledge
// built from it makes a both-symmetric KPN pair pick the improved attack
// whose first probes aim at the rest of the peer's 256-port block.
#include "punch/side_knowledge.hpp"

#include <gtest/gtest.h>

#include "io/profile_files.hpp"
#include "punch/strategies.hpp"
#include "rendezvous/nat_info_profile.hpp"

namespace natpunch::punch {
namespace {

const std::vector<std::filesystem::path> kProfileDirs{NATPUNCH_PROFILES_DIR};

rendezvous::NatInfo info_from(const std::string& profile_id) {
  auto profile = io::load_profile_by_name(profile_id, kProfileDirs);
  EXPECT_TRUE(profile) << profile.error().to_string();
  rendezvous::NatInfo info;
  if (profile) {
    EXPECT_FALSE(rendezvous::apply_profile(*profile, info));
  }
  return info;
}

// What the other side receives: the NatInfo after a trip through the wire.
rendezvous::NatInfo over_the_wire(const rendezvous::NatInfo& info) {
  rendezvous::Prove prove;
  prove.info = info;
  auto decoded = rendezvous::decode(rendezvous::encode(prove));
  EXPECT_TRUE(decoded);
  return decoded ? std::get<rendezvous::Prove>(*decoded).info : rendezvous::NatInfo{};
}

TEST(SideKnowledgeTest, ProfileFillsEverythingThePeerNeeds) {
  const auto kpn = info_from("kpn-nl");
  EXPECT_EQ(kpn.mapping, nat::MappingBehavior::AddressAndPortDependent);
  EXPECT_EQ(kpn.filtering, nat::FilteringBehavior::AddressAndPortDependent);
  EXPECT_EQ(kpn.carrier_profile, "kpn-nl");
  EXPECT_EQ(kpn.pending_timeout_ms, 120000u);  // Table IV lower bounds
  EXPECT_EQ(kpn.idle_timeout_ms, 239000u);
  EXPECT_EQ(kpn.allocator, nat::AllocatorSpec{nat::BlockSpec{}});
  EXPECT_EQ(over_the_wire(kpn), kpn);

  // Vodafone's windows with locality (derived from the real logs) cross
  // the wire unchanged.
  const auto vodafone = info_from("vodafone-nl");
  ASSERT_TRUE(vodafone.allocator);
  EXPECT_TRUE(std::holds_alternative<nat::WindowSpec>(*vodafone.allocator));
  EXPECT_EQ(over_the_wire(vodafone), vodafone);
}

TEST(SideKnowledgeTest, KnowledgeCarriesTheAllocator) {
  const auto k = side_knowledge(info_from("lycamobile-nl"), 4242);
  EXPECT_EQ(k.mapping, nat::MappingBehavior::EndpointIndependent);
  EXPECT_EQ(k.allocator, nat::AllocatorSpec{(nat::UniformSpec{2048, 65535})});
  EXPECT_EQ(k.observed_port, std::optional<std::uint16_t>{4242});
  EXPECT_FALSE(k.udp_blocked);
}

// The case that used to fall back to the relay after 10,000 probes on real
// sockets: without the allocator the rendezvous port alone gives no order.
TEST(SideKnowledgeTest, KpnPairPredictsTheRestOfThePeersBlock) {
  const auto kpn = over_the_wire(info_from("kpn-nl"));
  const auto local = side_knowledge(kpn, 30000);
  const auto peer = side_knowledge(kpn, 40000);
  EXPECT_EQ(choose_strategy(local, peer).kind, StrategyKind::ImprovedBirthday);

  StrategyParams params;
  params.peer_address = IpAddress::v4({203, 0, 113, 102});
  params.probe_budget = 10;
  Rng rng(1);
  auto strategy = make_strategy(StrategyKind::ImprovedBirthday, local, peer, params, rng, kTimeZero);
  TimePoint now = kTimeZero;
  for (std::uint16_t expected = 40001; expected <= 40005; ++expected) {
    std::optional<Transmit> d;
    for (int i = 0; i < 1000 && !(d = strategy->poll_transmit(now)); ++i) {
      ASSERT_TRUE(strategy->next_deadline());
      now = *strategy->next_deadline();
      strategy->on_timer(now);
    }
    ASSERT_TRUE(d);
    EXPECT_EQ(d->to.port, expected);
    EXPECT_EQ(d->to.address, params.peer_address);
  }
}

TEST(SideKnowledgeTest, ProfileLookupByNameOrFile) {
  EXPECT_TRUE(io::load_profile_by_name("kpn-nl", kProfileDirs));
  EXPECT_TRUE(io::load_profile_by_name(std::string(NATPUNCH_PROFILES_DIR) + "/kpn-nl.json", {}));
  auto missing = io::load_profile_by_name("no-such-carrier", kProfileDirs);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find(NATPUNCH_PROFILES_DIR), std::string::npos) << missing.error().message;
  EXPECT_FALSE(io::load_profile_by_name("", kProfileDirs));
}

TEST(SideKnowledgeTest, ProfileWithAnUnsendableIdIsRefused) {
  nat::Profile profile;
  profile.file = "my carrier.json";
  profile.id = "my carrier";
  rendezvous::NatInfo info;
  auto error = rendezvous::apply_profile(profile, info);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->field, "id");
  EXPECT_EQ(info, rendezvous::NatInfo{});
}

}  // namespace
}  // namespace natpunch::punch

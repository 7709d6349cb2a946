// Strategy selection over NAT kind x NAT kind (table-driven), and that
// both peers, each looking from its own side, agree.
#include "punch/strategy_selection.hpp"

#include <gtest/gtest.h>

#include <string>

namespace natpunch::punch {
namespace {

using M = nat::MappingBehavior;
using F = nat::FilteringBehavior;
using K = StrategyKind;

struct Kind {
  const char* name;
  SideKnowledge side;
};

const Kind kPublic{"public", {false, M::None, F::None, std::nullopt, 40000}};
const Kind kFullCone{"fullcone", {false, M::EndpointIndependent, F::EndpointIndependent, nat::UniformSpec{}, 3000}};
const Kind kRestricted{"restricted", {false, M::EndpointIndependent, F::AddressDependent, nat::BlockSpec{}, 25600}};
const Kind kPortRestricted{"portrestricted", {false, M::EndpointIndependent, F::AddressAndPortDependent, std::nullopt, 5000}};
const Kind kSymmetricBlock{"symblock", {false, M::AddressAndPortDependent, F::AddressAndPortDependent, nat::BlockSpec{}, 30000}};
const Kind kSymmetricUnknown{"symunknown", {false, M::AddressAndPortDependent, F::AddressAndPortDependent, std::nullopt, std::nullopt}};
const Kind kEimUnobserved{"eimunobserved", {false, M::EndpointIndependent, F::AddressDependent, std::nullopt, std::nullopt}};
const Kind kBlocked{"blocked", {true, M::Unknown, F::Unknown, std::nullopt, std::nullopt}};
// A public address behind a stateful firewall: stable endpoint, but it
// drops whatever it has not sent to.
const Kind kFirewalled{"firewalled", {false, M::None, F::AddressAndPortDependent, std::nullopt, 41000}};

const Kind* const kKinds[] = {&kPublic,         &kFullCone,         &kRestricted,     &kPortRestricted,
                              &kSymmetricBlock, &kSymmetricUnknown, &kEimUnobserved, &kBlocked,
                              &kFirewalled};
constexpr std::size_t kKindCount = std::size(kKinds);

// Expected strategy, row = one side, column = the other (symmetric).
//             public  fullcone restr  portr  symblk symunk eimunobs blocked firewalled
const K kExpected[kKindCount][kKindCount] = {
    /*public*/ {K::Direct, K::Direct, K::Direct, K::Direct, K::Direct, K::Direct, K::Direct, K::RelayOnly, K::Direct},
    /*fullcone*/ {K::Direct, K::Direct, K::Direct, K::Direct, K::Direct, K::Direct, K::Direct, K::RelayOnly, K::Direct},
    /*restr*/ {K::Direct, K::Direct, K::HolePunch, K::HolePunch, K::OneHardSide, K::OneHardSide, K::OneHardSide, K::RelayOnly, K::HolePunch},
    /*portr*/ {K::Direct, K::Direct, K::HolePunch, K::HolePunch, K::OneHardSide, K::OneHardSide, K::OneHardSide, K::RelayOnly, K::HolePunch},
    /*symblk*/ {K::Direct, K::Direct, K::OneHardSide, K::OneHardSide, K::ImprovedBirthday, K::ImprovedBirthday, K::ImprovedBirthday, K::RelayOnly, K::OneHardSide},
    /*symunk*/ {K::Direct, K::Direct, K::OneHardSide, K::OneHardSide, K::ImprovedBirthday, K::NaiveBirthday, K::NaiveBirthday, K::RelayOnly, K::OneHardSide},
    /*eimunobs*/ {K::Direct, K::Direct, K::OneHardSide, K::OneHardSide, K::ImprovedBirthday, K::NaiveBirthday, K::NaiveBirthday, K::RelayOnly, K::OneHardSide},
    /*blocked*/ {K::RelayOnly, K::RelayOnly, K::RelayOnly, K::RelayOnly, K::RelayOnly, K::RelayOnly, K::RelayOnly, K::RelayOnly, K::RelayOnly},
    /*firewalled*/ {K::Direct, K::Direct, K::HolePunch, K::HolePunch, K::OneHardSide, K::OneHardSide, K::OneHardSide, K::RelayOnly, K::HolePunch},
};

TEST(StrategySelectionTest, NatKindByNatKind) {
  for (std::size_t i = 0; i < kKindCount; ++i) {
    for (std::size_t j = 0; j < kKindCount; ++j) {
      const auto choice = choose_strategy(kKinds[i]->side, kKinds[j]->side);
      EXPECT_EQ(choice.kind, kExpected[i][j])
          << kKinds[i]->name << " x " << kKinds[j]->name << ": got " << to_string(choice.kind) << " (" << choice.why
          << ")";
      EXPECT_FALSE(choice.why.empty());
      // Both peers pick the same kind from their own point of view.
      EXPECT_EQ(choose_strategy(kKinds[j]->side, kKinds[i]->side).kind, choice.kind);
    }
  }
}

TEST(StrategySelectionTest, NamesAreStable) {
  EXPECT_EQ(to_string(K::Direct), "direct");
  EXPECT_EQ(to_string(K::HolePunch), "hole-punch");
  EXPECT_EQ(to_string(K::OneHardSide), "one-hard-side");
  EXPECT_EQ(to_string(K::NaiveBirthday), "naive");
  EXPECT_EQ(to_string(K::ImprovedBirthday), "improved");
  EXPECT_EQ(to_string(K::RelayOnly), "relay");
}

}  // namespace
}  // namespace natpunch::punch

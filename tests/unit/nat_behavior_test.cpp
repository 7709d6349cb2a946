#include "nat/nat_behavior.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace natpunch::nat {
namespace {

using M = MappingBehavior;
using F = FilteringBehavior;
using C = ClassicType;

// The spellings are an interface (scripts and profiles match on them).
TEST(NatBehaviorTest, MappingAndFilteringNamesAreExact) {
  EXPECT_EQ(to_string(M::None), "none");
  EXPECT_EQ(to_string(M::EndpointIndependent), "endpoint-independent");
  EXPECT_EQ(to_string(M::AddressDependent), "address-dependent");
  EXPECT_EQ(to_string(M::AddressAndPortDependent), "address-and-port-dependent");
  EXPECT_EQ(to_string(M::Unknown), "unknown");
  EXPECT_EQ(to_string(F::None), "none");
  EXPECT_EQ(to_string(F::EndpointIndependent), "endpoint-independent");
  EXPECT_EQ(to_string(F::AddressDependent), "address-dependent");
  EXPECT_EQ(to_string(F::AddressAndPortDependent), "address-and-port-dependent");
  EXPECT_EQ(to_string(F::Unknown), "unknown");
}

TEST(NatBehaviorTest, ClassicAndHairpinningNamesAreExact) {
  EXPECT_EQ(to_string(C::OpenInternet), "open internet");
  EXPECT_EQ(to_string(C::FullCone), "full cone");
  EXPECT_EQ(to_string(C::RestrictedCone), "restricted cone");
  EXPECT_EQ(to_string(C::PortRestrictedCone), "port-restricted cone");
  EXPECT_EQ(to_string(C::Symmetric), "symmetric");
  EXPECT_EQ(to_string(C::SymmetricUdpFirewall), "symmetric udp firewall");
  EXPECT_EQ(to_string(C::UdpBlocked), "udp blocked");
  EXPECT_EQ(to_string(C::Unknown), "unknown");
  EXPECT_EQ(to_string(Hairpinning::Yes), "yes");
  EXPECT_EQ(to_string(Hairpinning::No), "no");
  EXPECT_EQ(to_string(Hairpinning::Unknown), "unknown");
}

TEST(NatBehaviorTest, ParseInvertsToString) {
  for (auto m : {M::None, M::EndpointIndependent, M::AddressDependent, M::AddressAndPortDependent, M::Unknown})
    EXPECT_EQ(parse_mapping_behavior(to_string(m)), m);
  for (auto f : {F::None, F::EndpointIndependent, F::AddressDependent, F::AddressAndPortDependent, F::Unknown})
    EXPECT_EQ(parse_filtering_behavior(to_string(f)), f);
  for (auto c : {C::OpenInternet, C::FullCone, C::RestrictedCone, C::PortRestrictedCone, C::Symmetric,
                 C::SymmetricUdpFirewall, C::UdpBlocked, C::Unknown})
    EXPECT_EQ(parse_classic_type(to_string(c)), c);
  EXPECT_FALSE(parse_mapping_behavior("Endpoint-Independent"));
  EXPECT_FALSE(parse_classic_type("fullcone"));
  EXPECT_FALSE(parse_filtering_behavior(""));
}

struct ClassicRow {
  M mapping;
  F filtering;
  C expected;
};

void PrintTo(const ClassicRow& r, std::ostream* os) { *os << to_string(r.mapping) << " + " << to_string(r.filtering); }

class ClassicTypeTest : public ::testing::TestWithParam<ClassicRow> {};

TEST_P(ClassicTypeTest, DerivesRfc3489Type) {
  const auto& row = GetParam();
  EXPECT_EQ(classic_type(row.mapping, row.filtering), row.expected)
      << to_string(row.mapping) << " + " << to_string(row.filtering);
}

INSTANTIATE_TEST_SUITE_P(
    AllCombinations, ClassicTypeTest,
    ::testing::Values(ClassicRow{M::EndpointIndependent, F::EndpointIndependent, C::FullCone},
                      ClassicRow{M::EndpointIndependent, F::None, C::FullCone},
                      ClassicRow{M::EndpointIndependent, F::AddressDependent, C::RestrictedCone},
                      ClassicRow{M::EndpointIndependent, F::AddressAndPortDependent, C::PortRestrictedCone},
                      ClassicRow{M::EndpointIndependent, F::Unknown, C::Unknown},
                      ClassicRow{M::AddressDependent, F::EndpointIndependent, C::Symmetric},
                      ClassicRow{M::AddressDependent, F::AddressAndPortDependent, C::Symmetric},
                      ClassicRow{M::AddressAndPortDependent, F::AddressDependent, C::Symmetric},
                      ClassicRow{M::AddressAndPortDependent, F::Unknown, C::Symmetric},
                      ClassicRow{M::None, F::None, C::OpenInternet},
                      ClassicRow{M::None, F::EndpointIndependent, C::OpenInternet},
                      ClassicRow{M::None, F::AddressDependent, C::SymmetricUdpFirewall},
                      ClassicRow{M::None, F::AddressAndPortDependent, C::SymmetricUdpFirewall},
                      ClassicRow{M::None, F::Unknown, C::Unknown},
                      ClassicRow{M::Unknown, F::EndpointIndependent, C::Unknown},
                      ClassicRow{M::Unknown, F::Unknown, C::Unknown}),
    [](const ::testing::TestParamInfo<ClassicRow>& info) {
      std::string name = std::string(to_string(info.param.mapping)) + "_" + std::string(to_string(info.param.filtering));
      for (auto& c : name)
        if (c == '-') c = '_';
      return name;
    });

}  // namespace
}  // namespace natpunch::nat

// rendezvous/server_families.hpp: which of the --rendezvous addresses a
// client registers at, fails over to and asks for its IPv6 reflexive
// address, by the families its host has.
#include <gtest/gtest.h>

#include <algorithm>

#include "rendezvous/server_families.hpp"

namespace natpunch::rendezvous {
namespace {

std::vector<Endpoint> eps(std::initializer_list<const char*> texts) {
  std::vector<Endpoint> out;
  for (const char* t : texts) out.push_back(*Endpoint::parse(t));
  return out;
}

struct FamiliesCase {
  const char* name;
  std::vector<Endpoint> servers;
  HostFamilies host;
  const char* primary;
  std::vector<Endpoint> alternates;
  std::vector<Endpoint> reflexive_v6;
};

class ServerFamilies : public ::testing::TestWithParam<FamiliesCase> {};

TEST_P(ServerFamilies, PrimaryAlternatesAndReflexiveServers) {
  const auto& c = GetParam();
  const auto chosen = choose_server_families(c.servers, c.host);
  EXPECT_EQ(chosen.primary, *Endpoint::parse(c.primary));
  EXPECT_EQ(chosen.alternates, c.alternates);
  EXPECT_EQ(chosen.reflexive_v6, c.reflexive_v6);
}

const auto kBoth = eps({"203.0.113.10:7000", "[2001:db8::10]:7000"});
const auto kCluster = eps({"203.0.113.10:7000", "[2001:db8::10]:7000", "203.0.113.11:7000", "[2001:db8::11]:7000",
                           "[2001:db8::12]:7000"});

INSTANTIATE_TEST_SUITE_P(
    Table, ServerFamilies,
    ::testing::Values(
        // Dual stack: IPv4 first as listed; the IPv6 address for the reflexive Binding.
        FamiliesCase{"DualStack", kBoth, {true, true}, "203.0.113.10:7000", {}, eps({"[2001:db8::10]:7000"})},
        // IPv6 only: registers over IPv6 though the list starts with IPv4.
        FamiliesCase{"Ipv6Only", kBoth, {false, true}, "[2001:db8::10]:7000", {}, {}},
        FamiliesCase{"Ipv4Only", kBoth, {true, false}, "203.0.113.10:7000", {}, {}},
        // No usable address of either (a test on loopback): the list as it is.
        FamiliesCase{"Neither", kBoth, {false, false}, "203.0.113.10:7000", {}, {}},
        FamiliesCase{"OnlyTheOtherFamilyListed", eps({"203.0.113.10:7000"}), {false, true}, "203.0.113.10:7000", {}, {}},
        // A cluster: failover within the registering family; at most two reflexive servers.
        FamiliesCase{"ClusterDualStack", kCluster, {true, true}, "203.0.113.10:7000", eps({"203.0.113.11:7000"}),
                     eps({"[2001:db8::10]:7000", "[2001:db8::11]:7000"})},
        FamiliesCase{"ClusterIpv6Only", kCluster, {false, true}, "[2001:db8::10]:7000",
                     eps({"[2001:db8::11]:7000", "[2001:db8::12]:7000"}), {}},
        // A dual-stack host registers over IPv4 though the list starts with
        // IPv6 (only then does it offer IPv4 candidates as well as IPv6 ones).
        FamiliesCase{"DualStackIpv6First", eps({"[2001:db8::10]:7000", "203.0.113.10:7000"}), {true, true},
                     "203.0.113.10:7000", {}, eps({"[2001:db8::10]:7000"})},
        // Only IPv6 listed: a dual-stack host registers over IPv6.
        FamiliesCase{"DualStackOnlyIpv6Listed", eps({"[2001:db8::10]:7000", "[2001:db8::11]:7000"}), {true, true},
                     "[2001:db8::10]:7000", eps({"[2001:db8::11]:7000"}), {}}),
    [](const auto& info) { return std::string(info.param.name); });

// What a dual-stack host offers does not depend on the list's order: in
// every order of a cluster's addresses it registers over IPv4, fails over
// to the other IPv4 node and asks IPv6 nodes for its IPv6 reflexive address.
TEST(ServerFamiliesOrder, DualStackChoiceIsTheSameInEveryOrder) {
  auto servers = kCluster;
  std::sort(servers.begin(), servers.end());
  int orders = 0;
  do {
    ++orders;
    const auto chosen = choose_server_families(servers, {true, true});
    ASSERT_TRUE(chosen.primary.address.is_v4()) << chosen.primary.to_string();
    ASSERT_EQ(chosen.alternates.size(), 1u);
    EXPECT_TRUE(chosen.alternates[0].address.is_v4());
    EXPECT_EQ(chosen.reflexive_v6.size(), kMaxReflexiveServers);
    for (const auto& e : chosen.reflexive_v6) EXPECT_TRUE(e.address.is_v6()) << e.to_string();
  } while (std::next_permutation(servers.begin(), servers.end()));
  EXPECT_EQ(orders, 120);
}

}  // namespace
}  // namespace natpunch::rendezvous

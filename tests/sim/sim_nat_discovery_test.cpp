// Integration check of the simulator and the NAT model: the real RFC 5780
// discovery client runs behind a simulated NAT built from a NatConfig,
// against the real STUN server logic on a simulated public host, and must
// classify every mapping x filtering combination as the config says.
#include <gtest/gtest.h>

#include <string>

#include "sim/network.hpp"
#include "sim/stun_client_app.hpp"
#include "sim/stun_server_app.hpp"
#include "stun/discovery.hpp"

namespace natpunch::sim {
namespace {

using M = nat::MappingBehavior;
using F = nat::FilteringBehavior;

const Endpoint kPrimary{IpAddress::v4({198, 51, 100, 10}), 3478};
const Endpoint kAlternate{IpAddress::v4({198, 51, 100, 11}), 3479};
const Endpoint kClient{IpAddress::v4({100, 64, 0, 2}), 5000};
const IpAddress kNatAddress = IpAddress::v4({203, 0, 113, 5});

struct Row {
  M mapping;
  F filtering;
  bool hairpinning;
};

class SimDiscoveryTest : public ::testing::TestWithParam<Row> {};

TEST_P(SimDiscoveryTest, ClassifiesTheSimulatedNat) {
  const Row row = GetParam();
  Network network(42);

  nat::NatConfig nat_config;
  nat_config.mapping = row.mapping;
  nat_config.filtering = row.filtering;
  nat_config.hairpinning = row.hairpinning;
  nat_config.allocator = nat::UniformSpec{20000, 30000};
  nat_config.public_addresses = {kNatAddress};
  auto nat = network.add_nat(nat_config, LinkConfig{milliseconds(5)});
  ASSERT_TRUE(nat);

  stun::ServerConfig server_config;
  server_config.primary = kPrimary;
  server_config.alternate = kAlternate;
  server_config.rate_limit.reset();
  StunServerApp server(server_config);
  const HostId server_host = network.add_public_host(kPrimary.address, LinkConfig{milliseconds(5)}, server);
  network.add_address(server_host, kAlternate.address);

  stun::DiscoveryConfig discovery;
  discovery.servers = {kPrimary};
  discovery.local = kClient;
  Rng rng(7);
  StunClientApp<stun::NatDiscovery> client(kClient, stun::NatDiscovery(discovery, rng, kTimeZero));
  network.add_inside_host(*nat, kClient.address, LinkConfig{milliseconds(10)}, client);

  network.run(kTimeZero + std::chrono::minutes(10), [&] { return client.machine().done(); });
  ASSERT_TRUE(client.machine().done());
  const auto& result = client.machine().result();
  EXPECT_EQ(result.mapping, row.mapping) << result.note;
  EXPECT_EQ(result.filtering, row.filtering) << result.note;
  EXPECT_EQ(result.classic, nat::classic_type(row.mapping, row.filtering));
  EXPECT_EQ(result.hairpinning, row.hairpinning ? nat::Hairpinning::Yes : nat::Hairpinning::No) << result.note;
  ASSERT_TRUE(result.mapped);
  EXPECT_EQ(result.mapped->address, kNatAddress);
  EXPECT_GE(result.mapped->port, 20000);
  EXPECT_LE(result.mapped->port, 30000);
  EXPECT_GT(server.server().counters().answered, 0u);
}

std::vector<Row> rows() {
  std::vector<Row> out;
  for (M m : {M::EndpointIndependent, M::AddressDependent, M::AddressAndPortDependent})
    for (F f : {F::EndpointIndependent, F::AddressDependent, F::AddressAndPortDependent})
      out.push_back(Row{m, f, m == M::EndpointIndependent && f == F::EndpointIndependent});
  return out;
}

std::string row_name(const ::testing::TestParamInfo<Row>& info) {
  const auto word = [](int level) {
    return level == 1 ? std::string("EI") : level == 2 ? std::string("AD") : std::string("APD");
  };
  return word(static_cast<int>(info.param.mapping)) + "Mapping_" + word(static_cast<int>(info.param.filtering)) +
         "Filtering" + (info.param.hairpinning ? "_Hairpin" : "");
}

INSTANTIATE_TEST_SUITE_P(AllBehaviours, SimDiscoveryTest, ::testing::ValuesIn(rows()), row_name);

}  // namespace
}  // namespace natpunch::sim

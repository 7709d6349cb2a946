// The NAT probe (measure/nat_probe.hpp) in virtual time: the real probe
// machine behind the simulator's NATs -- one for every kind the lab has
// (kernel kinds modelled: none, fw, fc, rc, prc, sym, block; natd's carrier
// profiles kpn-nl, lebara-nl, vodafone-nl, lycamobile-nl from profiles/;
// natd's symmetric uniform model) -- against the real STUN server logic on
// a public host with two addresses. Each kind runs with several seeds (the
// random allocators draw other ports each time) on lab-like paths, where it
// must finish within 1 s, and on a slow mobile path, where it must still be
// right. The expectation is the NAT's own config: its mapping and filtering,
// and the allocator class a sample of its allocator shows
// (nat::sample_class).
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/profile_files.hpp"
#include "measure/nat_probe.hpp"
#include "nat/allocator_spec_text.hpp"
#include "nat/profile.hpp"
#include "sim/machine_host.hpp"
#include "sim/network.hpp"
#include "stun/server_machine.hpp"

namespace natpunch::sim {
namespace {

using M = nat::MappingBehavior;
using F = nat::FilteringBehavior;
using A = nat::AllocatorClass;

const Endpoint kPrimary{IpAddress::v4({203, 0, 113, 10}), 7000};
const Endpoint kAlternate{IpAddress::v4({203, 0, 113, 11}), 7001};
const IpAddress kNatPublicIp = IpAddress::v4({203, 0, 113, 101});
const Endpoint kInsideHost{IpAddress::v4({100, 64, 1, 2}), 40312};
const Endpoint kPublicHost{IpAddress::v4({203, 0, 113, 101}), 40312};

enum class Attachment : std::uint8_t { BehindNat, Firewall, Public, Blocked };

struct Kind {
  std::string name;  // the lab's kind
  Attachment attachment = Attachment::BehindNat;
  nat::NatConfig nat;  // BehindNat, Firewall (filtering) and Blocked
};

nat::NatConfig kernel_nat(M mapping, F filtering, nat::AllocatorSpec allocator) {
  nat::NatConfig c;
  c.mapping = mapping;
  c.filtering = filtering;
  c.allocator = allocator;
  return c;
}

nat::NatConfig profile_nat(const std::string& name) {
  auto profile = io::load_profile_by_name(name, {NATPUNCH_PROFILES_DIR});
  EXPECT_TRUE(profile) << name;
  if (!profile) return {};
  nat::NatConfigOptions options;
  options.public_addresses = {kNatPublicIp};  // validate() wants one; run_probe sets it anyway
  auto config = nat::make_nat_config(*profile, options);
  EXPECT_TRUE(config) << name;
  return config ? *config : nat::NatConfig{};
}

// The lab's kinds (lab/README.md: the kernel's masquerade keeps ports,
// fully-random draws them over the whole range).
std::vector<Kind> kinds() {
  const M eim = M::EndpointIndependent, apdm = M::AddressAndPortDependent;
  const F eif = F::EndpointIndependent, adf = F::AddressDependent, apdf = F::AddressAndPortDependent;
  std::vector<Kind> k{
      {"none", Attachment::Public, {}},
      {"fw", Attachment::Firewall, kernel_nat(eim, apdf, nat::PreservingSpec{})},
      {"fc", Attachment::BehindNat, kernel_nat(eim, eif, nat::PreservingSpec{})},
      {"rc", Attachment::BehindNat, kernel_nat(eim, adf, nat::PreservingSpec{})},
      {"prc", Attachment::BehindNat, kernel_nat(eim, apdf, nat::PreservingSpec{})},
      {"sym", Attachment::BehindNat, kernel_nat(apdm, apdf, nat::RandomFullySpec{})},
      {"block", Attachment::Blocked, kernel_nat(eim, apdf, nat::PreservingSpec{})},
      {"kpn", Attachment::BehindNat, profile_nat("kpn-nl")},
      {"lebara", Attachment::BehindNat, profile_nat("lebara-nl")},
      {"vodafone", Attachment::BehindNat, profile_nat("vodafone-nl")},
      {"lycamobile", Attachment::BehindNat, profile_nat("lycamobile-nl")},
      {"msym", Attachment::BehindNat, kernel_nat(apdm, apdf, nat::UniformSpec{2048, 65535})},
  };
  return k;
}

struct Expected {
  bool no_answer = false;
  M mapping = M::Unknown;
  F filtering = F::Unknown;
  A allocator = A::Unknown;
};

// Ground truth: what the world is.
Expected expected(const Kind& kind) {
  switch (kind.attachment) {
    case Attachment::Public:
      return {false, M::None, F::None, A::NotTranslated};
    case Attachment::Firewall:
      return {false, M::None, kind.nat.filtering, A::NotTranslated};
    case Attachment::Blocked:
      return {true, M::Unknown, F::Unknown, A::Unknown};
    case Attachment::BehindNat:
      break;
  }
  return {false, kind.nat.mapping, kind.nat.filtering, nat::sample_class(kind.nat.allocator)};
}

struct Paths {
  const char* name;
  LinkConfig access, nat_uplink, server_uplink;
};
// The lab: veths and natd, well under a millisecond each way; we give 1 ms.
const Paths kLabPaths{"lab", LinkConfig{milliseconds(1)}, LinkConfig{milliseconds(1)}, LinkConfig{milliseconds(1)}};
// A 4G phone far from the server: 120 ms round trip, 20 ms jitter.
const Paths kMobilePaths{"mobile", LinkConfig{milliseconds(30), milliseconds(10)}, LinkConfig{milliseconds(15)},
                         LinkConfig{milliseconds(15)}};

using ProbeHost = MachineHost<measure::NatProbe>;
using ServerHost = MachineHost<stun::ServerMachine>;

stun::ServerConfig server_config() {
  stun::ServerConfig c;
  c.primary = kPrimary;
  c.alternate = kAlternate;
  return c;
}

struct Run {
  measure::NatProbeResult result;
  bool finished = false;
};

Run run_probe(const Kind& kind, const Paths& paths, std::uint64_t seed) {
  Network network(seed);
  stun::ServerMachine server_machine(server_config());
  ServerHost server(server_machine.socket_endpoints(), std::move(server_machine));
  const HostId server_host = network.add_public_host(kPrimary.address, paths.server_uplink, server);
  network.add_address(server_host, kAlternate.address);

  const bool public_address = kind.attachment == Attachment::Public || kind.attachment == Attachment::Firewall;
  const Endpoint local = public_address ? kPublicHost : kInsideHost;
  measure::NatProbeConfig config;
  config.server = kPrimary;
  config.local = local;
  // The host binds machine socket i at local.port + i.
  config.local_port = [&local](SocketId s) -> std::optional<std::uint16_t> {
    return static_cast<std::uint16_t>(local.port + s);
  };
  Rng rng(seed);
  ProbeHost client(local.address, local.port, measure::NatProbe(config, rng, kTimeZero));
  Run run;
  client.on_event = [&run](const measure::NatProbeEvent& e) {
    run.result = std::get<measure::nat_probe_event::Done>(e).result;
    run.finished = true;
  };
  if (kind.attachment == Attachment::Public) {
    network.add_public_host(local.address, paths.nat_uplink, client);
  } else {
    nat::NatConfig nat = kind.nat;
    nat.public_addresses = {public_address ? kPublicHost.address : kNatPublicIp};
    auto id = network.add_nat(nat, paths.nat_uplink);
    EXPECT_TRUE(id) << kind.name;
    if (!id) return run;
    LinkConfig access = paths.access;
    if (kind.attachment == Attachment::Blocked) access.loss = 1.0;
    network.add_inside_host(*id, local.address, access, client);
  }
  network.run(kTimeZero + seconds(60), [&] { return run.finished; });
  return run;
}

std::string describe(const measure::NatProbeResult& r) {
  const auto& k = r.knowledge;
  std::string ports;
  for (const auto& m : r.sample) ports += " " + std::to_string(m.mapped_port);
  return nat::describe(k) + " | " + std::string(to_string(k.allocator.kind)) + ": " + k.allocator.why +
         " | ports" + ports + " | " + k.note;
}

class SimNatProbe : public ::testing::TestWithParam<Kind> {};

void check(const Kind& kind, const Paths& paths, std::uint64_t seed, Duration bound) {
  SCOPED_TRACE(kind.name + " on " + paths.name + " paths, seed " + std::to_string(seed));
  const Run run = run_probe(kind, paths, seed);
  ASSERT_TRUE(run.finished);
  const auto& k = run.result.knowledge;
  SCOPED_TRACE(describe(run.result));
  const Expected e = expected(kind);
  EXPECT_EQ(k.no_answer, e.no_answer);
  EXPECT_EQ(k.mapping, e.mapping);
  EXPECT_EQ(k.filtering, e.filtering);
  EXPECT_EQ(k.allocator.kind, e.allocator);
  EXPECT_LE(k.took, bound);
  if (e.no_answer) return;
  // Whatever is told to the peer must be a valid allocator of that class
  // (a cluster is told as a uniform range around it).
  if (k.allocator.spec) {
    EXPECT_FALSE(nat::validate(*k.allocator.spec));
    EXPECT_EQ(nat::sample_class(*k.allocator.spec), k.allocator.kind == A::Clustered ? A::Random : k.allocator.kind);
  }
  if (e.mapping != M::None) {
    // Every sample socket's mapping plus socket 0's (towards the alternate
    // address too, where the mapping depends on the destination).
    const std::size_t extra = e.mapping == M::EndpointIndependent ? 0 : 2;
    EXPECT_EQ(run.result.sample.size(), 1 + 8 + extra);
  }
}

TEST_P(SimNatProbe, LearnsTheNatWithinASecondOnLabPaths) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) check(GetParam(), kLabPaths, seed, milliseconds(1000));
}

TEST_P(SimNatProbe, IsStillRightOnASlowMobilePath) {
  // Slower, not wrong: tests wait for twice the measured round trip.
  for (std::uint64_t seed = 1; seed <= 3; ++seed) check(GetParam(), kMobilePaths, seed, seconds(3));
}

INSTANTIATE_TEST_SUITE_P(EveryLabKind, SimNatProbe, ::testing::ValuesIn(kinds()),
                         [](const ::testing::TestParamInfo<Kind>& info) { return info.param.name; });

}  // namespace
}  // namespace natpunch::sim

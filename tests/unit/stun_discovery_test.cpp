// NAT behaviour discovery run against the real STUN server logic through a
// fake NAT, in virtual time (cf. stuntman's testclientlogic.cpp).
#include "stun/discovery.hpp"

#include <gtest/gtest.h>

#include <map>
#include <ostream>
#include <optional>
#include <string>
#include <vector>

#include "fake_nat.hpp"
#include "fake_network.hpp"
#include "stun/message.hpp"
#include "stun/server.hpp"

namespace natpunch::stun {
namespace {

static_assert(ProtocolMachine<NatDiscovery>);

using fake::Datagram;
using fake::FakeNat;
using fake::FakeNatConfig;
using fake::FakeNetwork;
using M = nat::MappingBehavior;
using F = nat::FilteringBehavior;
using C = nat::ClassicType;
using H = nat::Hairpinning;

const Endpoint kPrimary{IpAddress::v4({198, 51, 100, 10}), 3478};
const Endpoint kAlternate{IpAddress::v4({198, 51, 100, 11}), 3479};
const Endpoint kDeadServer{IpAddress::v4({198, 51, 100, 1}), 3478};
const Endpoint kAttacker{IpAddress::v4({198, 51, 100, 66}), 3478};
const IpAddress kNatPublicIp = IpAddress::v4({203, 0, 113, 5});
const Endpoint kInsideHost{IpAddress::v4({100, 64, 7, 2}), 5000};
const Endpoint kPublicHost{IpAddress::v4({203, 0, 113, 20}), 5000};
const Endpoint kFirstMapping{kNatPublicIp, 40000};

struct Scenario {
  const char* name;
  // The world.
  M nat_mapping = M::EndpointIndependent;  // None: host has a public address
  F nat_filtering = F::EndpointIndependent;
  bool nat_hairpins = false;
  bool drop_all = false;
  bool first_server_dead = false;
  bool server_has_alternate = true;
  bool test_hairpinning = true;
  // What discovery must conclude.
  C classic = C::Unknown;
  M mapping = M::Unknown;
  F filtering = F::Unknown;
  H hairpinning = H::Unknown;
  std::optional<Endpoint> mapped = kFirstMapping;
  const char* note_contains = "";
};

// Everything a scenario needs, wired up: servers outside, NAT, network.
struct World {
  explicit World(const Scenario& s)
      : local(s.nat_mapping == M::None ? kPublicHost : kInsideHost),
        server([&] {
          ServerConfig c;
          c.primary = kPrimary;
          if (s.server_has_alternate) c.alternate = kAlternate;
          c.rate_limit.reset();
          return c;
        }()),
        nat(FakeNatConfig{s.nat_mapping, s.nat_filtering, s.nat_hairpins, s.drop_all,
                          s.nat_mapping == M::None ? kPublicHost.address : kNatPublicIp, 40000}),
        net(nat) {
    net.add_server(server);
    config.servers = s.first_server_dead ? std::vector<Endpoint>{kDeadServer, kPrimary} : std::vector<Endpoint>{kPrimary};
    config.local = local;
    config.test_hairpinning = s.test_hairpinning;
  }

  fake::RunLog run(NatDiscovery& discovery) { return fake::run_to_completion(discovery, net, local); }

  Endpoint local;
  Server server;
  FakeNat nat;
  FakeNetwork net;
  DiscoveryConfig config;
  Rng rng{7};
};

// Keeps gtest from dumping the row's bytes.
void PrintTo(const Scenario& s, std::ostream* os) { *os << s.name; }

std::string describe(const DiscoveryResult& r) {
  return std::string(to_string(r.classic)) + " / mapping " + std::string(to_string(r.mapping)) + " / filtering " +
         std::string(to_string(r.filtering)) + " / hairpinning " + std::string(to_string(r.hairpinning)) +
         " / mapped " + (r.mapped ? r.mapped->to_string() : "-") + " / note: " + r.note;
}

class DiscoveryScenarioTest : public ::testing::TestWithParam<Scenario> {};

TEST_P(DiscoveryScenarioTest, ClassifiesTheNat) {
  const Scenario& s = GetParam();
  World world(s);
  NatDiscovery discovery(world.config, world.rng, kTimeZero);
  const auto log = world.run(discovery);
  ASSERT_TRUE(log.finished) << "discovery did not finish";
  const auto& r = discovery.result();
  SCOPED_TRACE(describe(r));
  EXPECT_EQ(r.classic, s.classic);
  EXPECT_EQ(r.mapping, s.mapping);
  EXPECT_EQ(r.filtering, s.filtering);
  EXPECT_EQ(r.hairpinning, s.hairpinning);
  EXPECT_EQ(r.mapped, s.mapped);
  if (s.mapped) {
    EXPECT_EQ(r.server, kPrimary);
    EXPECT_EQ(r.server_alternate, s.server_has_alternate ? std::optional<Endpoint>(kAlternate) : std::nullopt);
  }
  EXPECT_NE(r.note.find(s.note_contains), std::string::npos);
  EXPECT_FALSE(r.note.empty());
  EXPECT_FALSE(discovery.next_deadline());
  EXPECT_FALSE(discovery.poll_transmit(log.finished_at + seconds(100)));
}

std::vector<Scenario> scenarios() {
  std::vector<Scenario> rows;
  // All nine NAT behaviours, alternating hairpinning support.
  const M mappings[] = {M::EndpointIndependent, M::AddressDependent, M::AddressAndPortDependent};
  const F filterings[] = {F::EndpointIndependent, F::AddressDependent, F::AddressAndPortDependent};
  const C cones[] = {C::FullCone, C::RestrictedCone, C::PortRestrictedCone};
  const char* names[3][3] = {{"EIM_EIF", "EIM_ADF", "EIM_APDF"},
                             {"ADM_EIF", "ADM_ADF", "ADM_APDF"},
                             {"APDM_EIF", "APDM_ADF", "APDM_APDF"}};
  bool hairpins = true;
  for (int m = 0; m < 3; ++m) {
    for (int f = 0; f < 3; ++f) {
      Scenario s{names[m][f]};
      s.nat_mapping = mappings[m];
      s.nat_filtering = filterings[f];
      s.nat_hairpins = hairpins;
      s.classic = m == 0 ? cones[f] : C::Symmetric;
      s.mapping = mappings[m];
      s.filtering = filterings[f];
      s.hairpinning = hairpins ? H::Yes : H::No;
      rows.push_back(s);
      hairpins = !hairpins;
    }
  }

  Scenario open{"OpenInternet"};
  open.nat_mapping = M::None;
  open.nat_filtering = F::None;
  open.classic = C::OpenInternet;
  open.mapping = M::None;
  open.filtering = F::None;
  open.mapped = kPublicHost;
  open.note_contains = "no NAT";
  rows.push_back(open);

  Scenario firewall{"SymmetricUdpFirewallPortFiltering"};
  firewall.nat_mapping = M::None;
  firewall.nat_filtering = F::AddressAndPortDependent;
  firewall.classic = C::SymmetricUdpFirewall;
  firewall.mapping = M::None;
  firewall.filtering = F::AddressAndPortDependent;
  firewall.mapped = kPublicHost;
  rows.push_back(firewall);

  Scenario firewall_ip = firewall;
  firewall_ip.name = "SymmetricUdpFirewallAddressFiltering";
  firewall_ip.nat_filtering = F::AddressDependent;
  firewall_ip.filtering = F::AddressDependent;
  rows.push_back(firewall_ip);

  Scenario blocked{"UdpBlocked"};
  blocked.drop_all = true;
  blocked.classic = C::UdpBlocked;
  blocked.mapped = std::nullopt;
  blocked.note_contains = "did not answer";
  rows.push_back(blocked);

  Scenario failover{"FirstServerDeadSecondAnswers"};
  failover.first_server_dead = true;
  failover.nat_hairpins = true;
  failover.classic = C::FullCone;
  failover.mapping = M::EndpointIndependent;
  failover.filtering = F::EndpointIndependent;
  failover.hairpinning = H::Yes;
  failover.note_contains = "server 198.51.100.1:3478 did not answer; used 198.51.100.10:3478";
  rows.push_back(failover);

  Scenario no_alt{"ServerWithoutAlternate"};
  no_alt.server_has_alternate = false;
  no_alt.nat_filtering = F::AddressAndPortDependent;
  no_alt.nat_hairpins = true;
  no_alt.hairpinning = H::Yes;  // needs no alternate
  no_alt.note_contains = "no alternate address";
  rows.push_back(no_alt);

  Scenario no_alt_no_nat{"ServerWithoutAlternateNoNat"};
  no_alt_no_nat.server_has_alternate = false;
  no_alt_no_nat.nat_mapping = M::None;
  no_alt_no_nat.nat_filtering = F::None;
  no_alt_no_nat.mapping = M::None;
  no_alt_no_nat.mapped = kPublicHost;
  no_alt_no_nat.note_contains = "filtering behaviour unknown";
  rows.push_back(no_alt_no_nat);

  Scenario skip_hairpin{"HairpinTestDisabled"};
  skip_hairpin.nat_hairpins = true;
  skip_hairpin.test_hairpinning = false;
  skip_hairpin.classic = C::FullCone;
  skip_hairpin.mapping = M::EndpointIndependent;
  skip_hairpin.filtering = F::EndpointIndependent;
  rows.push_back(skip_hairpin);

  Scenario symmetric_hairpin{"APDM_APDF_WithoutHairpinning"};
  symmetric_hairpin.nat_mapping = M::AddressAndPortDependent;
  symmetric_hairpin.nat_filtering = F::AddressAndPortDependent;
  symmetric_hairpin.nat_hairpins = false;
  symmetric_hairpin.classic = C::Symmetric;
  symmetric_hairpin.mapping = M::AddressAndPortDependent;
  symmetric_hairpin.filtering = F::AddressAndPortDependent;
  symmetric_hairpin.hairpinning = H::No;
  rows.push_back(symmetric_hairpin);
  return rows;
}

INSTANTIATE_TEST_SUITE_P(Matrix, DiscoveryScenarioTest, ::testing::ValuesIn(scenarios()),
                         [](const ::testing::TestParamInfo<Scenario>& info) { return std::string(info.param.name); });

// --- retransmission --------------------------------------------------------

std::vector<long> times_to(const fake::RunLog& log, const Endpoint& to) {
  std::vector<long> ms;
  for (const auto& [at, dest] : log.sends)
    if (dest == to) ms.push_back(std::chrono::duration_cast<milliseconds>(at - kTimeZero).count());
  return ms;
}

TEST(DiscoveryTest, BlockedRetransmitsPerDefaultPolicyThenFailsOver) {
  Scenario s{"blocked"};
  s.drop_all = true;
  s.first_server_dead = true;
  World world(s);
  NatDiscovery discovery(world.config, world.rng, kTimeZero);
  const auto log = world.run(discovery);
  ASSERT_TRUE(log.finished);
  EXPECT_EQ(log.sends.size(), 14u);
  EXPECT_EQ(times_to(log, kDeadServer), (std::vector<long>{0, 500, 1500, 3500, 7500, 15500, 31500}));
  EXPECT_EQ(times_to(log, kPrimary),
            (std::vector<long>{39500, 40000, 41000, 43000, 47000, 55000, 71000}));
  EXPECT_EQ(log.finished_at, kTimeZero + milliseconds(79000));
  EXPECT_EQ(discovery.result().classic, C::UdpBlocked);
  EXPECT_EQ(discovery.result().note,
            "server 198.51.100.1:3478 did not answer; server 198.51.100.10:3478 did not answer; "
            "no server answered: UDP blocked");
}

TEST(DiscoveryTest, BlockedRetransmitsPerCustomPolicy) {
  Scenario s{"blocked"};
  s.drop_all = true;
  World world(s);
  world.config.retransmit = RetransmitPolicy{milliseconds(100), 3, 4};
  NatDiscovery discovery(world.config, world.rng, kTimeZero);
  const auto log = world.run(discovery);
  ASSERT_TRUE(log.finished);
  EXPECT_EQ(times_to(log, kPrimary), (std::vector<long>{0, 100, 300}));
  EXPECT_EQ(log.finished_at, kTimeZero + milliseconds(700));
}

TEST(DiscoveryTest, FilteringWaitsForChangeTestsToTimeOut) {
  // Port-restricted: both change requests go unanswered, so the filtering
  // verdict comes only when the change-both transaction has timed out.
  Scenario s{"prc"};
  s.nat_filtering = F::AddressAndPortDependent;
  s.test_hairpinning = false;
  World world(s);
  NatDiscovery discovery(world.config, world.rng, kTimeZero);
  const auto log = world.run(discovery);
  ASSERT_TRUE(log.finished);
  EXPECT_EQ(discovery.result().classic, C::PortRestrictedCone);
  // Test I answered after 20 ms; change tests 7 sends each to the primary.
  EXPECT_EQ(times_to(log, kPrimary).size(), 1u + 7u + 7u);
  const Endpoint alt_ip{kAlternate.address, kPrimary.port};
  EXPECT_EQ(times_to(log, alt_ip), (std::vector<long>{20 + 39500}));
}

// --- spoofing and validation -------------------------------------------------

std::vector<std::uint8_t> forged_response(const MessageView& request, const Endpoint& mapped) {
  std::vector<std::uint8_t> buf(128);
  MessageBuilder b(buf, Method::Binding, MessageClass::SuccessResponse, request.transaction_id(), request.cookie());
  b.add_xor_address(attr::kXorMappedAddress, mapped);
  b.add_address(attr::kOtherAddress, Endpoint{IpAddress::v4({198, 51, 100, 77}), 1});
  buf.resize(b.size());
  return buf;
}

TEST(DiscoveryTest, SpoofedResponsesAreIgnored) {
  Scenario s{"spoof"};  // full cone: the NAT lets any forgery through to the client
  World world(s);
  int forged = 0;
  world.net.on_client_send = [&](TimePoint now, const Datagram& d) {
    auto request = MessageView::decode(d.bytes);
    ASSERT_TRUE(request);
    const Endpoint bogus{IpAddress::v4({198, 51, 100, 99}), 1};
    // Right id, wrong source.
    world.net.inject(now + milliseconds(1), Datagram{kAttacker, kFirstMapping, forged_response(*request, bogus)});
    // Right source, unknown id.
    std::vector<std::uint8_t> other_id = forged_response(*request, bogus);
    other_id[19] ^= 0x55;
    world.net.inject(now + milliseconds(1), Datagram{d.to, kFirstMapping, other_id});
    forged += 2;
  };
  NatDiscovery discovery(world.config, world.rng, kTimeZero);
  world.run(discovery);
  ASSERT_TRUE(discovery.done());
  EXPECT_GT(forged, 0);
  const auto& r = discovery.result();
  EXPECT_EQ(r.classic, C::FullCone) << describe(r);
  EXPECT_EQ(r.mapped, kFirstMapping);
  EXPECT_EQ(r.server_alternate, kAlternate);
}

TEST(DiscoveryTest, ChangeResponseFromWrongSocketIsNotEndpointIndependentFiltering) {
  // A server (or attacker) answering CHANGE-REQUEST from the primary address
  // would make a port-restricted NAT look like a full cone if the source
  // were not checked.
  Scenario s{"wrong socket"};
  s.nat_filtering = F::AddressAndPortDependent;
  s.test_hairpinning = false;
  World world(s);
  world.net.on_client_send = [&](TimePoint now, const Datagram& d) {
    auto request = MessageView::decode(d.bytes);
    ASSERT_TRUE(request);
    if (request->change_request())
      world.net.inject(now + milliseconds(15), Datagram{kPrimary, kFirstMapping, forged_response(*request, kFirstMapping)});
  };
  NatDiscovery discovery(world.config, world.rng, kTimeZero);
  world.run(discovery);
  ASSERT_TRUE(discovery.done());
  EXPECT_EQ(discovery.result().filtering, F::AddressAndPortDependent);
  EXPECT_EQ(discovery.result().classic, C::PortRestrictedCone);
}

// Drives discovery by hand, playing the server ourselves.
struct Manual {
  Manual() : discovery(make_config(), rng, kTimeZero) {}
  static DiscoveryConfig make_config() {
    DiscoveryConfig c;
    c.servers = {kPrimary};
    c.local = kInsideHost;
    c.test_hairpinning = false;
    return c;
  }
  std::vector<Transmit> sent(TimePoint now) {
    std::vector<Transmit> out;
    while (auto t = discovery.poll_transmit(now)) out.push_back(std::move(*t));
    return out;
  }

  Rng rng{3};
  NatDiscovery discovery;
};

TEST(DiscoveryTest, AcceptsClassicServerWithChangedAddressAndMappedAddressOnly) {
  Manual m;
  auto first = m.sent(kTimeZero);
  ASSERT_EQ(first.size(), 1u);
  auto request = MessageView::decode(first[0].bytes);
  ASSERT_TRUE(request);
  EXPECT_FALSE(request->change_request());
  std::vector<std::uint8_t> buf(128);
  MessageBuilder b(buf, Method::Binding, MessageClass::SuccessResponse, request->transaction_id(), request->cookie());
  b.add_address(attr::kMappedAddress, kFirstMapping);
  b.add_address(attr::kSourceAddress, kPrimary);
  b.add_address(attr::kChangedAddress, kAlternate);
  m.discovery.on_datagram(kTimeZero + milliseconds(20), 0, kPrimary, b.bytes());

  EXPECT_EQ(m.discovery.result().mapped, kFirstMapping);
  EXPECT_EQ(m.discovery.result().server_alternate, kAlternate);
  auto change = m.sent(kTimeZero + milliseconds(20));
  ASSERT_EQ(change.size(), 2u);
  for (const auto& t : change) {
    EXPECT_EQ(t.to, kPrimary);
    auto v = MessageView::decode(t.bytes);
    ASSERT_TRUE(v);
    ASSERT_TRUE(v->change_request());
    EXPECT_TRUE(v->change_request()->change_port);
    EXPECT_TRUE(v->has_fingerprint());
  }
}

TEST(DiscoveryTest, CorruptedFingerprintIsIgnored) {
  Manual m;
  auto first = m.sent(kTimeZero);
  auto request = MessageView::decode(first.at(0).bytes);
  ASSERT_TRUE(request);
  std::vector<std::uint8_t> buf(128);
  MessageBuilder b(buf, Method::Binding, MessageClass::SuccessResponse, request->transaction_id(), request->cookie());
  b.add_xor_address(attr::kXorMappedAddress, kFirstMapping);
  b.add_fingerprint();
  std::vector<std::uint8_t> corrupted(b.bytes().begin(), b.bytes().end());
  corrupted[27] ^= 0x01;  // inside XOR-MAPPED-ADDRESS
  m.discovery.on_datagram(kTimeZero + milliseconds(20), 0, kPrimary, corrupted);
  EXPECT_FALSE(m.discovery.result().mapped);
  m.discovery.on_datagram(kTimeZero + milliseconds(21), 0, kPrimary, b.bytes());
  EXPECT_EQ(m.discovery.result().mapped, kFirstMapping);
  // No alternate in that response: done without change tests.
  EXPECT_TRUE(m.discovery.done());
  EXPECT_EQ(m.discovery.result().classic, C::Unknown);
}

TEST(DiscoveryTest, ErrorResponseFailsOverWithoutClaimingUdpBlocked) {
  Manual m;
  auto request = MessageView::decode(m.sent(kTimeZero).at(0).bytes);
  ASSERT_TRUE(request);
  std::vector<std::uint8_t> buf(128);
  MessageBuilder b(buf, Method::Binding, MessageClass::ErrorResponse, request->transaction_id(), request->cookie());
  b.add_error_code(500, "Server Error");
  m.discovery.on_datagram(kTimeZero + milliseconds(20), 0, kPrimary, b.bytes());
  ASSERT_TRUE(m.discovery.done());
  EXPECT_EQ(m.discovery.result().classic, C::Unknown);
  EXPECT_NE(m.discovery.result().note.find("without a usable mapped address"), std::string::npos);
}

TEST(DiscoveryTest, ReportsDoneOnceWithTheFinalResult) {
  Scenario s{"done"};
  s.test_hairpinning = false;
  World world(s);
  NatDiscovery discovery(world.config, world.rng, kTimeZero);
  EXPECT_FALSE(discovery.poll_event());
  world.run(discovery);
  ASSERT_TRUE(discovery.done());
  auto event = discovery.poll_event();
  ASSERT_TRUE(event);
  const auto& result = std::get<discovery_event::Done>(*event).result;
  EXPECT_EQ(result.classic, C::FullCone);
  EXPECT_EQ(result.mapped, kFirstMapping);
  EXPECT_EQ(result.note, discovery.result().note);
  EXPECT_FALSE(discovery.poll_event());
}

TEST(DiscoveryTest, DatagramOnAnotherSocketIsIgnored) {
  Manual m;
  auto request = MessageView::decode(m.sent(kTimeZero).at(0).bytes);
  ASSERT_TRUE(request);
  std::vector<std::uint8_t> buf(128);
  MessageBuilder b(buf, Method::Binding, MessageClass::SuccessResponse, request->transaction_id(), request->cookie());
  b.add_xor_address(attr::kXorMappedAddress, kFirstMapping);
  m.discovery.on_datagram(kTimeZero + milliseconds(20), 1, kPrimary, b.bytes());
  EXPECT_FALSE(m.discovery.result().mapped);
  m.discovery.on_datagram(kTimeZero + milliseconds(20), 0, kPrimary, b.bytes());
  EXPECT_EQ(m.discovery.result().mapped, kFirstMapping);
}

TEST(DiscoveryTest, NoServersIsDoneAndUnknown) {
  Rng rng{1};
  DiscoveryConfig c;
  c.local = kInsideHost;
  NatDiscovery discovery(c, rng, kTimeZero);
  EXPECT_TRUE(discovery.done());
  EXPECT_EQ(discovery.result().classic, C::Unknown);
  EXPECT_FALSE(discovery.poll_transmit(kTimeZero));
  EXPECT_FALSE(discovery.next_deadline());
}

TEST(DiscoveryTest, EachTestIsItsOwnTransaction) {
  Scenario s{"ids"};  // full cone, no hairpinning: every test runs, the hairpin one to its timeout
  World world(s);
  std::map<TransactionId, int> sends_per_id;
  world.net.on_client_send = [&](TimePoint, const Datagram& d) {
    auto v = MessageView::decode(d.bytes);
    ASSERT_TRUE(v);
    ++sends_per_id[v->transaction_id()];
  };
  NatDiscovery discovery(world.config, world.rng, kTimeZero);
  world.run(discovery);
  // Test I, change-both, change-port, two mapping tests, hairpin: six ids;
  // only the unanswered hairpin request is retransmitted (Rc = 7 sends).
  ASSERT_EQ(sends_per_id.size(), 6u);
  int retransmitted = 0;
  for (const auto& [id, sends] : sends_per_id) {
    if (sends > 1) {
      ++retransmitted;
      EXPECT_EQ(sends, 7);
    }
  }
  EXPECT_EQ(retransmitted, 1);
  EXPECT_EQ(discovery.result().hairpinning, H::No);
}

}  // namespace
}  // namespace natpunch::stun

// RFC 5780 discovery in the simulator: the real discovery client
// (sim::MachineHost<stun::NatDiscovery>) behind a simulated NAT built from a
// NatConfig, against the real STUN server logic (stun::ServerMachine) on a
// public host with two addresses, in virtual time (cf. stuntman's
// testclientlogic.cpp). It must classify every mapping x filtering
// combination, the open internet, stateful firewalls, blocked UDP, a dead
// first server, servers without an alternate, hairpinning or not; keep the
// RFC 8489 retransmission schedule; and ignore forged answers.
//
// These scenarios ran on a test-only network (tests/unit/fake_network.hpp
// with its own NAT, fake_nat.hpp) before. Two things differ on the
// simulator's NAT model (nat::NatTable): a stateful firewall is a "NAT" on
// the host's own address that keeps ports (mapped == local), and a
// hairpinned packet passes the NAT's filter like any inbound one (as if
// from the sender's external endpoint), so a NAT that hairpins but maps
// per destination and filters by address drops it: discovery says No there.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "sim/machine_host.hpp"
#include "sim/network.hpp"
#include "stun/discovery.hpp"
#include "stun/message.hpp"
#include "stun/server_machine.hpp"

namespace natpunch::sim {
namespace {

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

// One way client -> server is 10 ms either way in: 2 ms access + 3 ms NAT
// uplink + 5 ms server uplink, or 5 + 5 from a public client.
const LinkConfig kAccess{milliseconds(2)};
const LinkConfig kNatUplink{milliseconds(3)};
const LinkConfig kServerUplink{milliseconds(5)};
const LinkConfig kPublicClientUplink{milliseconds(5)};

enum class Attachment : std::uint8_t {
  BehindNat,  // a translating NAT (mapping x filtering)
  Firewall,   // a stateful filter on the host's own public address: nothing translated
  Public,     // the open internet
};

struct Scenario {
  const char* name;
  // The world.
  Attachment attachment = Attachment::BehindNat;
  M nat_mapping = M::EndpointIndependent;
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

// Sends what it is told to, when it is told to, from whatever source it is
// told to (an on-path attacker that sees the client's requests).
class Forger final : public HostApp {
 public:
  struct Planned {
    TimePoint at;
    Endpoint from;
    Endpoint to;
    std::vector<std::uint8_t> bytes;
  };
  void plan(Planned p) { queue_.push_back(std::move(p)); }

  std::optional<TimePoint> next_deadline() const override {
    std::optional<TimePoint> earliest;
    for (const auto& p : queue_)
      if (!earliest || p.at < *earliest) earliest = p.at;
    return earliest;
  }
  void on_timer(TimePoint now, Outbox& out) override {
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (it->at > now) {
        ++it;
        continue;
      }
      out.send(it->from, it->to, it->bytes);
      it = queue_.erase(it);
    }
  }
  void on_datagram(TimePoint, const Packet&, Outbox&) override {}

 private:
  std::vector<Planned> queue_;
};

using ClientHost = MachineHost<stun::NatDiscovery>;
using ServerHost = MachineHost<stun::ServerMachine>;

stun::ServerConfig server_config(bool alternate) {
  stun::ServerConfig c;
  c.primary = kPrimary;
  if (alternate) c.alternate = kAlternate;
  c.rate_limit.reset();
  return c;
}

// Everything a scenario needs, wired up: the server outside, the client
// behind its NAT (or not), an attacker host.
struct World {
  explicit World(const Scenario& s, stun::RetransmitPolicy policy = {}, std::optional<SocketId> filtering_socket = {})
      : local(s.attachment == Attachment::BehindNat ? kInsideHost : kPublicHost),
        server(stun::ServerMachine(server_config(s.server_has_alternate)).socket_endpoints(),
               stun::ServerMachine(server_config(s.server_has_alternate))) {
    const HostId server_host = network.add_public_host(kPrimary.address, kServerUplink, server);
    if (s.server_has_alternate) network.add_address(server_host, kAlternate.address);
    attacker_host = network.add_public_host(kAttacker.address, LinkConfig{}, attacker);

    stun::DiscoveryConfig config;
    config.servers = s.first_server_dead ? std::vector<Endpoint>{kDeadServer, kPrimary} : std::vector<Endpoint>{kPrimary};
    config.local = local;
    config.test_hairpinning = s.test_hairpinning;
    config.filtering_socket = filtering_socket;
    config.retransmit = policy;
    client = std::make_unique<ClientHost>(local.address, local.port, stun::NatDiscovery(config, rng, kTimeZero));
    client->on_send = [this](TimePoint now, const Transmit& t) {
      sends.emplace_back(now, t.to);
      const auto request = stun::MessageView::decode(t.bytes.span());
      client_requests.emplace_back(t.socket, request && request->change_request().has_value());
      if (on_client_send) on_client_send(now, t);
    };
    client->on_event = [this](const stun::DiscoveryEvent& e) {
      done_events.push_back(std::get<stun::discovery_event::Done>(e));
      finished_at = network.now();
    };
    LinkConfig access = kAccess;
    if (s.drop_all) access.loss = 1.0;
    if (s.attachment == Attachment::Public) {
      network.add_public_host(local.address, kPublicClientUplink, *client);
      return;
    }
    nat::NatConfig nat;
    nat.mapping = s.nat_mapping;
    nat.filtering = s.nat_filtering;
    nat.hairpinning = s.nat_hairpins;
    if (s.attachment == Attachment::Firewall) {
      nat.allocator = nat::PreservingSpec{};
      nat.public_addresses = {kPublicHost.address};
    } else {
      nat.allocator = nat::SequentialSpec{40000, 65535};
      nat.public_addresses = {kNatPublicIp};
    }
    auto id = network.add_nat(nat, kNatUplink);
    EXPECT_TRUE(id);
    network.add_inside_host(*id, local.address, access, *client);
  }

  // Runs until discovery is done (or 30 minutes of virtual time).
  bool run() {
    network.run(kTimeZero + std::chrono::minutes(30), [&] { return discovery().done(); });
    return discovery().done();
  }
  stun::NatDiscovery& discovery() { return client->machine(); }
  // Puts a datagram on the internet from the attacker's host, arriving after its path.
  void inject(TimePoint at, const Endpoint& from, const Endpoint& to, std::vector<std::uint8_t> bytes) {
    attacker.plan(Forger::Planned{at, from, to, std::move(bytes)});
    network.wake(attacker_host);
  }

  Network network{7};
  Rng rng{7};
  Endpoint local;
  ServerHost server;
  Forger attacker;
  HostId attacker_host = 0;
  std::unique_ptr<ClientHost> client;
  std::function<void(TimePoint, const Transmit&)> on_client_send;
  std::vector<std::pair<TimePoint, Endpoint>> sends;  // time and destination of every client datagram
  std::vector<std::pair<SocketId, bool>> client_requests;  // socket of every client datagram, and whether it asked for a change
  std::vector<stun::discovery_event::Done> done_events;
  TimePoint finished_at{};
};

// Keeps gtest from dumping the row's bytes.
void PrintTo(const Scenario& s, std::ostream* os) { *os << s.name; }

std::string describe(const stun::DiscoveryResult& r) {
  return std::string(to_string(r.classic)) + " / mapping " + std::string(to_string(r.mapping)) + " / filtering " +
         std::string(to_string(r.filtering)) + " / hairpinning " + std::string(to_string(r.hairpinning)) +
         " / mapped " + (r.mapped ? r.mapped->to_string() : "-") + " / note: " + r.note;
}

// The scenario's classic type, mapping, filtering, hairpinning and M1.
void expect_verdicts(const stun::DiscoveryResult& r, const Scenario& s) {
  EXPECT_EQ(r.classic, s.classic);
  EXPECT_EQ(r.mapping, s.mapping);
  EXPECT_EQ(r.filtering, s.filtering);
  EXPECT_EQ(r.hairpinning, s.hairpinning);
  EXPECT_EQ(r.mapped, s.mapped);
}

class SimDiscoveryScenario : public ::testing::TestWithParam<Scenario> {};

// Every scenario again with the filtering tests on another socket, at the
// same time as the mapping and hairpinning tests (what the NAT probe runs):
// the same conclusions, in one round of waiting instead of up to three.
TEST_P(SimDiscoveryScenario, ConcurrentTestsClassifyTheSameFaster) {
  const Scenario& s = GetParam();
  World phases(s);
  ASSERT_TRUE(phases.run());
  World concurrent(s, {}, SocketId{1});
  ASSERT_TRUE(concurrent.run()) << "discovery did not finish";
  const auto& r = concurrent.discovery().result();
  SCOPED_TRACE(describe(r));
  expect_verdicts(r, s);
  EXPECT_NE(r.note.find(s.note_contains), std::string::npos);
  EXPECT_LE(concurrent.finished_at, phases.finished_at);
  // Where two or more tests time out one after another, at once saves at least one give-up time.
  const int unanswered_phases = (s.filtering == F::AddressDependent || s.filtering == F::AddressAndPortDependent) +
                                (s.hairpinning == H::No);
  if (unanswered_phases >= 2) {
    EXPECT_LT(concurrent.finished_at, phases.finished_at - seconds(10));
  }
  ASSERT_EQ(concurrent.done_events.size(), 1u);
  // The filtering tests left from socket 1, everything else from socket 0.
  for (const auto& [socket, change] : concurrent.client_requests) EXPECT_EQ(socket, change ? SocketId{1} : SocketId{0});
}

TEST_P(SimDiscoveryScenario, ClassifiesTheNat) {
  const Scenario& s = GetParam();
  World world(s);
  ASSERT_TRUE(world.run()) << "discovery did not finish";
  const auto& r = world.discovery().result();
  SCOPED_TRACE(describe(r));
  expect_verdicts(r, s);
  if (s.mapped) {
    EXPECT_EQ(r.server, kPrimary);
    EXPECT_EQ(r.server_alternate, s.server_has_alternate ? std::optional<Endpoint>(kAlternate) : std::nullopt);
  }
  EXPECT_NE(r.note.find(s.note_contains), std::string::npos);
  EXPECT_FALSE(r.note.empty());
  EXPECT_FALSE(world.discovery().next_deadline());
  EXPECT_FALSE(world.discovery().poll_transmit(world.finished_at + seconds(100)));
  // One Done event, with the final result.
  ASSERT_EQ(world.done_events.size(), 1u);
  EXPECT_EQ(world.done_events[0].result.classic, r.classic);
  EXPECT_EQ(world.done_events[0].result.note, r.note);
}

Scenario nat_row(const char* name, M m, F f, bool hairpins, H discovered) {
  Scenario s{name};
  s.nat_mapping = m;
  s.nat_filtering = f;
  s.nat_hairpins = hairpins;
  s.classic = nat::classic_type(m, f);
  s.mapping = m;
  s.filtering = f;
  s.hairpinning = discovered;
  return s;
}

std::vector<Scenario> scenarios() {
  const M eim = M::EndpointIndependent, adm = M::AddressDependent, apdm = M::AddressAndPortDependent;
  const F eif = F::EndpointIndependent, adf = F::AddressDependent, apdf = F::AddressAndPortDependent;
  // All nine NAT behaviours, hairpinning on and off. A NAT that hairpins
  // with a per-destination mapping and an address filter drops its own
  // hairpinned packets (they come from a new external port its first mapping
  // never contacted): discovery must report what happens, not the setting.
  std::vector<Scenario> rows{
      nat_row("EIM_EIF", eim, eif, true, H::Yes),          nat_row("EIM_ADF", eim, adf, false, H::No),
      nat_row("EIM_APDF", eim, apdf, true, H::Yes),        nat_row("ADM_EIF", adm, eif, false, H::No),
      nat_row("ADM_ADF", adm, adf, true, H::No),           nat_row("ADM_APDF", adm, apdf, false, H::No),
      nat_row("APDM_EIF", apdm, eif, true, H::Yes),        nat_row("APDM_ADF", apdm, adf, false, H::No),
      nat_row("APDM_APDF", apdm, apdf, true, H::No),       nat_row("APDM_APDF_WithoutHairpinning", apdm, apdf, false, H::No),
  };

  Scenario open{"OpenInternet"};
  open.attachment = Attachment::Public;
  open.classic = C::OpenInternet;
  open.mapping = M::None;
  open.filtering = F::None;
  open.mapped = kPublicHost;
  open.note_contains = "no NAT";
  rows.push_back(open);

  Scenario firewall{"SymmetricUdpFirewallPortFiltering"};
  firewall.attachment = Attachment::Firewall;
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
  no_alt_no_nat.attachment = Attachment::Public;
  no_alt_no_nat.server_has_alternate = false;
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
  return rows;
}

INSTANTIATE_TEST_SUITE_P(Matrix, SimDiscoveryScenario, ::testing::ValuesIn(scenarios()),
                         [](const ::testing::TestParamInfo<Scenario>& info) { return std::string(info.param.name); });

// --- a NAT with a random allocator ------------------------------------------

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
  nat_config.public_addresses = {kNatPublicIp};
  auto nat = network.add_nat(nat_config, LinkConfig{milliseconds(5)});
  ASSERT_TRUE(nat);

  stun::ServerMachine server_machine(server_config(true));
  ServerHost server(server_machine.socket_endpoints(), std::move(server_machine));
  const HostId server_host = network.add_public_host(kPrimary.address, LinkConfig{milliseconds(5)}, server);
  network.add_address(server_host, kAlternate.address);

  const Endpoint client_at{IpAddress::v4({100, 64, 0, 2}), 5000};
  stun::DiscoveryConfig discovery;
  discovery.servers = {kPrimary};
  discovery.local = client_at;
  Rng rng(7);
  ClientHost client(client_at.address, client_at.port, stun::NatDiscovery(discovery, rng, kTimeZero));
  network.add_inside_host(*nat, client_at.address, LinkConfig{milliseconds(10)}, client);

  network.run(kTimeZero + std::chrono::minutes(10), [&] { return client.machine().done(); });
  ASSERT_TRUE(client.machine().done());
  const auto& result = client.machine().result();
  EXPECT_EQ(result.mapping, row.mapping) << result.note;
  EXPECT_EQ(result.filtering, row.filtering) << result.note;
  EXPECT_EQ(result.classic, nat::classic_type(row.mapping, row.filtering));
  EXPECT_EQ(result.hairpinning, row.hairpinning ? nat::Hairpinning::Yes : nat::Hairpinning::No) << result.note;
  ASSERT_TRUE(result.mapped);
  EXPECT_EQ(result.mapped->address, kNatPublicIp);
  EXPECT_GE(result.mapped->port, 20000);
  EXPECT_LE(result.mapped->port, 30000);
  EXPECT_GT(server.machine().server().counters().answered, 0u);
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

// --- retransmission ---------------------------------------------------------

std::vector<long> times_to(const World& world, const Endpoint& to) {
  std::vector<long> ms;
  for (const auto& [at, dest] : world.sends)
    if (dest == to) ms.push_back(std::chrono::duration_cast<milliseconds>(at - kTimeZero).count());
  return ms;
}

TEST(SimDiscovery, BlockedRetransmitsPerDefaultPolicyThenFailsOver) {
  Scenario s{"blocked"};
  s.drop_all = true;
  s.first_server_dead = true;
  World world(s);
  ASSERT_TRUE(world.run());
  EXPECT_EQ(world.sends.size(), 14u);
  EXPECT_EQ(times_to(world, kDeadServer), (std::vector<long>{0, 500, 1500, 3500, 7500, 15500, 31500}));
  EXPECT_EQ(times_to(world, kPrimary), (std::vector<long>{39500, 40000, 41000, 43000, 47000, 55000, 71000}));
  EXPECT_EQ(world.finished_at, kTimeZero + milliseconds(79000));
  EXPECT_EQ(world.discovery().result().classic, C::UdpBlocked);
  EXPECT_EQ(world.discovery().result().note,
            "server 198.51.100.1:3478 did not answer; server 198.51.100.10:3478 did not answer; "
            "no server answered: UDP blocked");
}

TEST(SimDiscovery, BlockedRetransmitsPerCustomPolicy) {
  Scenario s{"blocked"};
  s.drop_all = true;
  World world(s, stun::RetransmitPolicy{milliseconds(100), 3, 4});
  ASSERT_TRUE(world.run());
  EXPECT_EQ(times_to(world, kPrimary), (std::vector<long>{0, 100, 300}));
  EXPECT_EQ(world.finished_at, kTimeZero + milliseconds(700));
}

TEST(SimDiscovery, FilteringWaitsForChangeTestsToTimeOut) {
  // Port-restricted: both change requests go unanswered, so the filtering
  // verdict comes only when the change-both transaction has timed out.
  Scenario s{"prc"};
  s.nat_filtering = F::AddressAndPortDependent;
  s.test_hairpinning = false;
  World world(s);
  ASSERT_TRUE(world.run());
  EXPECT_EQ(world.discovery().result().classic, C::PortRestrictedCone);
  // Test I answered after 20 ms; change tests 7 sends each to the primary.
  EXPECT_EQ(times_to(world, kPrimary).size(), 1u + 7u + 7u);
  const Endpoint alt_ip{kAlternate.address, kPrimary.port};
  EXPECT_EQ(times_to(world, alt_ip), (std::vector<long>{20 + 39500}));
}

TEST(SimDiscovery, EachTestIsItsOwnTransaction) {
  Scenario s{"ids"};  // full cone, no hairpinning: every test runs, the hairpin one to its timeout
  World world(s);
  std::map<stun::TransactionId, int> sends_per_id;
  world.on_client_send = [&](TimePoint, const Transmit& t) {
    auto v = stun::MessageView::decode(t.bytes);
    ASSERT_TRUE(v);
    ++sends_per_id[v->transaction_id()];
  };
  ASSERT_TRUE(world.run());
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
  EXPECT_EQ(world.discovery().result().hairpinning, H::No);
}

// --- spoofing ------------------------------------------------------------------

std::vector<std::uint8_t> forged_response(const stun::MessageView& request, const Endpoint& mapped) {
  std::vector<std::uint8_t> buf(128);
  stun::MessageBuilder b(buf, stun::Method::Binding, stun::MessageClass::SuccessResponse, request.transaction_id(),
                         request.cookie());
  b.add_xor_address(stun::attr::kXorMappedAddress, mapped);
  b.add_address(stun::attr::kOtherAddress, Endpoint{IpAddress::v4({198, 51, 100, 77}), 1});
  buf.resize(b.size());
  return buf;
}

TEST(SimDiscovery, SpoofedResponsesAreIgnored) {
  Scenario s{"spoof"};  // full cone: the NAT lets any forgery through to the client
  World world(s);
  int forged = 0;
  world.on_client_send = [&](TimePoint now, const Transmit& t) {
    auto request = stun::MessageView::decode(t.bytes);
    ASSERT_TRUE(request);
    const Endpoint bogus{IpAddress::v4({198, 51, 100, 99}), 1};
    // Both arrive ~6 ms after the request left, long before the real answer (20 ms).
    // Right id, wrong source.
    world.inject(now + milliseconds(1), kAttacker, kFirstMapping, forged_response(*request, bogus));
    // Right source, unknown id.
    std::vector<std::uint8_t> other_id = forged_response(*request, bogus);
    other_id[19] ^= 0x55;
    world.inject(now + milliseconds(1), t.to, kFirstMapping, other_id);
    forged += 2;
  };
  ASSERT_TRUE(world.run());
  EXPECT_GT(forged, 0);
  const auto& r = world.discovery().result();
  EXPECT_EQ(r.classic, C::FullCone) << describe(r);
  EXPECT_EQ(r.mapped, kFirstMapping);
  EXPECT_EQ(r.server_alternate, kAlternate);
}

TEST(SimDiscovery, ChangeResponseFromWrongSocketIsNotEndpointIndependentFiltering) {
  // A server (or attacker) answering CHANGE-REQUEST from the primary address
  // would make a port-restricted NAT look like a full cone if the source
  // were not checked.
  Scenario s{"wrong socket"};
  s.nat_filtering = F::AddressAndPortDependent;
  s.test_hairpinning = false;
  World world(s);
  world.on_client_send = [&](TimePoint now, const Transmit& t) {
    auto request = stun::MessageView::decode(t.bytes);
    ASSERT_TRUE(request);
    if (request->change_request())
      world.inject(now + milliseconds(15), kPrimary, kFirstMapping, forged_response(*request, kFirstMapping));
  };
  ASSERT_TRUE(world.run());
  EXPECT_EQ(world.discovery().result().filtering, F::AddressAndPortDependent);
  EXPECT_EQ(world.discovery().result().classic, C::PortRestrictedCone);
}

}  // namespace
}  // namespace natpunch::sim

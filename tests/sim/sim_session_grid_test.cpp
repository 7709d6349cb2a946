// The virtual-time session grid (issue 18 item 4): whole sessions -- the
// real session::PeerSessionMachine and rendezvous::Server -- behind the
// simulator's NAT models, in virtual time:
//
//   SessionGrid.EveryPairOfTheLabsNatKinds   the lab's 12 kinds (none, fw,
//       fc, rc, prc, sym, blk, KPN, Lebara, Vodafone, LycaMobile, msym), all
//       78 unordered pairs -> route and strategy, data both ways, both ends
//       on working paths (the lab's ConnectInLab.EveryPairOfNatKinds table,
//       same budgets);
//   SessionScenario.*  outage -> relay -> direct; a NAT that rebinds ->
//       re-punch at its new port; the listener following a caller whose
//       NAT rebound; the default bound when nothing crosses; data over the
//       relay from the first round trip, then direct (open_early); a
//       relayed session's upgrades with backoff;
//   DeadPathDetection  how fast a dead path is noticed, per keepalive setting;
//   BothSymmetric      the both-symmetric birthday attack over 512 ports in
//       400 sessions: the direct count lies in the 99.9 % binomial interval
//       around 1 - exp(-n^2/N^2).
#include <algorithm>
#include <gtest/gtest.h>

#include <boost/math/distributions/binomial.hpp>
#include <chrono>
#include <iostream>
#include <set>
#include <string>

#include "../support/nat_pair_expectation.hpp"
#include "io/profile_files.hpp"
#include "punch/birthday_model.hpp"
#include "rendezvous/nat_info_profile.hpp"
#include "session_world.hpp"

namespace natpunch::sim {
namespace {

using testing::PeerHost;
using testing::SessionWorld;
using testing::Side;
using M = nat::MappingBehavior;
using F = nat::FilteringBehavior;
namespace se = session::session_event;

std::vector<std::uint8_t> bytes(const std::string& text) { return {text.begin(), text.end()}; }

nat::Profile profile(const std::string& name) {
  auto p = io::load_profile(std::string(NATPUNCH_PROFILES_DIR) + "/" + name + ".json");
  if (!p) throw std::runtime_error(p.error().to_string());
  return *p;
}

rendezvous::NatInfo told(M mapping, F filtering) {
  rendezvous::NatInfo info;
  info.mapping = mapping;
  info.filtering = filtering;
  return info;
}

nat::NatConfig nat_of(M mapping, F filtering, nat::AllocatorSpec allocator) {
  nat::NatConfig c;
  c.mapping = mapping;
  c.filtering = filtering;
  c.allocator = allocator;
  return c;
}

Side carrier(const std::string& tag, const std::string& name) {
  Side s{tag, Side::Kind::Nat, {}, {}};
  const auto p = profile(name);
  auto config = nat::make_nat_config(p, nat::NatConfigOptions{{IpAddress::v4({198, 51, 100, 200})}, {}, {}, false, 0, seconds(120)});
  if (!config) throw std::runtime_error(config.error().to_string());
  s.nat = *config;
  if (auto problem = rendezvous::apply_profile(p, s.info)) throw std::runtime_error(problem->to_string());
  return s;
}

using Class = test_support::NatClass;

struct Kind {
  Side side;
  Class cls;
};

// The lab's kinds: the kernel's (a port-preserving NAT in the simulator,
// as the kernel keeps ports when it can; symmetric ones allocate at
// random), natd's carrier profiles, and natd's symmetric uniform model.
const std::vector<Kind>& kinds() {
  static const std::vector<Kind> all = [] {
    const nat::AllocatorSpec keep = nat::PreservingSpec{1024, 65535};
    std::vector<Kind> k;
    k.push_back({{"none", Side::Kind::Public, {}, told(M::None, F::None)}, Class::Open});
    // A public host behind a stateful firewall: from outside, a NAT that keeps its ports.
    k.push_back({{"fw", Side::Kind::Nat, nat_of(M::EndpointIndependent, F::AddressAndPortDependent, keep),
                  told(M::None, F::AddressAndPortDependent)},
                 Class::Easy});
    k.push_back({{"fc", Side::Kind::Nat, nat_of(M::EndpointIndependent, F::EndpointIndependent, keep),
                  told(M::EndpointIndependent, F::EndpointIndependent)},
                 Class::Open});
    k.push_back({{"rc", Side::Kind::Nat, nat_of(M::EndpointIndependent, F::AddressDependent, keep),
                  told(M::EndpointIndependent, F::AddressDependent)},
                 Class::Easy});
    k.push_back({{"prc", Side::Kind::Nat, nat_of(M::EndpointIndependent, F::AddressAndPortDependent, keep),
                  told(M::EndpointIndependent, F::AddressAndPortDependent)},
                 Class::Easy});
    k.push_back({{"sym", Side::Kind::Nat,
                  nat_of(M::AddressAndPortDependent, F::AddressAndPortDependent, nat::RandomFullySpec{}),
                  told(M::AddressAndPortDependent, F::AddressAndPortDependent)},
                 Class::Hard});
    k.push_back({{"blk", Side::Kind::Blocked, {}, told(M::EndpointIndependent, F::AddressAndPortDependent)},
                 Class::Blocked});
    k.push_back({carrier("kpn", "kpn-nl"), Class::Blocks});
    k.push_back({carrier("leb", "lebara-nl"), Class::Easy});
    k.push_back({carrier("voda", "vodafone-nl"), Class::Easy});
    k.push_back({carrier("lyca", "lycamobile-nl"), Class::Open});
    // Symmetric with uniformly random ports, the allocator not told.
    k.push_back({{"msym", Side::Kind::Nat,
                  nat_of(M::AddressAndPortDependent, F::AddressAndPortDependent, nat::UniformSpec{2048, 65535}),
                  told(M::AddressAndPortDependent, F::AddressAndPortDependent)},
                 Class::Hard});
    return k;
  }();
  return all;
}

struct Row {
  const Kind* a;  // connects
  const Kind* b;  // listens
  test_support::PairExpectation expect;
};

// The lab's table (tests/support/nat_pair_expectation.hpp).
Row expected_row(const Kind& a, const Kind& b) { return Row{&a, &b, test_support::expected_pair(a.cls, b.cls)}; }

std::string name(const Row& r) { return r.a->side.tag + "-" + r.b->side.tag; }

// The lab's budgets: easy pairs 4,000 probes / 2.5 s, hard ones 150 / 1.5 s, 500 us apart.
void lab_budget(session::SessionConfig& c, const Row& row) {
  c.send_interval = std::chrono::microseconds(500);
  c.plan.probe_budget = row.expect.hard_budget ? 150 : 4000;
  c.plan.punch_timeout = row.expect.hard_budget ? milliseconds(1500) : milliseconds(2500);
  if (row.expect.route == "none") c.wait = seconds(3);
}

void check_row(const Row& row, std::uint64_t seed) {
  SCOPED_TRACE(name(row) + " (seed " + std::to_string(seed) + ")");
  SessionWorld w(seed);
  w.add_pair(row.a->side, row.b->side, [&](session::SessionConfig& c) { lab_budget(c, row); });
  w.run_until_settled(seconds(40));
  auto& a = w.a();
  auto& b = w.b();
  if (row.expect.route == "none") {
    // The blocked side cannot reach the rendezvous; neither side gets a session.
    ASSERT_TRUE(a.last<se::Failed>()) << "the caller failed";
    ASSERT_TRUE(b.last<se::Failed>()) << "the listener failed";
    const bool blocked_a = row.a->cls == Class::Blocked;
    EXPECT_EQ((blocked_a ? a : b).last<se::Failed>()->error.kind, ErrorKind::kNoAnswer);
    if (!(blocked_a && row.b->cls == Class::Blocked)) {
      EXPECT_EQ((blocked_a ? b : a).last<se::Failed>()->error.kind, ErrorKind::kNoSession);
    }
    return;
  }
  ASSERT_TRUE(a.open()) << "the caller's session did not open";
  ASSERT_TRUE(b.open()) << "the listener's session did not open";
  const auto route_of = [](PeerHost& p) {
    return p.last<se::Established>()->route == SessionRoute::kDirect ? std::string("direct") : std::string("relay");
  };
  EXPECT_EQ(route_of(a), row.expect.route);
  EXPECT_EQ(route_of(b), row.expect.route);
  EXPECT_EQ(a.machine().info().strategy, row.expect.strategy);
  EXPECT_EQ(b.machine().info().strategy, row.expect.strategy);
  EXPECT_EQ(a.machine().info().session_id, b.machine().info().session_id);
  if (row.expect.max_probes > 0) {
    // Virtual time has no scheduling delay: the first round trip is ~21
    // probes, well inside the lab's bound (which a loaded machine stretches).
    const std::uint64_t first_round_trip = std::min<std::uint64_t>(row.expect.max_probes, 100);
    EXPECT_LE(a.machine().info().probes_sent, first_round_trip);
    EXPECT_LE(b.machine().info().probes_sent, first_round_trip);
  }
  // Data both ways; on a direct route every datagram went directly, so each
  // side sends where the other listens (both ended on working paths, the
  // listener on the caller's).
  for (int i = 0; i < 5; ++i) {
    w.send(a, bytes("from a " + std::to_string(i)));
    w.send(b, bytes("from b " + std::to_string(i)));
    w.run_for(milliseconds(50));
  }
  w.run_for(milliseconds(500));
  EXPECT_EQ(a.received().size(), 5u);
  EXPECT_EQ(b.received().size(), 5u);
  const auto sa = a.machine().stats(), sb = b.machine().stats();
  if (row.expect.route == "direct") {
    EXPECT_EQ(sa.received_direct, 5u);
    EXPECT_EQ(sb.received_direct, 5u);
    // Each side reached the other at the public address the other has.
    EXPECT_EQ(Endpoint::parse(sa.peer_endpoint)->address, w.public_b()) << sa.peer_endpoint;
    EXPECT_EQ(Endpoint::parse(sb.peer_endpoint)->address, w.public_a()) << sb.peer_endpoint;
  } else {
    EXPECT_EQ(sa.received_relay, 5u);
    EXPECT_EQ(sb.received_relay, 5u);
  }
}

TEST(SessionGrid, EveryPairOfTheLabsNatKinds) {
  const auto started = std::chrono::steady_clock::now();
  int rows = 0;
  const auto& all = kinds();
  for (std::size_t i = 0; i < all.size(); ++i)
    for (std::size_t j = i; j < all.size(); ++j, ++rows) check_row(expected_row(all[i], all[j]), 1000 + rows);
  EXPECT_EQ(rows, 78);
  std::cerr << "[grid] " << rows << " pairs in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() << " s\n";
}

// --- scenarios

Side prc_side() { return kinds()[4].side; }
Side public_side() { return kinds()[0].side; }

// An endpoint-independent NAT that picks ports at random and forgets an
// idle mapping after 3 s: the next packet after a silence leaves from a new
// port (a NAT that rebinds).
Side rebinding_side() {
  Side s{"rebind", Side::Kind::Nat,
         nat_of(M::EndpointIndependent, F::AddressAndPortDependent, nat::UniformSpec{1024, 65535}),
         told(M::EndpointIndependent, F::AddressAndPortDependent)};
  s.nat.pending_timeout = seconds(3);
  s.nat.established_timeout = seconds(3);
  return s;
}

void fast_keepalives(session::SessionConfig& c) {
  c.keepalive.idle_timeout = seconds(4);  // a keepalive every 2 s
  c.keepalive.reply_timeout = seconds(1);
  c.keepalive.misses_for_dead = 2;
}

bool between(const IpAddress& x, const IpAddress& y, const Endpoint& from, const Endpoint& to) {
  return (from.address == x && to.address == y) || (from.address == y && to.address == x);
}

std::set<std::string> texts(const PeerHost& p) {
  std::set<std::string> out;
  for (const auto& r : p.received()) out.insert(std::string(r.begin(), r.end()));
  return out;
}

// The direct path between the two NATs fails for 8 s while the relay
// works: the stream moves to the relay at once, and back to direct after a
// re-punch; nothing arrives twice, and only what went into the dead path
// before the death was noticed is lost. (The lab's
// SessionRepunch.FrozenNatFallsBackToTheRelayAndComesBackDirect on real
// packets.)
TEST(SessionScenario, AnOutageMovesTheStreamToTheRelayAndBackToDirect) {
  SessionWorld w(7);
  w.add_pair(prc_side(), prc_side(), fast_keepalives);
  w.run_until_settled(seconds(10));
  ASSERT_TRUE(w.a().open() && w.b().open());
  ASSERT_EQ(w.a().last<se::Established>()->route, SessionRoute::kDirect);
  bool cut = false;
  w.network().filter = [&](TimePoint, const Endpoint& from, const Endpoint& to) {
    return cut && between(w.public_a(), w.public_b(), from, to);
  };
  int sent = 0, cut_after = 0;
  for (int step = 0; step < 400; ++step) {  // 40 s, a datagram every 100 ms; cut from 2 s to 10 s
    if (step == 20) {
      cut = true;
      cut_after = sent;
    }
    if (step == 100) cut = false;
    w.send(w.a(), bytes("a" + std::to_string(++sent)));
    w.run_for(milliseconds(100));
  }
  const auto changes = w.a().all<se::RouteChanged>();
  ASSERT_GE(changes.size(), 2u);
  EXPECT_EQ(changes.front().route, SessionRoute::kRelay);
  EXPECT_EQ(changes.back().route, SessionRoute::kDirect);
  const auto sa = w.a().machine().stats();
  EXPECT_EQ(sa.route, SessionRoute::kDirect);
  EXPECT_EQ(sa.path_deaths, 1u);
  EXPECT_GE(sa.repunches_succeeded, 1u);
  EXPECT_GT(sa.sent_relay, 0u);
  EXPECT_EQ(w.b().machine().stats().duplicates_dropped + w.b().received().size(),
            w.b().machine().stats().datagrams_received + w.b().machine().stats().duplicates_dropped);
  const auto got = texts(w.b());
  EXPECT_EQ(got.size(), w.b().received().size()) << "nothing twice";
  int missing = 0, first_missing = 0, last_missing = 0;
  for (int i = 1; i <= sent; ++i)
    if (!got.contains("a" + std::to_string(i))) {
      ++missing;
      if (!first_missing) first_missing = i;
      last_missing = i;
    }
  EXPECT_EQ(first_missing, cut_after + 1) << "lost: only what went into the dead path";
  EXPECT_EQ(last_missing - first_missing + 1, missing) << "one run, then the relay";
  EXPECT_LE(missing, 45) << "noticed within 2 s + 2 x 1 s";
  // sent_lost is an upper bound: what went direct since the peer was last
  // heard (here up to a keepalive interval before the cut, delivered too).
  EXPECT_GE(sa.sent_lost + 1, static_cast<std::uint64_t>(missing));
  EXPECT_LE(sa.sent_lost, static_cast<std::uint64_t>(missing) + 21);
}

// a's phone is out of coverage for 10 s (nothing leaves or reaches it, not
// even the rendezvous), long enough for its NAT to forget every mapping: it
// comes back at a new random port, and the re-punch reaches it there. (The
// lab's SessionRepunch.ARebindingNatIsRepunchedAtItsNewEndpoint.)
TEST(SessionScenario, ANatThatRebindsIsRepunchedAtItsNewPort) {
  SessionWorld w(11);
  w.add_pair(rebinding_side(), prc_side(), fast_keepalives);
  w.run_until_settled(seconds(10));
  ASSERT_TRUE(w.a().open() && w.b().open());
  ASSERT_EQ(w.a().last<se::Established>()->route, SessionRoute::kDirect);
  const auto old_a = *Endpoint::parse(w.b().machine().stats().peer_endpoint);
  bool out_of_coverage = false;
  const IpAddress inside_a = IpAddress::v4({100, 64, 0, 3});
  w.network().filter = [&](TimePoint, const Endpoint& from, const Endpoint& to) {
    return out_of_coverage && (from.address == inside_a || to.address == w.public_a());
  };
  w.run_for(seconds(2));
  out_of_coverage = true;
  w.run_for(seconds(10));
  out_of_coverage = false;
  const auto back = w.now();
  w.run_for(seconds(60), [&] {
    return w.a().machine().stats().route == SessionRoute::kDirect && w.b().machine().stats().route == SessionRoute::kDirect;
  });
  const auto sa = w.a().machine().stats(), sb = w.b().machine().stats();
  ASSERT_EQ(sa.route, SessionRoute::kDirect) << "back to direct";
  ASSERT_EQ(sb.route, SessionRoute::kDirect);
  const auto new_a = *Endpoint::parse(sb.peer_endpoint);
  EXPECT_EQ(new_a.address, old_a.address);
  EXPECT_NE(new_a.port, old_a.port) << "a's NAT rebound: b reaches it at its new port";
  EXPECT_GE(sa.path_deaths, 1u);
  EXPECT_GE(sa.repunches_succeeded + sb.path_switches, 1u);
  std::cerr << "[rebind] a moved " << old_a.to_string() << " -> " << new_a.to_string() << ", direct again "
            << std::chrono::duration<double>(w.now() - back).count() << " s after coverage returned (repunches "
            << sa.repunches << ", b switches " << sb.path_switches << ")\n";
  w.send(w.b(), bytes("at the new port"));
  w.run_for(milliseconds(200));
  EXPECT_TRUE(texts(w.a()).contains("at the new port"));
}

// Both sides idle for 5 s: the caller's NAT forgets its mapping, and the
// caller's next datagram leaves from a new port. The listener challenges
// that path and follows once the caller answered -- no dead path, no relay.
TEST(SessionScenario, TheListenerFollowsACallerWhoseNatRebound) {
  SessionWorld w(13);
  w.add_pair(rebinding_side(), public_side());
  w.run_until_settled(seconds(10));
  ASSERT_TRUE(w.a().open() && w.b().open());
  const auto old_a = *Endpoint::parse(w.b().machine().stats().peer_endpoint);
  w.run_for(seconds(5));  // idle: a's mapping expires (3 s)
  w.send(w.a(), bytes("from a new port"));
  w.run_for(milliseconds(200));
  w.send(w.b(), bytes("followed"));
  w.run_for(milliseconds(200));
  const auto sb = w.b().machine().stats();
  EXPECT_TRUE(texts(w.b()).contains("from a new port"));
  EXPECT_TRUE(texts(w.a()).contains("followed"));
  EXPECT_EQ(sb.path_switches, 1u);
  EXPECT_GE(sb.path_challenges, 1u);
  EXPECT_NE(Endpoint::parse(sb.peer_endpoint)->port, old_a.port);
  EXPECT_EQ(w.a().machine().stats().received_direct, 1u) << "the answer came directly";
  EXPECT_EQ(w.a().count<se::RouteChanged>(), 0u) << "a never left the direct path";
}

// Issue 22 item 3 behind real NAT models: prc x sym, neither side saying
// anything about its NAT, default options. Whatever crosses, the session
// is open within the default 10 s bound (then the relay) -- never minutes.
TEST(SessionScenario, WithoutHintsTheDefaultBoundEndsPunchingAtTenSeconds) {
  for (const std::uint64_t seed : {21, 22, 23}) {
    SCOPED_TRACE(seed);
    SessionWorld w(seed);
    auto a = prc_side(), b = kinds()[5].side;  // sym
    a.info = rendezvous::NatInfo{};
    b.info = rendezvous::NatInfo{};
    w.add_pair(a, b);
    w.run_until_settled(seconds(60));
    ASSERT_TRUE(w.a().open() && w.b().open());
    const auto route = w.a().last<se::Established>()->route;
    EXPECT_EQ(w.b().last<se::Established>()->route, route) << "both agree";
    for (auto* p : {&w.a(), &w.b()}) {
      EXPECT_LE(p->machine().info().time_to_connect, std::chrono::milliseconds(10500));
      std::vector<std::string> started;
      for (const auto& e : p->all<se::Progress>())
        if (e.progress.kind == SessionProgress::Kind::kStrategyStarted) started.push_back(e.progress.strategy);
      EXPECT_EQ(started.front(), "hole-punch");
    }
    if (route == SessionRoute::kRelay) {
      EXPECT_GE(w.a().machine().info().time_to_connect, std::chrono::milliseconds(9900)) << "the whole bound was tried";
      EXPECT_EQ(w.a().machine().info().stop_reason, "time budget spent");
    }
    w.send(w.a(), bytes("either way"));
    w.run_for(milliseconds(300));
    EXPECT_TRUE(texts(w.b()).contains("either way"));
  }
}

// Data from the first round trip (issue 19 item 3): with open_early both
// sides are Established on the relay as soon as the rendezvous paired them,
// while the hole punch runs behind; the stream moves to the direct path
// when it connects. Nothing arrives twice, nothing is lost.
TEST(SessionScenario, OpenEarlyCarriesDataOverTheRelayThenMovesDirect) {
  SessionWorld w(17);
  w.add_pair(prc_side(), prc_side(), [](session::SessionConfig& c) { c.open_early = true; });
  w.run_for(seconds(5), [&] { return w.a().open(); });
  ASSERT_TRUE(w.a().open());
  ASSERT_EQ(w.a().all<se::Established>().size(), 1u);
  EXPECT_EQ(w.a().last<se::Established>()->route, SessionRoute::kRelay) << "usable before any punch connected";
  EXPECT_LE(w.a().machine().info().time_to_first_byte, std::chrono::milliseconds(1)) << "at once on pairing";
  {
    // The first punch still runs behind it: nothing to say how it ended yet.
    const auto st = w.a().machine().stats();
    EXPECT_TRUE(st.upgrading);
    EXPECT_FALSE(st.time_to_connect);
    EXPECT_TRUE(st.stop_reason.empty());
    EXPECT_EQ(st.strategy, w.a().machine().info().strategy) << "the stage that started";
  }
  int sent = 0;
  for (int step = 0; step < 150; ++step) {  // 3 s, a datagram every 20 ms
    if (w.a().open()) w.send(w.a(), bytes("a" + std::to_string(++sent)));
    w.run_for(milliseconds(20));
  }
  w.run_for(milliseconds(500));
  ASSERT_TRUE(w.b().open());
  for (auto* p : {&w.a(), &w.b()}) {
    const auto st = p->machine().stats();
    EXPECT_EQ(st.route, SessionRoute::kDirect);
    ASSERT_TRUE(st.time_to_direct.has_value());
    EXPECT_LE(*st.time_to_direct, std::chrono::seconds(2));
    ASSERT_EQ(p->count<se::RouteChanged>(), 1u);
    EXPECT_EQ(p->last<se::RouteChanged>()->route, SessionRoute::kDirect);
    EXPECT_EQ(p->count<se::Established>(), 1u);
    // How the first punch ended: the stage that connected, its probes,
    // from the pairing (a hole punch starts there) to the direct path.
    EXPECT_FALSE(st.upgrading);
    std::string connected;
    for (const auto& e : p->all<se::Progress>())
      if (e.progress.kind == SessionProgress::Kind::kStrategyFinished &&
          e.progress.message.find("connected") != std::string::npos && connected.empty())
        connected = e.progress.strategy;
    EXPECT_FALSE(connected.empty());
    EXPECT_EQ(st.strategy, connected);
    EXPECT_TRUE(st.stop_reason.empty());
    EXPECT_GE(st.probes_sent, 1u);
    ASSERT_TRUE(st.time_to_connect);
    EXPECT_EQ(st.time_to_connect_from, "pairing");
    EXPECT_EQ(*st.time_to_connect, *st.time_to_direct) << "both from the pairing";
  }
  const auto sa = w.a().machine().stats(), sb = w.b().machine().stats();
  EXPECT_GT(sa.sent_relay, 0u) << "data flowed before the punch";
  EXPECT_GT(sa.sent_direct, 0u);
  const auto got = texts(w.b());
  EXPECT_EQ(got.size(), w.b().received().size()) << "nothing twice";
  EXPECT_EQ(got.size(), static_cast<std::size_t>(sent)) << "nothing lost";
  EXPECT_EQ(sb.received_lost, 0u) << "a late relayed datagram fills its gap: no loss counted";
  EXPECT_EQ(sb.received_relay + sb.received_direct, static_cast<std::uint64_t>(sent));
}

// Opened early on a pair whose direct path is cut: the first punch ends on
// the relay (upgrading false, a stop reason, its probes, no time to direct),
// which is when a report may say "relay"; the caller then retries later.
TEST(SessionScenario, OpenEarlyWhosePunchFailsSettlesOnTheRelayWithAReason) {
  SessionWorld w(23);
  w.network().filter = [&](TimePoint, const Endpoint& from, const Endpoint& to) {
    return between(w.public_a(), w.public_b(), from, to);
  };
  w.add_pair(prc_side(), prc_side(), [](session::SessionConfig& c) { c.open_early = true; });
  w.run_for(seconds(5), [&] { return w.a().open() && w.b().open(); });
  ASSERT_TRUE(w.a().open() && w.b().open());
  EXPECT_TRUE(w.a().machine().stats().upgrading) << "opened at the pairing, punching";
  w.run_for(seconds(20), [&] { return !w.a().machine().stats().upgrading && !w.b().machine().stats().upgrading; });
  for (auto* p : {&w.a(), &w.b()}) {
    const auto st = p->machine().stats();
    EXPECT_FALSE(st.upgrading) << "the plan is bounded by its punch timeout";
    EXPECT_EQ(st.route, SessionRoute::kRelay);
    EXPECT_FALSE(st.stop_reason.empty());
    EXPECT_FALSE(st.strategy.empty());
    EXPECT_GT(st.probes_sent, 0u);
    EXPECT_FALSE(st.time_to_direct);
    ASSERT_TRUE(st.time_to_connect) << "until the plan ended";
    EXPECT_GT(*st.time_to_connect, milliseconds(100));
    EXPECT_EQ(p->count<se::RouteChanged>(), 0u);
  }
}

// The peer closes while our first punch still runs (its own ended first,
// or it was done with the session): nothing can move direct any more, so
// the punch stops and says why -- a report waiting for it is not left
// waiting until the punch timeout.
TEST(SessionScenario, OpenEarlyStopsPunchingWhenThePeerCloses) {
  SessionWorld w(29);
  w.network().filter = [&](TimePoint, const Endpoint& from, const Endpoint& to) {
    return between(w.public_a(), w.public_b(), from, to);
  };
  w.add_pair(prc_side(), prc_side(), [](session::SessionConfig& c) { c.open_early = true; });
  w.run_for(seconds(5), [&] { return w.a().open() && w.b().open(); });
  ASSERT_TRUE(w.a().open() && w.b().open());
  w.run_for(milliseconds(500));
  ASSERT_TRUE(w.a().machine().stats().upgrading) << "still punching at the cut path";
  const auto probes_before = w.a().machine().stats().probes_sent;
  w.b().machine().close(w.now());
  w.run_for(seconds(1), [&] { return !w.a().machine().stats().upgrading; });
  const auto st = w.a().machine().stats();
  EXPECT_TRUE(st.peer_closed);
  EXPECT_FALSE(st.upgrading);
  EXPECT_EQ(st.stop_reason, "the peer closed the session");
  EXPECT_EQ(st.route, SessionRoute::kRelay);
  EXPECT_GE(st.probes_sent, probes_before);
  ASSERT_TRUE(st.time_to_connect);
  EXPECT_LT(*st.time_to_connect, seconds(3)) << "stopped at the close, not at the punch timeout";
  w.run_for(seconds(1));
  EXPECT_EQ(w.a().machine().stats().probes_sent, st.probes_sent) << "no probe after the close";
}

// A relayed session keeps trying to become direct (issue 19 item 3): the
// direct path between the NATs is cut while the plan runs and for a while
// after, so the session opens on the relay; the caller proposes an upgrade
// 30 s after the plan ended (it fails: still cut), then 60 s after that
// failure, which connects. The stream goes on throughout, nothing twice.
TEST(SessionScenario, ARelayedSessionUpgradesToDirectWithBackoff) {
  SessionWorld w(19);
  bool cut = true;
  w.network().filter = [&](TimePoint, const Endpoint& from, const Endpoint& to) {
    return cut && between(w.public_a(), w.public_b(), from, to);
  };
  w.add_pair(prc_side(), prc_side(), fast_keepalives);
  w.run_until_settled(seconds(30));
  ASSERT_TRUE(w.a().open() && w.b().open());
  ASSERT_EQ(w.a().last<se::Established>()->route, SessionRoute::kRelay);
  int sent = 0;
  for (int step = 0; step < 1200; ++step) {  // 120 s, a datagram every 100 ms; the cut ends at 50 s
    if (step == 500) cut = false;
    w.send(w.a(), bytes("a" + std::to_string(++sent)));
    w.run_for(milliseconds(100));
    if (step < 500) {
      ASSERT_EQ(w.a().machine().stats().route, SessionRoute::kRelay) << "step " << step;
    }
  }
  const auto sa = w.a().machine().stats(), sb = w.b().machine().stats();
  EXPECT_EQ(sa.route, SessionRoute::kDirect);
  EXPECT_EQ(sb.route, SessionRoute::kDirect);
  EXPECT_EQ(sa.repunches, 2u) << "one failed upgrade, then one that connected";
  EXPECT_EQ(sa.repunches_succeeded, 1u);
  ASSERT_TRUE(sa.time_to_direct.has_value());
  // Counted from the pairing, at most 10.5 s before the session opened on
  // the relay; upgrades ~30 s and ~30 + 2 + 60 s after that.
  EXPECT_GE(*sa.time_to_direct, std::chrono::seconds(90));
  EXPECT_LE(*sa.time_to_direct, std::chrono::seconds(110));
  const auto got = texts(w.b());
  EXPECT_EQ(got.size(), w.b().received().size()) << "nothing twice";
  EXPECT_EQ(got.size(), static_cast<std::size_t>(sent)) << "the relay carried everything until the upgrade";
  EXPECT_GT(sb.received_direct, 0u);
}

// A path lost for longer than the re-punches after its death last (6
// attempts, ~2.5 min): the session does not stay on the relay for good;
// the caller's upgrades with backoff bring it back once the path works.
TEST(SessionScenario, ALongOutageOutlastingTheRepunchesEndsDirectThroughUpgrades) {
  SessionWorld w(23);
  w.add_pair(prc_side(), prc_side(), fast_keepalives);
  w.run_until_settled(seconds(10));
  ASSERT_TRUE(w.a().open() && w.b().open());
  ASSERT_EQ(w.a().last<se::Established>()->route, SessionRoute::kDirect);
  bool cut = true;
  w.network().filter = [&](TimePoint, const Endpoint& from, const Endpoint& to) {
    return cut && between(w.public_a(), w.public_b(), from, to);
  };
  int sent = 0;
  for (int step = 0; step < 400; ++step) {  // 400 s, a datagram a second; the cut ends at 200 s
    if (step == 200) {
      cut = false;
      ASSERT_EQ(w.a().machine().stats().route, SessionRoute::kRelay);
      ASSERT_GE(w.a().machine().stats().repunches, 6u) << "the re-punches after the death ran out meanwhile";
    }
    w.send(w.a(), bytes("a" + std::to_string(++sent)));
    w.run_for(seconds(1));
  }
  const auto sa = w.a().machine().stats();
  EXPECT_EQ(sa.route, SessionRoute::kDirect);
  EXPECT_EQ(w.b().machine().stats().route, SessionRoute::kDirect);
  EXPECT_EQ(sa.path_deaths, 1u);
  EXPECT_EQ(sa.repunches_succeeded, 1u);
  EXPECT_EQ(texts(w.b()).size(), w.b().received().size()) << "nothing twice";
}

// Two phones behind one carrier NAT (issue 19). Their host candidates --
// the local endpoints each tells the rendezvous -- are checked beside the
// plan's own probes once both see the same public address.
struct SameNatCase {
  const char* name;
  Side side;
  bool routes_inside;
  bool hairpinning;
  std::string route;        // direct / relay
  bool via_host;            // direct through the inside addresses (else the NAT's public one)
  bool tell_candidates = true;  // the phones tell the rendezvous their local endpoints
};

class SameNat : public ::testing::TestWithParam<SameNatCase> {};

TEST_P(SameNat, HostCandidatesOrTheHairpinJoinTwoPhonesOfOneNat) {
  const auto& c = GetParam();
  SessionWorld w(41);
  auto side = c.side;
  side.nat.hairpinning = c.hairpinning;
  w.add_pair_behind_one_nat(side, c.routes_inside, [&](session::SessionConfig& s) {
    if (!c.tell_candidates) s.client.info.local_endpoints = {Endpoint{IpAddress::v4({203, 0, 113, 99}), 1}};
  });
  w.run_until_settled(seconds(30));
  ASSERT_TRUE(w.a().open() && w.b().open());
  const auto route = w.a().last<se::Established>()->route == SessionRoute::kDirect ? "direct" : "relay";
  EXPECT_EQ(route, c.route);
  EXPECT_EQ(w.b().last<se::Established>()->route, w.a().last<se::Established>()->route);
  if (c.route == "direct") {
    const auto peer = *Endpoint::parse(w.a().machine().stats().peer_endpoint);
    const bool inside = peer.address.data()[0] == 100;  // 100.64.0.x: the phones' own addresses
    EXPECT_EQ(inside, c.via_host) << peer.to_string();
    EXPECT_LT(w.a().machine().info().time_to_connect, std::chrono::milliseconds(500)) << "a few round trips";
  } else {
    EXPECT_LE(w.a().machine().info().time_to_connect, std::chrono::milliseconds(10500)) << "then the relay";
  }
  w.send(w.a(), bytes("neighbour"));
  w.run_for(milliseconds(300));
  EXPECT_TRUE(texts(w.b()).contains("neighbour"));
}

INSTANTIATE_TEST_SUITE_P(
    Phones, SameNat,
    ::testing::Values(
        // A symmetric carrier NAT that routes between its subscribers: only the host pair works.
        SameNatCase{"SymmetricRoutingInside", kinds()[5].side, true, false, "direct", true},
        // KPN's blocks, routing inside: the host pair again, before any prediction.
        SameNatCase{"KpnRoutingInside", kinds()[7].side, true, false, "direct", true},
        // A cone NAT that isolates its clients but hairpins: the public endpoints meet through it.
        SameNatCase{"ConeHairpinning", prc_side(), false, true, "direct", false},
        // Neither: nothing direct can work; the relay after the bound.
        SameNatCase{"SymmetricIsolating", kinds()[5].side, false, false, "relay", false},
        // What the host candidates are for: without them (a made-up
        // endpoint told instead) the routing NAT's phones end on the relay.
        SameNatCase{"SymmetricRoutingInsideWithoutCandidates", kinds()[5].side, true, false, "relay", false, false}),
    [](const auto& info) { return std::string(info.param.name); });

// How fast a dead path is noticed: the next keepalive is due at most one
// interval after the last traffic, then `misses` of them go unanswered for
// `reply_timeout` each. Both sides notice (the relay carries on).
struct DeathCase {
  const char* name;
  Duration idle_timeout;  // keepalive interval = half of it
  Duration reply_timeout;
  int misses;
};

class DeadPathDetection : public ::testing::TestWithParam<DeathCase> {};

TEST_P(DeadPathDetection, IsNoticedWithinOneIntervalPlusTheMisses) {
  const auto& c = GetParam();
  SessionWorld w(31);
  w.add_pair(prc_side(), prc_side(), [&](session::SessionConfig& s) {
    s.keepalive.idle_timeout = c.idle_timeout;
    s.keepalive.reply_timeout = c.reply_timeout;
    s.keepalive.misses_for_dead = c.misses;
  });
  w.run_until_settled(seconds(10));
  ASSERT_TRUE(w.a().open() && w.b().open());
  w.run_for(c.idle_timeout);  // keepalives under way
  bool cut = false;
  w.network().filter = [&](TimePoint, const Endpoint& from, const Endpoint& to) {
    return cut && between(w.public_a(), w.public_b(), from, to);
  };
  cut = true;
  const auto cut_at = w.now();
  const auto interval = c.idle_timeout / 2;
  const auto bound = interval + c.reply_timeout * c.misses + milliseconds(100);
  w.run_for(bound + seconds(1), [&] { return w.a().count<se::RouteChanged>() > 0 && w.b().count<se::RouteChanged>() > 0; });
  for (auto* p : {&w.a(), &w.b()}) {
    ASSERT_GT(p->count<se::RouteChanged>(), 0u) << "the death was noticed";
    EXPECT_EQ(p->machine().stats().route, SessionRoute::kRelay);
  }
  const auto noticed = w.now() - cut_at;
  EXPECT_LE(noticed, bound);
  EXPECT_GE(noticed, c.reply_timeout * c.misses - interval) << "not before the misses";
}

INSTANTIATE_TEST_SUITE_P(Keepalives, DeadPathDetection,
                         ::testing::Values(DeathCase{"Fast", seconds(4), seconds(1), 2},
                                           DeathCase{"OneMiss", seconds(2), milliseconds(200), 1},
                                           DeathCase{"ThreeMisses", seconds(4), seconds(1), 3},
                                           DeathCase{"Defaults", seconds(120), seconds(2), 3}),
                         [](const auto& info) { return std::string(info.param.name); });

// The both-symmetric birthday attack over 512 ports (as the lab's
// ConnectInLab.BothSymmetricSuccessRateMatchesTheBirthdayModel, which runs
// 16 sessions): 400 whole sessions, each side telling the other its
// uniform allocator, 480 probes each. The direct count must lie in the
// 99.9 % binomial interval around 400 x (1 - exp(-n^2 / N^2)).
TEST(BothSymmetric, SuccessRateOver400SessionsMatchesTheBirthdayModel) {
  constexpr std::uint16_t kFirst = 20000;
  constexpr std::uint64_t kPorts = 512, kProbes = 480;
  constexpr int kRuns = 400;
  const double p = punch::nat_pair_success_probability(kProbes, kPorts);
  const boost::math::binomial_distribution<double> binomial(kRuns, p);
  const auto low = static_cast<int>(boost::math::quantile(binomial, 0.0005));
  const auto high = static_cast<int>(boost::math::quantile(boost::math::complement(binomial, 0.0005)));
  const nat::UniformSpec narrow{kFirst, static_cast<std::uint16_t>(kFirst + kPorts - 1)};
  Side side{"narrowsym", Side::Kind::Nat, nat_of(M::AddressAndPortDependent, F::AddressAndPortDependent, narrow),
            told(M::AddressAndPortDependent, F::AddressAndPortDependent)};
  side.info.allocator = narrow;
  const auto started = std::chrono::steady_clock::now();
  int direct = 0, relayed = 0, disagreed = 0;
  for (int k = 0; k < kRuns; ++k) {
    SessionWorld w(50000 + static_cast<std::uint64_t>(k));
    w.add_pair(side, side, [](session::SessionConfig& c) {
      c.plan.probe_budget = kProbes;
      c.plan.punch_timeout = milliseconds(1500);
      c.send_interval = std::chrono::microseconds(500);
    });
    w.run_until_settled(seconds(30));
    ASSERT_TRUE(w.a().open() && w.b().open()) << "run " << k;
    ASSERT_EQ(w.a().machine().info().strategy, "improved");
    const auto ra = w.a().last<se::Established>()->route, rb = w.b().last<se::Established>()->route;
    if (ra != rb)
      ++disagreed;
    else if (ra == SessionRoute::kDirect)
      ++direct;
    else
      ++relayed;
  }
  const double seconds_taken = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cerr << "[birthday] " << direct << "/" << kRuns << " direct (" << relayed << " relay, " << disagreed
            << " disagreed), model P = " << p << " -> expected " << kRuns * p << ", 99.9 % interval [" << low << ", "
            << high << "]; " << seconds_taken << " s\n";
  EXPECT_EQ(disagreed, 0);
  EXPECT_GE(direct, low);
  EXPECT_LE(direct, high);
}

}  // namespace
}  // namespace natpunch::sim

namespace natpunch::sim {
namespace {

// --- candidates (issue 19 item 2)

Side with_v6(Side s, Side::V6 v6, Duration latency = milliseconds(10)) {
  s.v6 = v6;
  s.v6_latency = latency;
  s.tag += v6 == Side::V6::Firewall ? "+v6fw" : "+v6";
  return s;
}

// Five datagrams each way, 30 ms apart, then time for the last to arrive.
void exchange_five_each_way(SessionWorld& w) {
  for (int i = 0; i < 5; ++i) {
    w.send(w.a(), bytes("a" + std::to_string(i)));
    w.send(w.b(), bytes("b" + std::to_string(i)));
    w.run_for(milliseconds(30));
  }
  w.run_for(milliseconds(300));
}

// Which candidate pair carries a session, in priority order (host v6, host
// v4, srflx, predicted, relay): the pairs that work decide, and when
// several do, the best one is kept. Each row: both sessions open, the
// caller's and the listener's paths of the expected candidate type and
// address family, data both ways on it; direct rows within a few round
// trips of the pairing (time_to_direct).
struct CandidateRow {
  const char* name;
  Side a, b;
  std::string type_a, type_b;  // of the path the caller / the listener ends on
  std::string family;
  bool one_nat = false;  // both behind a's NAT, which routes between its clients
  bool force_relay = false;
};

class Candidates : public ::testing::TestWithParam<CandidateRow> {};

TEST_P(Candidates, TheBestPairThatWorksCarriesTheSession) {
  const auto& row = GetParam();
  SessionWorld w(77);
  const auto budget = [&](session::SessionConfig& c) {
    c.plan.relay_only = row.force_relay;
    c.send_interval = std::chrono::microseconds(500);
    c.plan.probe_budget = 4000;
    c.plan.punch_timeout = milliseconds(2500);
  };
  if (row.one_nat)
    w.add_pair_behind_one_nat(row.a, true, budget);
  else
    w.add_pair(row.a, row.b, budget);
  w.run_until_settled(seconds(30));
  ASSERT_TRUE(w.a().open() && w.b().open());
  // Checks for a better pair may still be running: give them their round trips.
  w.run_for(milliseconds(1000));
  exchange_five_each_way(w);
  for (auto* p : {&w.a(), &w.b()}) {
    SCOPED_TRACE(p == &w.a() ? "caller" : "listener");
    const auto s = p->machine().stats();
    EXPECT_EQ(s.candidate_type, p == &w.a() ? row.type_a : row.type_b) << s.peer_endpoint;
    EXPECT_EQ(s.address_family, row.family) << s.peer_endpoint;
    EXPECT_EQ(p->received().size(), 5u);
    if (row.force_relay) {
      EXPECT_EQ(s.route, SessionRoute::kRelay);
      continue;
    }
    EXPECT_EQ(s.route, SessionRoute::kDirect);
    EXPECT_EQ(s.received_direct, 5u) << "on the kept path";
    EXPECT_EQ(Endpoint::parse(s.peer_endpoint)->address.is_v6(), row.family == "ipv6") << s.peer_endpoint;
    // Opened on one pair, moved to a better one: the move is a route change.
    const auto first = p->last<se::Established>();
    if (first->route == SessionRoute::kDirect && p->count<se::RouteChanged>() > 0) {
      EXPECT_EQ(p->last<se::RouteChanged>()->path->peer.to_string(), s.peer_endpoint);
    }
    if (std::string(row.name) == "DualStackSlowV6") {
      EXPECT_EQ(p->count<se::RouteChanged>(), 1u) << "srflx first, then the IPv6 host pair";
    }
    ASSERT_TRUE(s.time_to_direct);
    // Paired -> direct: a few round trips (checks and hole punches start
    // on pairing), a birthday stage's prediction after the common start (200 ms).
    EXPECT_LT(*s.time_to_direct, std::chrono::milliseconds(600));
    std::cerr << "[candidates] " << row.name << (p == &w.a() ? " caller" : " listener") << ": " << s.candidate_type
              << " " << s.address_family << ", time to direct "
              << std::chrono::duration<double, std::milli>(*s.time_to_direct).count() << " ms\n";
  }
}

Side sym_side() { return kinds()[5].side; }
Side kpn_side() { return kinds()[7].side; }
// IPv6 only behind a stateful firewall (the lab's v6fw): registered at the
// rendezvous's IPv6 address, learned as an open NAT with APDF filtering.
Side v6_only_side() {
  Side s;
  s.tag = "v6fw";
  s.kind = Side::Kind::V6Only;
  s.v6 = Side::V6::Firewall;
  s.info.mapping = nat::MappingBehavior::EndpointIndependent;
  s.info.filtering = nat::FilteringBehavior::AddressAndPortDependent;
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Pairs, Candidates,
    ::testing::Values(
        // IPv4 cone pairs: the rendezvous's view of each side (srflx).
        CandidateRow{"ConeV4", prc_side(), prc_side(), "srflx", "srflx", "ipv4"},
        // Dual stack both: IPv6 (routed, behind firewalls) beats the
        // reflexive IPv4 path that works as well.
        CandidateRow{"DualStackCones", with_v6(prc_side(), Side::V6::Firewall), with_v6(prc_side(), Side::V6::Firewall),
                     "host", "host", "ipv6"},
        // IPv6 is slow (150 ms each way): the IPv4 srflx path connects
        // first and carries the session; the IPv6 pair proves itself later
        // and takes over (the best pair that works is kept).
        CandidateRow{"DualStackSlowV6", with_v6(prc_side(), Side::V6::Firewall, milliseconds(150)),
                     with_v6(prc_side(), Side::V6::Firewall, milliseconds(150)), "host", "host", "ipv6"},
        // Both symmetric over IPv4: IPv6 connects where a birthday attack
        // would be needed.
        CandidateRow{"DualStackSymmetric", with_v6(sym_side(), Side::V6::Firewall),
                     with_v6(sym_side(), Side::V6::Open), "host", "host", "ipv6"},
        // IPv6 only both (the rendezvous listens on IPv4 and IPv6): the
        // punch of the addresses the rendezvous saw over IPv6, the hosts' own.
        CandidateRow{"V6OnlyBoth", v6_only_side(), v6_only_side(), "host", "host", "ipv6"},
        // IPv6 only meets dual stack registered over IPv4: no strategy can
        // cross families; each checks the other's IPv6 candidates.
        CandidateRow{"V6OnlyAndDualStack", v6_only_side(), with_v6(prc_side(), Side::V6::Firewall), "host", "host",
                     "ipv6"},
        CandidateRow{"DualStackAndV6Only", with_v6(sym_side(), Side::V6::Firewall), v6_only_side(), "host", "host",
                     "ipv6"},
        // Only one side has IPv6: IPv4 it is.
        CandidateRow{"DualStackAndV4Only", with_v6(prc_side(), Side::V6::Firewall), prc_side(), "srflx", "srflx",
                     "ipv4"},
        // KPN's 256-port blocks: the listener reaches KPN at a predicted
        // port, not the one the rendezvous saw; KPN reaches its srflx.
        CandidateRow{"KpnPredicted", kpn_side(), prc_side(), "srflx", "predicted", "ipv4"},
        // A symmetric NAT's new mapping towards a public host: predicted;
        // the public host is where the rendezvous saw it, its own address: host.
        CandidateRow{"SymmetricAndPublic", sym_side(), public_side(), "host", "predicted", "ipv4"},
        // One NAT that routes between its clients: the host pair, before the hairpin.
        CandidateRow{"SameNatHost", prc_side(), prc_side(), "host", "host", "ipv4", true},
        // One NAT, dual stack: IPv6 before the LAN.
        CandidateRow{"SameNatDualStack", with_v6(prc_side(), Side::V6::Firewall), {}, "host", "host", "ipv6", true},
        // Forced relay (the last candidate): IPv4 to the rendezvous.
        CandidateRow{"ForcedRelay", with_v6(prc_side(), Side::V6::Open), with_v6(prc_side(), Side::V6::Open), "relay",
                     "relay", "ipv4", false, true}),
    [](const auto& info) { return std::string(info.param.name); });

// IPv6 only meets IPv4 only: no family in common, nothing to punch or
// check; both open on the rendezvous's relay at once (it relays between its
// IPv6 and IPv4 sides) and say why.
TEST(CandidatesNoCommonFamily, AnIpv6OnlyAndAnIpv4OnlyPeerMeetOnTheRelay) {
  SessionWorld w(78);
  w.add_pair(v6_only_side(), prc_side());
  const auto paired = w.now();
  w.run_until_settled(seconds(30));
  ASSERT_TRUE(w.a().open() && w.b().open());
  EXPECT_LT(w.now() - paired, seconds(2)) << "no punching to wait for";
  exchange_five_each_way(w);
  for (auto* p : {&w.a(), &w.b()}) {
    SCOPED_TRACE(p == &w.a() ? "caller (IPv6 only)" : "listener (IPv4 only)");
    const auto s = p->machine().stats();
    EXPECT_EQ(s.route, SessionRoute::kRelay);
    EXPECT_EQ(s.candidate_type, "relay");
    EXPECT_EQ(s.address_family, p == &w.a() ? "ipv6" : "ipv4") << "the side's way to the rendezvous";
    EXPECT_EQ(p->machine().info().stop_reason, "no address family in common with the peer");
    EXPECT_EQ(s.checks_sent, 0u);
    EXPECT_EQ(p->received().size(), 5u);
  }
}

// A hostile peer tells the rendezvous local endpoints no check may go to
// (multicast, broadcast, unspecified, loopback, link-local, the
// rendezvous itself) and more than the cap of plausible ones: the other
// side checks at most kMaxChecks addresses, none of the nonsense, and
// sends nothing anywhere else but the peer's public address and the server.
TEST(CandidatesHostile, NonsenseIsNeverCheckedAndTheCountIsCapped) {
  SessionWorld w(5);
  std::set<IpAddress> destinations;
  const auto hostile = [](session::SessionConfig& c) {
    if (c.caller) return;
    auto& l = c.client.info.local_endpoints;
    l.clear();
    for (const char* e : {"224.0.0.1:5000", "255.255.255.255:5000", "0.0.0.0:5000", "127.0.0.1:5000",
                          "169.254.1.1:5000", "[ff02::1]:5000", "[fe80::1]:5000", "[::1]:5000", "[::ffff:1.2.3.4]:5000",
                          "203.0.113.10:7000"})
      l.push_back(*Endpoint::parse(e));
  };
  auto v6 = with_v6(prc_side(), Side::V6::Open);
  w.add_pair(v6, v6, hostile);
  w.a().host().on_send = [&](TimePoint, const Transmit& t) { destinations.insert(t.to.address); };
  w.run_until_settled(seconds(20));
  ASSERT_TRUE(w.a().open());
  w.run_for(seconds(2));
  // Only the server and the peer's public IPv4 address: its IPv6 host was
  // not told (the hostile list replaced it), nothing else was checked.
  EXPECT_EQ(destinations, (std::set<IpAddress>{SessionWorld::kServer.address, w.public_b()}));
  EXPECT_EQ(w.a().machine().stats().checks_sent, 0u);
  EXPECT_EQ(w.a().machine().stats().candidate_type, "srflx");
}

// More candidates than the cap, all plausible IPv6 addresses nobody owns:
// at most kMaxChecks of them are ever sent to, each a bounded number of
// times (no amplification through us), and the session still connects.
TEST(CandidatesHostile, ManyCandidatesCostAtMostTheCap) {
  SessionWorld w(6);
  std::set<IpAddress> checked;
  std::uint64_t sent_to_them = 0;
  const auto many = [](session::SessionConfig& c) {
    if (c.caller) return;
    auto& l = c.client.info.local_endpoints;
    l.clear();
    for (int i = 0; i < 40; ++i)
      l.push_back(Endpoint{IpAddress::v6({0x20, 0x01, 0x0d, 0xb8, 0xee, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                          static_cast<std::uint8_t>(i + 1)}),
                           static_cast<std::uint16_t>(1000 + i)});
  };
  auto v6 = with_v6(prc_side(), Side::V6::Open);
  w.add_pair(v6, v6, many);
  w.a().host().on_send = [&](TimePoint, const Transmit& t) {
    if (t.to.address.is_v6()) {
      checked.insert(t.to.address);
      ++sent_to_them;
    }
  };
  w.run_until_settled(seconds(20));
  ASSERT_TRUE(w.a().open());
  w.run_for(seconds(10));
  EXPECT_LE(checked.size(), session::kMaxChecks);
  EXPECT_GT(checked.size(), 0u) << "the plausible ones were checked";
  EXPECT_LE(sent_to_them, session::kMaxChecks * static_cast<std::uint64_t>(session::CandidateChecksConfig{}.max_attempts));
  EXPECT_EQ(w.a().machine().stats().candidate_type, "srflx");
}

// Changing networks (issue 19 item 4), the machine's part: the driver says
// the host's addresses changed (io/peer_session.cpp polls them); the
// session leaves its direct path for the relay at once, refreshes where the
// rendezvous sees it, re-punches and is direct again within a few seconds;
// the stream never stops, nothing arrives twice. (Here the old path still
// works, so nothing is lost either; the lab's SessionMove moves a client
// between real NATs.)
TEST(SessionScenario, ANetworkChangeRepunchesWhileTheStreamGoesOn) {
  SessionWorld w(23);
  w.add_pair(prc_side(), prc_side());
  w.run_until_settled(seconds(10));
  ASSERT_TRUE(w.a().open() && w.b().open());
  ASSERT_EQ(w.a().last<se::Established>()->route, SessionRoute::kDirect);
  int sent = 0;
  std::optional<TimePoint> changed_at;
  for (int step = 0; step < 100; ++step) {  // 10 s, a datagram every 100 ms; the change at 2 s
    if (step == 20) {
      changed_at = w.now();
      const auto host = w.a().host().local_endpoint(0);
      w.act(w.a(), [&](session::PeerSessionMachine& m) { m.on_network_changed(w.now(), {host}); });
    }
    w.send(w.a(), bytes("a" + std::to_string(++sent)));
    w.run_for(milliseconds(100));
  }
  const auto changes = w.a().all<se::RouteChanged>();
  ASSERT_GE(changes.size(), 2u);
  EXPECT_EQ(changes.front().route, SessionRoute::kRelay) << "the old path given up at once";
  EXPECT_EQ(changes.back().route, SessionRoute::kDirect);
  const auto sa = w.a().machine().stats();
  EXPECT_EQ(sa.route, SessionRoute::kDirect);
  EXPECT_EQ(sa.path_deaths, 1u);
  EXPECT_GE(sa.repunches_succeeded, 1u);
  EXPECT_GT(sa.sent_relay, 0u) << "the stream went on over the relay meanwhile";
  const auto got = texts(w.b());
  EXPECT_EQ(got.size(), w.b().received().size()) << "nothing twice";
  EXPECT_EQ(got.size(), static_cast<std::size_t>(sent)) << "the old path still worked: nothing lost";
  bool warned = false;
  for (const auto& p : w.a().all<se::Progress>()) warned |= p.progress.message.rfind("network changed", 0) == 0;
  EXPECT_TRUE(warned);
}

}  // namespace
}  // namespace natpunch::sim

namespace natpunch::sim {
namespace {

// --- easy pairs are direct within a few round trips of the pairing (issue 19, "Numbers")
//
// The rendezvous gives both sides a common start, 500 ms after pairing them
// by default (the server's start_delay). Only the birthday strategies need
// it; a direct connect, a hole punch and the candidate checks start the
// moment a side learns of the pairing. Each row: both sides' time to direct
// (from their own pairing) is at most 3 round trips of the path that
// connected -- the round trip the session's keepalives measure on it --
// plus one probe interval (the hole punch's probes are 2.98 ms apart)
// and 1 ms for the two sides learning of the pairing at slightly different
// moments (the server's paths to them differ by up to 1 ms here).

struct FastRow {
  std::string name;
  Side a, b;
  bool one_nat = false;  // both behind a's NAT, which routes between its clients
};

constexpr Duration kRealStartDelay = milliseconds(500);  // the server's default

struct Worst {
  double ratio = 0;  // time to direct / round trip
  std::string where;
};

void fast_direct(const FastRow& row, std::uint64_t seed, Worst& worst) {
  SCOPED_TRACE(row.name);
  SessionWorld w(seed, kRealStartDelay);
  const auto config = [](session::SessionConfig& c) {
    // A keepalive a second (also where a carrier profile told a longer
    // idle timeout): its round trip measures the path.
    c.keepalive.idle_timeout = seconds(2);
    if (c.client.info.idle_timeout_ms > 0) c.client.info.idle_timeout_ms = 2000;
  };
  if (row.one_nat)
    w.add_pair_behind_one_nat(row.a, true, config);
  else
    w.add_pair(row.a, row.b, config);
  w.run_until_settled(seconds(10));
  ASSERT_TRUE(w.a().open() && w.b().open());
  w.run_for(milliseconds(2500));  // a keepalive or two
  // The side whose keepalive timer fires first measures the path (the
  // other's is reset by that traffic): the round trip is one for both.
  const auto rtt_a = w.a().machine().stats().rtt, rtt_b = w.b().machine().stats().rtt;
  ASSERT_TRUE(rtt_a || rtt_b) << "a keepalive round trip on the direct path";
  const Duration rtt = std::max(rtt_a.value_or(std::chrono::microseconds(0)), rtt_b.value_or(std::chrono::microseconds(0)));
  for (auto* p : {&w.a(), &w.b()}) {
    SCOPED_TRACE(p == &w.a() ? "caller" : "listener");
    const auto s = p->machine().stats();
    ASSERT_EQ(s.route, SessionRoute::kDirect);
    ASSERT_TRUE(s.time_to_direct.has_value());
    const Duration bound = 3 * rtt + punch::kThesisSendInterval + milliseconds(1);
    EXPECT_LE(*s.time_to_direct, bound) << "rtt " << std::chrono::duration<double, std::milli>(rtt).count()
                                        << " ms, " << s.candidate_type << " " << s.address_family;
    EXPECT_LT(*s.time_to_direct, kRealStartDelay) << "never waits for the common start";
    const double ratio = std::chrono::duration<double>(*s.time_to_direct) / std::chrono::duration<double>(rtt);
    if (ratio > worst.ratio)
      worst = {ratio, row.name + (p == &w.a() ? " caller " : " listener ") + p->machine().info().strategy + " " +
                          s.candidate_type + " " + s.address_family};
  }
}

// Every pair of the lab's kinds that the table punches with a direct
// connect or a hole punch (open, firewalled, cone and the carriers with
// endpoint-independent mapping), plus the IPv6 and same-NAT pairs whose
// host candidates connect (also where IPv4 alone would need a birthday
// attack: symmetric NATs with IPv6 beside them, or routing between their
// clients).
TEST(FastDirect, EasyPairsAreDirectWithinThreeRoundTripsOfThePairing) {
  std::vector<FastRow> rows;
  const auto& all = kinds();
  for (std::size_t i = 0; i < all.size(); ++i)
    for (std::size_t j = i; j < all.size(); ++j) {
      const auto e = test_support::expected_pair(all[i].cls, all[j].cls);
      if (e.route == "direct" && (e.strategy == "direct" || e.strategy == "hole-punch"))
        rows.push_back({all[i].side.tag + "-" + all[j].side.tag, all[i].side, all[j].side});
    }
  // The 8 open and easy kinds among themselves (36), the 3 open ones with
  // the 3 hard ones (9: a direct connect from the hard side).
  ASSERT_EQ(rows.size(), 45u);
  rows.push_back({"prc+v6fw-prc+v6fw", with_v6(prc_side(), Side::V6::Firewall), with_v6(prc_side(), Side::V6::Firewall)});
  rows.push_back({"sym+v6fw-sym+v6fw", with_v6(sym_side(), Side::V6::Firewall), with_v6(sym_side(), Side::V6::Firewall)});
  rows.push_back({"same-nat-prc", prc_side(), {}, true});
  rows.push_back({"same-nat-sym", sym_side(), {}, true});
  std::uint64_t seed = 9000;
  Worst worst;
  for (const auto& row : rows) fast_direct(row, seed++, worst);
  std::cerr << "[fast] " << rows.size() << " easy pairs, 500 ms common start: direct within " << worst.ratio
            << " round trips of the pairing at most (" << worst.where << ")\n";
}

// The birthday strategies still start together: a symmetric pair's
// improved attack leaves no probe before the common start.
TEST(FastDirect, BirthdayStagesStillWaitForTheCommonStart) {
  SessionWorld w(9100, kRealStartDelay);
  std::optional<TimePoint> first_probe;
  const IpAddress inside_a = IpAddress::v4({100, 64, 0, 3});
  w.add_pair(sym_side(), sym_side());
  std::optional<TimePoint> paired;
  w.network().filter = [&](TimePoint now, const Endpoint& from, const Endpoint& to) {
    // The caller's first datagram to anything but the server: a probe.
    if (from.address == inside_a && to != SessionWorld::kServer && !first_probe) first_probe = now;
    return false;
  };
  w.run_for(seconds(5), [&] {
    if (!paired && w.a().machine().info().session_id != 0) paired = w.now();
    return first_probe.has_value();
  });
  ASSERT_TRUE(paired);
  ASSERT_TRUE(first_probe);
  std::vector<std::string> started;
  for (const auto& e : w.a().all<se::Progress>())
    if (e.progress.kind == SessionProgress::Kind::kStrategyStarted) started.push_back(e.progress.strategy);
  EXPECT_EQ(started, std::vector<std::string>{"improved"});
  EXPECT_GE(*first_probe - *paired, kRealStartDelay - milliseconds(1)) << "the birthday attack waited";
}

// Data from the first round trip: with open_early each side can send the
// moment it learns of the pairing (time_to_first_byte 0), and the first
// datagram, relayed, reaches the peer within one round trip of the peers'
// path (the relay's way A -> server -> B is 32 ms here, the direct round
// trip 44 ms); then the session moves direct within 3 round trips.
TEST(FastDirect, TheFirstByteArrivesOverTheRelayWithinOneRoundTrip) {
  SessionWorld w(9200, kRealStartDelay);
  w.add_pair(prc_side(), prc_side(), [](session::SessionConfig& c) {
    c.open_early = true;
    c.keepalive.idle_timeout = seconds(2);
  });
  w.run_for(seconds(5), [&] { return w.a().open(); });
  ASSERT_TRUE(w.a().open());
  EXPECT_EQ(w.a().last<se::Established>()->route, SessionRoute::kRelay);
  EXPECT_EQ(w.a().machine().info().time_to_first_byte, std::chrono::microseconds(0)) << "usable on pairing";
  const auto sent_at = w.now();
  ASSERT_TRUE(w.send(w.a(), bytes("first")));
  w.run_for(seconds(1), [&] { return !w.b().received().empty(); });
  ASSERT_EQ(w.b().received().size(), 1u);
  const Duration first_byte = w.now() - sent_at;
  EXPECT_EQ(w.b().machine().stats().received_relay, 1u) << "over the relay";
  w.run_for(milliseconds(3000));
  const auto sa = w.a().machine().stats();
  ASSERT_EQ(sa.route, SessionRoute::kDirect);
  ASSERT_TRUE(sa.time_to_direct);
  const auto measured = sa.rtt ? sa.rtt : w.b().machine().stats().rtt;
  ASSERT_TRUE(measured) << "a keepalive round trip on the direct path";
  const Duration rtt = *measured;
  EXPECT_LE(first_byte, rtt + milliseconds(1));
  EXPECT_LE(*sa.time_to_direct, 3 * rtt + punch::kThesisSendInterval + milliseconds(1));
  std::cerr << "[fast] first byte after " << std::chrono::duration<double, std::milli>(first_byte).count()
            << " ms over the relay, direct after "
            << std::chrono::duration<double, std::milli>(*sa.time_to_direct).count() << " ms, rtt "
            << std::chrono::duration<double, std::milli>(rtt).count() << " ms\n";
}

}  // namespace
}  // namespace natpunch::sim

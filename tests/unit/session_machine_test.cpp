// The whole peer session as a sans-IO machine (session/peer_session_machine
// .hpp): two machines and a rendezvous::Server on an in-memory internet in
// virtual time (session_net.hpp). Registration, the session, the plan's
// stages, the relay, keepalives, a dead path, the re-punch, the callee
// following the caller, failures with typed errors, and the attacks of
// issue 23 -- each in milliseconds of real time.
#include "session/peer_session_machine.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "session_net.hpp"
#include "wire/session_datagram.hpp"

namespace natpunch::session {
namespace {

using testing::SessionNet;
using Net = SessionNet;

const IpAddress kAddressA = IpAddress::v4({198, 51, 100, 1});
const IpAddress kAddressB = IpAddress::v4({198, 51, 100, 2});

std::vector<std::uint8_t> bytes(const std::string& text) { return {text.begin(), text.end()}; }
std::string text(const std::vector<std::uint8_t>& b) { return {b.begin(), b.end()}; }

// a (caller) connects to b (listener); `tweak` adjusts both configs.
struct Pair {
  Net net;
  Net::Peer* a = nullptr;
  Net::Peer* b = nullptr;

  explicit Pair(const std::function<void(SessionConfig&, bool caller)>& tweak = {}, std::uint64_t seed = 1)
      : net(seed) {
    const auto id_a = net.identity(), id_b = net.identity();
    auto cb = net.config(false, id_b);
    auto ca = net.config(true, id_a);
    ca.peer = id_b.public_key;
    if (tweak) {
      tweak(cb, false);
      tweak(ca, true);
    }
    b = &net.add(cb, kAddressB);
    net.run_for(milliseconds(300));  // the listener registers first
    a = &net.add(ca, kAddressA);
  }
  bool open() { return net.both_open(); }
  void run_until_open(Duration limit = seconds(30)) { net.run_for(limit, [this] { return open(); }); }
};

std::vector<std::string> texts(const Net::Peer& p) {
  std::vector<std::string> out;
  for (const auto& r : p.received) out.push_back(text(r));
  return out;
}

std::vector<std::string> numbered(const std::string& prefix, int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i <= to; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

TEST(SessionMachine, TwoPublicPeersHolePunchDirectlyAndExchangeData) {
  Pair p;
  p.run_until_open();
  ASSERT_TRUE(p.open());
  for (auto* peer : {p.a, p.b}) {
    const auto est = peer->last<session_event::Established>();
    ASSERT_TRUE(est);
    EXPECT_EQ(est->route, SessionRoute::kDirect);
    EXPECT_EQ(est->strategy, "hole-punch") << "unknown NATs start with a plain hole punch";
    EXPECT_EQ(peer->machine->info().strategy, "hole-punch");
    EXPECT_FALSE(peer->last<session_event::Failed>());
  }
  EXPECT_EQ(p.a->machine->info().session_id, p.b->machine->info().session_id);
  EXPECT_EQ(p.a->machine->stats().peer_endpoint, p.b->endpoint(0).to_string());
  EXPECT_EQ(p.b->machine->stats().peer_endpoint, p.a->endpoint(0).to_string());
  // Progress in order: identity, registered, session ready, strategy started, finished.
  std::vector<SessionProgress::Kind> kinds;
  for (const auto& e : p.a->all<session_event::Progress>()) kinds.push_back(e.progress.kind);
  ASSERT_GE(kinds.size(), 5u);
  EXPECT_EQ(kinds[0], SessionProgress::Kind::kIdentity);
  EXPECT_EQ(kinds[1], SessionProgress::Kind::kRegistered);
  EXPECT_EQ(kinds[2], SessionProgress::Kind::kSessionReady);
  EXPECT_EQ(kinds[3], SessionProgress::Kind::kStrategyStarted);
  EXPECT_EQ(kinds.back(), SessionProgress::Kind::kStrategyFinished);
  // A session started 200 ms after the server sent it: connected a round trip later.
  EXPECT_LT(p.a->machine->info().time_to_connect, std::chrono::milliseconds(100));
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(p.net.send(*p.a, bytes("a" + std::to_string(i))));
    ASSERT_TRUE(p.net.send(*p.b, bytes("b" + std::to_string(i))));
    p.net.run_for(milliseconds(5));
  }
  p.net.run_for(milliseconds(100));
  EXPECT_EQ(texts(*p.b), numbered("a", 1, 20));
  EXPECT_EQ(texts(*p.a), numbered("b", 1, 20));
  EXPECT_EQ(p.a->machine->stats().sent_direct, 20u);
  EXPECT_EQ(p.a->machine->stats().sent_relay, 0u);
}

// Issue 22 item 2: one side's --force-relay puts both on the relay at once.
TEST(SessionMachine, EitherSidesForceRelaySendsBothToTheRelayWithoutAProbe) {
  for (const bool caller_forces : {true, false}) {
    SCOPED_TRACE(caller_forces ? "caller forces" : "listener forces");
    Pair p([&](SessionConfig& c, bool caller) { c.plan.relay_only = caller == caller_forces; });
    p.run_until_open();
    ASSERT_TRUE(p.open());
    for (auto* peer : {p.a, p.b}) {
      EXPECT_EQ(peer->last<session_event::Established>()->route, SessionRoute::kRelay);
      EXPECT_EQ(peer->machine->info().probes_sent, 0u);
      EXPECT_EQ(peer->machine->info().strategy, "relay");
      EXPECT_LT(peer->machine->info().time_to_connect, std::chrono::milliseconds(1));
    }
    auto* forcing = caller_forces ? p.a : p.b;
    auto* other = caller_forces ? p.b : p.a;
    EXPECT_EQ(forcing->machine->info().stop_reason, "forced relay");
    EXPECT_EQ(other->machine->info().stop_reason, "the peer forced relay");
    ASSERT_TRUE(p.net.send(*p.a, bytes("over the relay")));
    ASSERT_TRUE(p.net.send(*p.b, bytes("back")));
    p.net.run_for(milliseconds(200));
    EXPECT_EQ(texts(*p.b), std::vector<std::string>{"over the relay"});
    EXPECT_EQ(texts(*p.a), std::vector<std::string>{"back"});
    EXPECT_EQ(p.a->machine->stats().sent_relay, 1u);
  }
}

// Issue 22 item 3 in virtual time: nothing crosses between the peers (as
// prc x sym without hints in the lab), and with the default options the
// relay carries the session 10 s after the common start, never minutes.
TEST(SessionMachine, WhenNothingCrossesTheDefaultBoundHandsTheSessionToTheRelay) {
  Pair p;
  p.net.drop = [](const Endpoint& from, const Endpoint& to, std::span<const std::uint8_t>) {
    return from.address != Net::kServer.address && to.address != Net::kServer.address;
  };
  const auto started = p.net.now;
  p.run_until_open(seconds(60));
  ASSERT_TRUE(p.open());
  for (auto* peer : {p.a, p.b}) {
    EXPECT_EQ(peer->last<session_event::Established>()->route, SessionRoute::kRelay);
    const auto ttc = peer->machine->info().time_to_connect;
    EXPECT_GE(ttc, std::chrono::milliseconds(9900));
    EXPECT_LE(ttc, std::chrono::milliseconds(10500)) << "the plan's bound, then the relay";
    EXPECT_EQ(peer->machine->info().stop_reason, "time budget spent");
    EXPECT_GT(peer->machine->info().probes_sent, 1000u) << "both stages punched";
    // Both stages ran: the optimistic hole punch, then what unknown x unknown calls for.
    std::vector<std::string> started_strategies;
    for (const auto& e : peer->all<session_event::Progress>())
      if (e.progress.kind == SessionProgress::Kind::kStrategyStarted) started_strategies.push_back(e.progress.strategy);
    EXPECT_EQ(started_strategies, (std::vector<std::string>{"hole-punch", "improved"}));
  }
  EXPECT_LT(p.net.now - started, seconds(12));
  ASSERT_TRUE(p.net.send(*p.a, bytes("relayed")));
  p.net.run_for(milliseconds(200));
  EXPECT_EQ(texts(*p.b), std::vector<std::string>{"relayed"});
}

// A dead direct path: the relay at once, a re-punch both agree on, and back
// to direct when the path heals; every datagram arrives exactly once.
TEST(SessionMachine, ADeadPathFallsBackToTheRelayAndARepunchRestoresDirect) {
  Pair p([](SessionConfig& c, bool) {
    c.keepalive.idle_timeout = seconds(4);  // a keepalive every 2 s
    c.keepalive.reply_timeout = seconds(1);
    c.keepalive.misses_for_dead = 2;
  });
  p.run_until_open();
  ASSERT_TRUE(p.open());
  bool cut = false;
  p.net.drop = [&](const Endpoint& from, const Endpoint& to, std::span<const std::uint8_t>) {
    return cut && from.address != Net::kServer.address && to.address != Net::kServer.address;
  };
  int sent = 0;
  const auto send_for = [&](Duration d) {
    const auto until = p.net.now + d;
    while (p.net.now < until) {
      p.net.send(*p.a, bytes("a" + std::to_string(++sent)));
      p.net.run_for(milliseconds(100));
    }
  };
  send_for(seconds(2));
  cut = true;
  const int cut_sends = sent;
  send_for(seconds(8));
  // Dead, relayed, re-punching (which cannot work while cut).
  const auto deaths = p.a->all<session_event::RouteChanged>();
  ASSERT_FALSE(deaths.empty());
  EXPECT_EQ(deaths.front().route, SessionRoute::kRelay);
  EXPECT_EQ(p.a->machine->stats().route, SessionRoute::kRelay);
  EXPECT_EQ(p.a->machine->stats().path_deaths, 1u);
  EXPECT_LT(p.a->machine->stats().keepalives_sent, 10u);
  cut = false;
  send_for(seconds(30));
  EXPECT_EQ(p.a->machine->stats().route, SessionRoute::kDirect) << "a re-punch restored the direct path";
  EXPECT_EQ(p.b->machine->stats().route, SessionRoute::kDirect);
  EXPECT_GE(p.a->machine->stats().repunches_succeeded, 1u);
  EXPECT_EQ(p.a->last<session_event::RouteChanged>()->route, SessionRoute::kDirect);
  p.net.run_for(seconds(1));
  // Nothing twice, nothing out of thin air; what went into the dead path
  // before the death was noticed is lost (one run, right after the cut) and
  // counted (give or take a datagram whose answer was in flight at the cut).
  const auto got = texts(*p.b);
  std::set<std::string> unique(got.begin(), got.end());
  EXPECT_EQ(unique.size(), got.size());
  std::vector<int> missing;
  for (int i = 1; i <= sent; ++i)
    if (!unique.contains("a" + std::to_string(i))) missing.push_back(i);
  ASSERT_FALSE(missing.empty());
  EXPECT_EQ(missing.front(), cut_sends + 1) << "the first datagram into the dead path";
  EXPECT_EQ(missing.back() - missing.front() + 1, static_cast<int>(missing.size())) << "one run, then the relay";
  EXPECT_LE(missing.size(), 45u) << "noticed within 2 s + 2 x 1 s (+ the 100 ms send steps)";
  const auto& s = p.a->machine->stats();
  // An upper bound: what went direct since the peer was last heard.
  EXPECT_GE(s.sent_lost + 1, missing.size());
  EXPECT_LE(s.sent_lost, missing.size() + 21);
  EXPECT_GT(s.sent_relay, 0u);
}

// The caller's NAT rebinds socket 0 to a new port: the listener challenges
// the new path and follows once the caller answered there.
TEST(SessionMachine, TheListenerFollowsTheCallersNewPort) {
  Pair p;
  p.run_until_open();
  ASSERT_TRUE(p.open());
  p.a->rebound[0] = 51111;
  ASSERT_TRUE(p.net.send(*p.a, bytes("from the new port")));
  p.net.run_for(milliseconds(100));
  EXPECT_EQ(texts(*p.b), std::vector<std::string>{"from the new port"});
  const auto s = p.b->machine->stats();
  EXPECT_EQ(s.path_switches, 1u);
  EXPECT_EQ(s.path_challenges, 1u);
  EXPECT_EQ(s.peer_endpoint, p.a->endpoint(0).to_string());
  const auto moved = p.b->last<session_event::RouteChanged>();
  ASSERT_TRUE(moved);
  ASSERT_TRUE(moved->path);
  EXPECT_EQ(moved->path->peer, p.a->endpoint(0));
  ASSERT_TRUE(p.net.send(*p.b, bytes("follows")));
  p.net.run_for(milliseconds(100));
  EXPECT_EQ(texts(*p.a), std::vector<std::string>{"follows"});
}

// Issue 23 at the level of the whole session: every datagram a sends is
// bounced back to it, and replayed to b from a victim's address.
TEST(SessionMachine, ReflectedAndReplayedDatagramsChangeNothing) {
  Pair p;
  p.run_until_open();
  ASSERT_TRUE(p.open());
  const Endpoint victim{IpAddress::v4({198, 51, 100, 99}), 5353};
  p.net.on_wire = [&](const testing::Flight& f) {
    if (f.from.address != kAddressA || f.to.address != kAddressB) return;
    p.net.inject(f.to, f.from, f.bytes, milliseconds(10));                 // bounced back to a
    p.net.inject(victim, f.to, f.bytes, milliseconds(11));                 // replayed to b from the victim
  };
  for (int i = 1; i <= 50; ++i) {
    p.net.send(*p.a, bytes("a" + std::to_string(i)));
    p.net.send(*p.b, bytes("b" + std::to_string(i)));
    p.net.run_for(milliseconds(20));
  }
  p.net.run_for(milliseconds(200));
  EXPECT_EQ(texts(*p.a), numbered("b", 1, 50)) << "none of a's own, all of b's";
  EXPECT_EQ(texts(*p.b), numbered("a", 1, 50));
  EXPECT_FALSE(p.net.elsewhere.contains(victim)) << "nothing to the victim";
  EXPECT_GE(p.a->machine->stats().rejected, 50u);
  EXPECT_EQ(p.b->machine->stats().path_switches, 0u);
  EXPECT_GE(p.b->machine->stats().duplicates_dropped, 50u);
}

TEST(SessionMachine, FailuresAreTypedErrors) {
  {  // No server at all.
    Net net;
    net.drop = [](const Endpoint&, const Endpoint& to, std::span<const std::uint8_t>) { return to == Net::kServer; };
    auto c = net.config(true, net.identity());
    c.peer = net.identity().public_key;
    auto& a = net.add(c, kAddressA);
    net.run_for(seconds(30));
    const auto f = a.last<session_event::Failed>();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->error.kind, ErrorKind::kNoAnswer);
    EXPECT_NE(f->error.message.find("no answer from the rendezvous server at 203.0.113.10:7000"), std::string::npos);
    EXPECT_EQ(a.machine->phase(), Phase::Failed);
    EXPECT_FALSE(a.machine->next_deadline());
  }
  {  // A peer that never registers: asked for again until the wait ends.
    Net net;
    auto c = net.config(true, net.identity());
    c.peer = net.identity().public_key;
    c.wait = seconds(3);
    auto& a = net.add(c, kAddressA);
    net.run_for(seconds(10));
    const auto f = a.last<session_event::Failed>();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->error.kind, ErrorKind::kNoSession);
    bool waited = false;
    for (const auto& e : a.all<session_event::Progress>())
      waited |= e.progress.kind == SessionProgress::Kind::kWaitingForPeer;
    EXPECT_TRUE(waited);
  }
  {  // Interrupted while punching: the probe count so far.
    Pair p;
    p.net.drop = [](const Endpoint& from, const Endpoint& to, std::span<const std::uint8_t>) {
      return from.address != Net::kServer.address && to.address != Net::kServer.address;
    };
    p.net.run_for(seconds(3));
    ASSERT_EQ(p.a->machine->phase(), Phase::Punching);
    p.a->machine->interrupt(p.net.now);
    p.net.flush_all();
    const auto f = p.a->last<session_event::Failed>();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->error.kind, ErrorKind::kInterrupted);
    EXPECT_GT(f->error.probes_sent, 100u);
    EXPECT_EQ(f->error.session_id, p.b->machine->info().session_id);
    EXPECT_FALSE(f->error.strategy.empty());
  }
}

TEST(SessionMachine, ClosingTellsThePeerAndUnregisters) {
  Pair p;
  p.run_until_open();
  ASSERT_TRUE(p.open());
  const auto registrations = p.net.server().registration_count();
  p.a->machine->close(p.net.now);
  p.net.flush_all();
  p.net.run_for(seconds(20));  // the server keeps a closed registration until its cookie expires (replays)
  EXPECT_TRUE(p.a->last<session_event::Closed>());
  EXPECT_TRUE(p.b->last<session_event::PeerClosed>());
  EXPECT_TRUE(p.b->machine->stats().peer_closed);
  EXPECT_EQ(p.net.server().registration_count(), registrations - 1) << "Unregister freed a's slot";
  EXPECT_FALSE(p.a->machine->send(p.net.now, bytes("late")));
}

}  // namespace
}  // namespace natpunch::session

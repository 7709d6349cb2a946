// Two ends of a session (punch/session_channel.hpp) wired back to back in
// virtual time: data on the direct path, keepalives answered, a dead path
// detected and replaced by the relay at once, the re-punch both sides agree
// on, the way back to direct, loss counted and nothing delivered twice.
#include "punch/session_channel.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <tuple>
#include <vector>

#include "core/rng.hpp"
#include "nat/allocator_spec.hpp"
#include "punch/repunch_aim.hpp"
#include "punch/strategies.hpp"

namespace natpunch::punch {
namespace {

constexpr TimePoint kStart = kTimeZero + seconds(1000);

// Where a (the caller) and b are reachable: each has one socket (0).
const Endpoint kAOld = *Endpoint::parse("203.0.113.101:31000");
const Endpoint kANew = *Endpoint::parse("203.0.113.101:52817");
const Endpoint kB = *Endpoint::parse("203.0.113.102:40000");

SessionChannelConfig config(bool caller) {
  SessionChannelConfig c;
  c.session_id = 77;
  c.key.fill(9);
  c.direct = true;
  c.caller = caller;
  c.keepalive_config.idle_timeout = seconds(4);  // keepalive every 2 s
  c.keepalive_config.reply_timeout = seconds(1);
  c.keepalive_config.misses_for_dead = 3;
  c.repunch_lead = milliseconds(500);
  c.repunch_retry = seconds(5);
  c.observe_wait = Duration::zero();  // the tests of endpoints below turn it on
  c.peer_endpoint = caller ? kB : kAOld;
  c.socket = 0;
  c.follow_peer = !caller;
  c.seed = caller ? 1 : 2;
  return c;
}

std::vector<std::uint8_t> bytes(const std::string& text) { return {text.begin(), text.end()}; }

// Moves datagrams between the two channels; the direct path can be cut.
// Direct datagrams go where the channel says: to a's or b's endpoint (a's
// NAT may rebind: a_at), else nowhere but into `elsewhere`.
struct Pair {
  SessionChannel a{config(true), kStart};
  SessionChannel b{config(false), kStart};
  TimePoint now = kStart;
  bool direct_up = true;
  // Where each side's rendezvous server sees it; a refresh the channel asks
  // for is answered at once unless the server is unreachable.
  std::optional<Endpoint> a_public, b_public;
  bool server_answers = true;
  int a_refreshes = 0, b_refreshes = 0;
  std::vector<RepunchOrder> a_orders, b_orders;
  std::vector<std::string> a_got, b_got;
  Endpoint a_at = kAOld, b_at = kB;
  std::vector<ChannelTransmit> elsewhere;  // direct datagrams to neither peer

  void deliver() {
    for (int round = 0; round < 10; ++round) {
      bool moved = false;
      for (auto [channel, at, refreshes] : {std::tuple{&a, &a_public, &a_refreshes}, std::tuple{&b, &b_public, &b_refreshes}}) {
        if (!channel->poll_refresh_request()) continue;
        ++*refreshes;
        if (server_answers && *at) channel->on_observed(now, **at);
      }
      for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
        while (auto t = from->poll_transmit()) {
          moved = true;
          const Endpoint& source = from == &a ? a_at : b_at;
          const Endpoint& target = to == &a ? a_at : b_at;
          if (t->path == ChannelPath::Relay)
            to->on_relay(now, t->bytes);
          else if (t->to != target)
            elsewhere.push_back(*t);
          else if (direct_up)
            to->on_direct(now, 0, source, t->bytes);
        }
      }
      if (!moved) break;
    }
    while (auto d = a.poll_received()) a_got.emplace_back(d->begin(), d->end());
    while (auto d = b.poll_received()) b_got.emplace_back(d->begin(), d->end());
    if (auto o = a.poll_repunch()) a_orders.push_back(*o);
    if (auto o = b.poll_repunch()) b_orders.push_back(*o);
  }
  Pair() = default;
  Pair(SessionChannelConfig ca, SessionChannelConfig cb) : a(ca, kStart), b(cb, kStart) {}
  // Advances virtual time to `until`, firing timers in order.
  void run_until(TimePoint until) {
    for (;;) {
      std::optional<TimePoint> next;
      for (auto* c : {&a, &b})
        if (auto d = c->next_deadline(); d && (!next || *d < *next)) next = d;
      if (!next || *next > until) break;
      now = std::max(now, *next);
      a.on_timer(now);
      b.on_timer(now);
      deliver();
    }
    now = until;
  }
};

TEST(SessionChannelTest, DataGoesDirectAndKeepalivesAreAnsweredWhileIdle) {
  Pair p;
  ASSERT_TRUE(p.a.send(p.now, bytes("hello")));
  p.deliver();
  ASSERT_EQ(p.b_got, std::vector<std::string>{"hello"});
  EXPECT_EQ(p.a.keepalive_interval(), seconds(2));
  p.run_until(kStart + seconds(60));  // a minute of silence from the application
  EXPECT_GE(p.a.counters().keepalives_sent, 25u);
  EXPECT_EQ(p.a.counters().keepalive_replies, p.a.counters().keepalives_sent);
  EXPECT_EQ(p.a.route(), Route::Direct);
  EXPECT_EQ(p.b.route(), Route::Direct);
  EXPECT_EQ(p.a.counters().path_deaths, 0u);
  ASSERT_TRUE(p.a.counters().rtt.has_value());
  EXPECT_EQ(*p.a.counters().rtt, Duration::zero()) << "virtual time: instant replies";
  EXPECT_EQ(p.a.counters().sent_direct, 1u);
  EXPECT_EQ(p.b.counters().received_direct, 1u);
}

TEST(SessionChannelTest, ADeadPathFallsBackToTheRelayThenARepunchRestoresDirect) {
  Pair p;
  p.run_until(kStart + seconds(3));  // one keepalive round done
  p.direct_up = false;
  // Application data keeps flowing; the first ones vanish on the dead path.
  int sent = 0;
  TimePoint t = p.now;
  std::optional<TimePoint> relay_since;
  while (t < kStart + seconds(12)) {
    t += milliseconds(250);
    p.run_until(t);
    const bool was_direct = p.a.route() == Route::Direct;
    p.a.send(p.now, bytes("d" + std::to_string(sent++)));
    if (!was_direct && !relay_since) relay_since = p.now;
    p.deliver();
  }
  ASSERT_TRUE(relay_since.has_value()) << "the path death was noticed";
  // 2 s interval + 3 x 1 s replies: noticed within ~5 s of the cut at +3 s.
  EXPECT_LE(*relay_since, kStart + seconds(9));
  EXPECT_EQ(p.a.counters().path_deaths, 1u);
  EXPECT_EQ(p.b.counters().path_deaths, 1u);
  // Both ordered the same re-punch (epoch 1): the caller's timing.
  ASSERT_EQ(p.a_orders.size(), 1u);
  ASSERT_GE(p.b_orders.size(), 1u);
  EXPECT_EQ(p.a_orders[0].epoch, 1u);
  EXPECT_EQ(p.b_orders.back().epoch, 1u);
  // Everything sent after the switch arrived over the relay, exactly once.
  const auto& c = p.a.counters();
  EXPECT_EQ(c.datagrams_sent, static_cast<std::uint64_t>(sent));
  EXPECT_EQ(c.sent_direct + c.sent_relay, c.datagrams_sent);
  EXPECT_GT(c.sent_relay, 8u);
  EXPECT_EQ(p.b.counters().received_relay, c.sent_relay);
  EXPECT_EQ(p.b_got.size(), c.sent_relay);
  // What went into the dead path is written off, and the receiver saw the gap.
  EXPECT_EQ(c.sent_lost, c.sent_direct);
  EXPECT_EQ(p.b.counters().received_lost, c.sent_direct);
  EXPECT_EQ(p.b.counters().duplicates_dropped, 0u);

  // The driver's punch connects on both sides: direct again, keepalives resume.
  p.direct_up = true;
  p.a.on_repunch_finished(p.now, 1, DirectPath{0, kB});
  p.b.on_repunch_finished(p.now, p.b_orders.back().epoch, DirectPath{0, kAOld});
  EXPECT_EQ(p.a.route(), Route::Direct);
  p.a.send(p.now, bytes("back"));
  p.deliver();
  EXPECT_EQ(p.b_got.back(), "back");
  EXPECT_EQ(p.b.counters().received_direct, 1u + 0u) << "only 'back' came directly after the cut";
  p.run_until(p.now + seconds(30));
  EXPECT_EQ(p.a.route(), Route::Direct);
  EXPECT_EQ(p.a.counters().path_deaths, 1u);
  EXPECT_EQ(p.a.counters().repunches_succeeded, 1u);
}

TEST(SessionChannelTest, AFailedRepunchIsRetriedWithANewEpochAndBackoff) {
  Pair p;
  p.direct_up = false;
  p.run_until(kStart + seconds(8));
  ASSERT_EQ(p.a_orders.size(), 1u);
  p.a.on_repunch_finished(p.now, p.a_orders[0].epoch, std::nullopt);
  p.b.on_repunch_finished(p.now, p.b_orders.back().epoch, std::nullopt);
  p.run_until(p.now + seconds(5));
  ASSERT_EQ(p.a_orders.size(), 2u);
  EXPECT_EQ(p.a_orders[1].epoch, 2u);
  EXPECT_EQ(p.b_orders.back().epoch, 2u) << "the peer follows the newer epoch";
  p.a.on_repunch_finished(p.now, 2, std::nullopt);
  p.b.on_repunch_finished(p.now, 2, std::nullopt);
  p.run_until(p.now + seconds(9));
  EXPECT_EQ(p.a_orders.size(), 2u) << "the second retry waits twice as long";
  p.run_until(p.now + seconds(2));
  EXPECT_EQ(p.a_orders.size(), 3u);
}

TEST(SessionChannelTest, ForgedReplayedAndRelayedDuplicatesAreNotDelivered) {
  Pair p;
  ASSERT_TRUE(p.a.send(p.now, bytes("once")));
  auto t = p.a.poll_transmit();
  ASSERT_TRUE(t);
  EXPECT_TRUE(p.b.on_direct(p.now, 0, kAOld, t->bytes));
  EXPECT_TRUE(p.b.on_relay(p.now, t->bytes));   // the same datagram by the other route
  EXPECT_TRUE(p.b.on_direct(p.now, 0, kAOld, t->bytes));  // replayed
  auto forged = t->bytes;
  forged[forged.size() / 2] ^= 1;
  EXPECT_FALSE(p.b.on_direct(p.now, 0, kAOld, forged));
  p.deliver();
  EXPECT_EQ(p.b_got, std::vector<std::string>{"once"});
  EXPECT_EQ(p.b.counters().duplicates_dropped, 2u);
  EXPECT_EQ(p.b.counters().rejected, 1u);
  EXPECT_FALSE(p.a.send(p.now, std::vector<std::uint8_t>(1161, 0))) << "over the relay's limit";
}

// Issue 23, finding 1: one key for both directions and both sides numbering
// from 1 let a datagram a sent, bounced back to a, pass as b's: it was
// delivered as b's data, b's own datagram with that number was then dropped
// as a duplicate, and a bounced CLOSE ended the session from a's own hand.
TEST(SessionChannelTest, OwnDatagramsReflectedBackAreNeverTakenForThePeers) {
  Pair p;
  ASSERT_TRUE(p.a.send(p.now, bytes("from a")));
  const auto data = p.a.poll_transmit();
  ASSERT_TRUE(data);
  p.a.close(p.now);  // a's CLOSE, bounced back too
  std::vector<std::vector<std::uint8_t>> own{data->bytes};
  while (auto t = p.a.poll_transmit()) own.push_back(t->bytes);
  ASSERT_GE(own.size(), 2u);
  for (const auto& d : own) {
    EXPECT_FALSE(p.a.on_direct(p.now, 0, kB, d)) << "a's own datagram is not authentic as b's";
    EXPECT_FALSE(p.a.on_relay(p.now, d));
  }
  EXPECT_FALSE(p.a.poll_received()) << "nothing of a's own delivered to a";
  EXPECT_FALSE(p.a.counters().peer_closed) << "a's own CLOSE did not close the peer";
  EXPECT_EQ(p.a.counters().rejected, 2 * own.size());
  // b's datagrams with the very same numbers still arrive.
  Pair q;
  ASSERT_TRUE(q.a.send(q.now, bytes("a1")));
  const auto a1 = q.a.poll_transmit();
  ASSERT_TRUE(a1);
  EXPECT_FALSE(q.a.on_direct(q.now, 0, kB, a1->bytes));
  ASSERT_TRUE(q.b.send(q.now, bytes("b1")));
  q.deliver();
  EXPECT_EQ(q.a_got, std::vector<std::string>{"b1"});
  EXPECT_EQ(q.a.counters().duplicates_dropped, 0u);
}

// --- path following (issue 23, finding 2): the callee (b) follows the
// caller to a path only once the caller answered a challenge there.

const Endpoint kVictim = *Endpoint::parse("198.51.100.77:5353");

// What a direct datagram to `t.to` says, opened with a's keys (b sent it).
std::optional<wire::SessionControl> control_from_b(const ChannelTransmit& t) {
  wire::SessionKey key;
  key.fill(9);
  auto d = wire::decode_session_datagram(t.bytes, 77, wire::SessionDatagramKeys(key, wire::SessionRole::Caller));
  if (!d || !(d->flags & wire::kFlagControl)) return std::nullopt;
  auto c = wire::decode_session_control(d->payload);
  return c ? std::optional(*c) : std::nullopt;
}

std::vector<std::string> numbered(char who, int count) {
  std::vector<std::string> out;
  for (int i = 1; i <= count; ++i) out.push_back(std::string(1, who) + std::to_string(i));
  return out;
}

// One of the caller's datagrams, captured and replayed to the listener from
// a victim's address (after the original arrived): the old listener moved
// its whole outgoing stream to the victim.
TEST(SessionChannelPathTest, AReplayedDatagramFromAnotherAddressRedirectsNothing) {
  Pair p;
  ASSERT_TRUE(p.a.send(p.now, bytes("a1")));
  const auto captured = p.a.poll_transmit();
  ASSERT_TRUE(captured);
  ASSERT_TRUE(p.b.on_direct(p.now, 0, kAOld, captured->bytes));
  EXPECT_TRUE(p.b.on_direct(p.now, 0, kVictim, captured->bytes)) << "authentic, but a duplicate";
  for (int i = 1; i <= 1000; ++i) {
    p.b.send(p.now, bytes("b" + std::to_string(i)));
    p.run_until(p.now + milliseconds(5));
    p.deliver();
  }
  EXPECT_TRUE(p.elsewhere.empty()) << p.elsewhere.size() << " datagrams went to the victim";
  EXPECT_EQ(p.a_got, numbered('b', 1000)) << "the caller got the listener's stream, all of it";
  EXPECT_EQ(p.b.path(), (DirectPath{0, kAOld}));
  EXPECT_EQ(p.b.counters().path_challenges, 0u) << "a duplicate earns nothing, not even a challenge";
  EXPECT_EQ(p.b.counters().duplicates_dropped, 1u);
}

// An attacker who sees the caller's datagrams and wins the race with each
// (its copy from the victim's address arrives first): the copies are
// authentic and new, so they are delivered, but the victim gets at most a
// few challenges and never data, and the listener keeps its path.
TEST(SessionChannelPathTest, RacedFreshCopiesEarnTheForgedAddressOnlyChallenges) {
  Pair p;
  constexpr int kCount = 200;
  for (int i = 1; i <= kCount; ++i) {
    ASSERT_TRUE(p.a.send(p.now, bytes("a" + std::to_string(i))));
    ASSERT_TRUE(p.b.send(p.now, bytes("b" + std::to_string(i))));
    while (auto t = p.a.poll_transmit()) {
      p.b.on_direct(p.now, 0, kVictim, t->bytes);  // the attacker's copy first
      p.b.on_direct(p.now, 0, kAOld, t->bytes);
    }
    p.deliver();
    p.run_until(p.now + milliseconds(20));  // 4 s in all
  }
  EXPECT_EQ(p.b_got, numbered('a', kCount));
  EXPECT_EQ(p.a_got, numbered('b', kCount));
  ASSERT_FALSE(p.elsewhere.empty()) << "the raced copies drew challenges";
  for (const auto& t : p.elsewhere) {
    EXPECT_EQ(t.to, kVictim);
    const auto c = control_from_b(t);
    ASSERT_TRUE(c) << "only control went to the victim";
    EXPECT_EQ(c->type, wire::ControlType::PathChallenge);
  }
  EXPECT_LE(p.elsewhere.size(), 4u) << "a few challenges per 10 s, not one per datagram";
  EXPECT_EQ(p.b.path(), (DirectPath{0, kAOld}));
  EXPECT_EQ(p.b.counters().path_switches, 0u);
}

// The caller's NAT rebinds to a new port: its datagrams arrive from there,
// the listener challenges the new path, the caller answers, and the
// listener's data follows. The caller itself never follows anyone.
TEST(SessionChannelPathTest, TheListenerFollowsTheCallersNewPathOnceItAnswers) {
  Pair p;
  p.a_at = kANew;
  ASSERT_TRUE(p.a.send(p.now, bytes("from the new port")));
  p.deliver();
  EXPECT_EQ(p.b_got, std::vector<std::string>{"from the new port"});
  EXPECT_EQ(p.b.path(), (DirectPath{0, kANew}));
  EXPECT_EQ(p.b.counters().path_challenges, 1u);
  EXPECT_EQ(p.b.counters().path_switches, 1u);
  ASSERT_TRUE(p.b.send(p.now, bytes("follows")));
  p.deliver();
  EXPECT_EQ(p.a_got, std::vector<std::string>{"follows"});
  EXPECT_TRUE(p.elsewhere.empty());
  // b's NAT rebinds too: a hears b from another path but stays put.
  p.b_at = *Endpoint::parse("203.0.113.102:40001");
  ASSERT_TRUE(p.b.send(p.now, bytes("moved")));
  p.deliver();
  EXPECT_EQ(p.a_got.back(), "moved");
  EXPECT_EQ(p.a.path(), (DirectPath{0, kB}));
  EXPECT_EQ(p.a.counters().path_challenges, 0u);
}

// A response must come on the challenged path with the challenge's token.
TEST(SessionChannelPathTest, AResponseElsewhereOrWithAnotherTokenMovesNothing) {
  Pair p;
  ASSERT_TRUE(p.a.send(p.now, bytes("raced")));
  const auto t = p.a.poll_transmit();
  ASSERT_TRUE(t);
  p.b.on_direct(p.now, 0, kVictim, t->bytes);
  const auto challenge = p.b.poll_transmit();
  ASSERT_TRUE(challenge);
  ASSERT_EQ(challenge->to, kVictim);
  const auto c = control_from_b(*challenge);
  ASSERT_TRUE(c);
  // a answers the challenge (an attacker forwarded it): from a's real path,
  // and with a wrong token from the victim's.

  wire::SessionKey key;
  key.fill(9);
  const wire::SessionDatagramKeys a_keys(key, wire::SessionRole::Caller);
  const auto response = [&](std::uint64_t sequence, std::uint64_t token) {
    return wire::encode(wire::SessionDatagram{wire::kFlagControl, 77, sequence,
                                              wire::encode(wire::SessionControl{wire::ControlType::PathResponse, token,
                                                                                0, 0, std::nullopt})},
                        a_keys);
  };
  p.b.on_direct(p.now, 0, kAOld, response(100, c->echo));
  p.b.on_direct(p.now, 0, kVictim, response(101, c->echo + 1));
  EXPECT_EQ(p.b.path(), (DirectPath{0, kAOld}));
  EXPECT_EQ(p.b.counters().path_switches, 0u);
  // The right token on the challenged path does move it (here: the attacker
  // holds a's key, which is not the threat; it shows the check is the path).
  p.b.on_direct(p.now, 0, kVictim, response(102, c->echo));
  EXPECT_EQ(p.b.path(), (DirectPath{0, kVictim}));
}

TEST(SessionChannelTest, ClosingTellsThePeerAndStopsKeepalives) {
  Pair p;
  p.a.close(p.now);
  p.deliver();
  EXPECT_TRUE(p.b.counters().peer_closed);
  EXPECT_FALSE(p.a.send(p.now, bytes("late")));
  EXPECT_FALSE(p.a.next_deadline());
  EXPECT_FALSE(p.b.next_deadline()) << "no keepalives towards a closed peer";
}


// --- endpoints: a NAT that rebinds (its mappings flushed, the next packet
// gets a new external port) must be re-punched where it is now.


SessionChannelConfig observing(bool caller) {
  auto c = config(caller);
  c.observe_wait = seconds(1);
  c.peer_endpoint = caller ? kB : kAOld;
  return c;
}

SideKnowledge eim_side() {
  SideKnowledge k;
  k.mapping = nat::MappingBehavior::EndpointIndependent;
  k.filtering = nat::FilteringBehavior::AddressAndPortDependent;
  return k;
}

// The destinations of a strategy's first `count` probes.
std::vector<Endpoint> probe_targets(PunchStrategy& strategy, TimePoint start, std::size_t count) {
  std::vector<Endpoint> to;
  TimePoint now = start;
  for (int steps = 0; steps < 100000 && to.size() < count && !strategy.done(); ++steps) {
    while (auto d = strategy.poll_transmit(now)) {
      to.push_back(d->to);
      if (to.size() >= count) return to;
    }
    auto next = strategy.next_deadline();
    if (!next) break;
    now = std::max(now, *next);
    strategy.on_timer(now);
  }
  return to;
}

// Cuts the direct path after a keepalive round, with a's NAT rebinding, and
// runs until both sides ordered the re-punch.
void rebind_a_and_lose_the_path(Pair& p) {
  p.a_public = kAOld;
  p.b_public = kB;
  p.run_until(kStart + seconds(3));
  p.direct_up = false;
  p.a_public = kANew;  // the server sees a's next packet from the new port
  p.run_until(kStart + seconds(12));
}

TEST(SessionChannelEndpointTest, ARebindingPeerIsReachedAtItsNewEndpoint) {
  Pair p(observing(true), observing(false));
  rebind_a_and_lose_the_path(p);
  ASSERT_EQ(p.a.counters().path_deaths, 1u);
  ASSERT_FALSE(p.a_orders.empty());
  ASSERT_FALSE(p.b_orders.empty());
  EXPECT_EQ(p.a_orders.back().epoch, p.b_orders.back().epoch);
  EXPECT_GE(p.a_refreshes, 1) << "the dying path made a refresh its observation first";
  EXPECT_GE(p.b_refreshes, 1);
  // b learned a's new endpoint (from the proposal or the ack); a learned b's.
  EXPECT_EQ(p.b.peer_reported_endpoint(), kANew);
  EXPECT_EQ(p.b.counters().peer_endpoint_changes, 1u);
  EXPECT_EQ(p.a.peer_reported_endpoint(), kB);
  EXPECT_EQ(p.a.counters().peer_endpoint_changes, 0u) << "b did not move";
  // With an instant server the proposal went out as soon as the death was seen.
  EXPECT_LE(p.a_orders.front().start, kStart + seconds(9) + milliseconds(500));

  // b's punch, built when its order starts, probes a's NEW endpoint only;
  // aimed where a was last seen (what happened before), it would miss.
  Rng rng(1);
  StrategyParams params;
  params.session_id = 77;
  params.key.fill(9);
  params.time_budget = seconds(2);
  params.probe_budget = 50;
  for (const bool reported : {true, false}) {
    const auto aim = aim_repunch(eim_side(), eim_side(), p.b.observed(),
                                 reported ? p.b.peer_reported_endpoint() : std::nullopt, kAOld, kAOld.address);
    params.peer_address = aim.peer_address;
    auto strategy = make_strategy(StrategyKind::HolePunch, aim.local, aim.peer, params, rng, p.b_orders.back().start);
    const auto targets = probe_targets(*strategy, p.b_orders.back().start, 20);
    ASSERT_EQ(targets.size(), 20u);
    for (const auto& t : targets) EXPECT_EQ(t, reported ? kANew : kAOld);
  }
  // ... and a's own strategy knows its new port (what a symmetric peer's choosers need).
  const auto a_aim = aim_repunch(eim_side(), eim_side(), p.a.observed(), p.a.peer_reported_endpoint(), kB, kB.address);
  EXPECT_EQ(a_aim.local.observed_port, kANew.port);
  EXPECT_EQ(a_aim.peer.observed_port, kB.port);
}

TEST(SessionChannelEndpointTest, ASymmetricPeerIsPredictedFromItsNewPort) {
  // One hard side: a is symmetric with a sequential allocator; b (easy)
  // probes a's ports in prediction order, which starts at the port a was
  // seen with: the new one, not the old.
  Pair p(observing(true), observing(false));
  rebind_a_and_lose_the_path(p);
  ASSERT_EQ(p.b.peer_reported_endpoint(), kANew);
  SideKnowledge hard;
  hard.mapping = nat::MappingBehavior::AddressAndPortDependent;
  hard.filtering = nat::FilteringBehavior::AddressAndPortDependent;
  hard.allocator = nat::AllocatorSpec{nat::SequentialSpec{}};
  Rng rng(2);
  StrategyParams params;
  params.session_id = 77;
  params.key.fill(9);
  params.time_budget = seconds(2);
  params.probe_budget = 64;
  const auto aim = aim_repunch(eim_side(), hard, p.b.observed(), p.b.peer_reported_endpoint(), kAOld, kAOld.address);
  params.peer_address = aim.peer_address;
  auto strategy = make_strategy(StrategyKind::OneHardSide, aim.local, aim.peer, params, rng, p.b_orders.back().start);
  const auto targets = probe_targets(*strategy, p.b_orders.back().start, 16);
  ASSERT_EQ(targets.size(), 16u);
  for (const auto& t : targets) {
    EXPECT_EQ(t.address, kANew.address);
    EXPECT_LT(std::abs(int{t.port} - int{kANew.port}), 512) << t.to_string() << " is not near the new port";
  }
}

TEST(SessionChannelEndpointTest, WithoutAnAnswerFromTheServerTheProposalGoesOutAfterObserveWait) {
  Pair p(observing(true), observing(false));
  p.a_public = kAOld;
  p.b_public = kB;
  p.run_until(kStart + seconds(3));
  p.direct_up = false;
  p.server_answers = false;
  p.run_until(kStart + seconds(12));
  ASSERT_FALSE(p.a_orders.empty());
  ASSERT_FALSE(p.b_orders.empty());
  EXPECT_EQ(p.a_orders.back().epoch, p.b_orders.back().epoch) << "the re-punch happens anyway";
  // a was never observed: its proposal names no endpoint, and b aims where it last saw a.
  EXPECT_FALSE(p.b.peer_reported_endpoint().has_value());
  EXPECT_EQ(p.b.counters().peer_endpoint_changes, 0u);
  EXPECT_EQ(p.b.counters().endpoints_ignored, 0u);
  EXPECT_GE(p.a_orders.front().start, kStart + seconds(6)) << "a waited observe_wait for the server";
}

// A REPUNCH sealed with the session key (so authentic) whose endpoint is
// absent or nothing a peer could be at: the re-punch is still followed,
// aimed where the peer was last seen.
struct EndpointCase {
  const char* name;
  std::optional<Endpoint> endpoint;
  bool plausible;
};

class RepunchEndpointTest : public testing::TestWithParam<EndpointCase> {};

TEST_P(RepunchEndpointTest, IsFollowedAndOnlyAPlausibleEndpointMovesTheAim) {
  const auto& param = GetParam();
  SessionChannel b(observing(false), kStart);
  const wire::SessionControl control{wire::ControlType::Repunch, 0, 1, 500, param.endpoint};
  const auto body = wire::encode(control);
  wire::SessionKey session_key;
  session_key.fill(9);
  const wire::SessionDatagramKeys key(session_key, wire::SessionRole::Caller);  // sealed by the caller, a
  const auto sealed = wire::encode(wire::SessionDatagram{wire::kFlagControl, 77, 1, body}, key);
  ASSERT_TRUE(b.on_relay(kStart, sealed));
  EXPECT_EQ(b.route(), Route::Relay) << "the peer's word that the path died";
  auto order = b.poll_repunch();
  ASSERT_TRUE(order);
  EXPECT_EQ(order->epoch, 1u);
  EXPECT_EQ(order->start, kStart + milliseconds(500));
  if (param.plausible) {
    EXPECT_EQ(b.peer_reported_endpoint(), param.endpoint);
    EXPECT_EQ(b.counters().endpoints_ignored, 0u);
  } else {
    EXPECT_FALSE(b.peer_reported_endpoint().has_value());
    EXPECT_EQ(b.counters().endpoints_ignored, param.endpoint ? 1u : 0u);
  }
  const auto aim = aim_repunch(eim_side(), eim_side(), std::nullopt, b.peer_reported_endpoint(), kAOld, kAOld.address);
  const Endpoint aimed{aim.peer_address, *aim.peer.observed_port};
  EXPECT_EQ(aimed, param.plausible ? *param.endpoint : kAOld);
  EXPECT_EQ(plausible_peer_endpoint(param.endpoint.value_or(Endpoint{})), param.plausible);
}

INSTANTIATE_TEST_SUITE_P(
    Endpoints, RepunchEndpointTest,
    testing::Values(EndpointCase{"new_v4", kANew, true},
                    EndpointCase{"v6", Endpoint::parse("[2001:db8::5]:4000"), true},
                    EndpointCase{"absent", std::nullopt, false},
                    EndpointCase{"unspecified", Endpoint::parse("0.0.0.0:4000"), false},
                    EndpointCase{"port_zero", Endpoint::parse("203.0.113.101:0"), false},
                    EndpointCase{"this_network", Endpoint::parse("0.1.2.3:4000"), false},
                    EndpointCase{"loopback", Endpoint::parse("127.0.0.1:4000"), false},
                    EndpointCase{"multicast", Endpoint::parse("224.0.0.251:5353"), false},
                    EndpointCase{"broadcast", Endpoint::parse("255.255.255.255:4000"), false},
                    EndpointCase{"v6_loopback", Endpoint::parse("[::1]:4000"), false},
                    EndpointCase{"v6_multicast", Endpoint::parse("[ff02::1]:4000"), false}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(SessionChannelEndpointTest, ALateCopyOfAnOlderProposalDoesNotMoveTheAimBack) {
  SessionChannel b(observing(false), kStart);
  wire::SessionKey session_key;
  session_key.fill(9);
  const wire::SessionDatagramKeys key(session_key, wire::SessionRole::Caller);  // sealed by the caller, a
  std::uint64_t sequence = 0;
  auto deliver = [&](std::uint32_t epoch, const Endpoint& at) {
    const auto body = wire::encode(wire::SessionControl{wire::ControlType::Repunch, 0, epoch, 500, at});
    return b.on_relay(kStart, wire::encode(wire::SessionDatagram{wire::kFlagControl, 77, ++sequence, body}, key));
  };
  const Endpoint newer = *Endpoint::parse("203.0.113.101:60001");
  ASSERT_TRUE(deliver(2, newer));
  ASSERT_TRUE(deliver(1, kANew));  // delayed on the relay
  EXPECT_EQ(b.peer_reported_endpoint(), newer);
  EXPECT_EQ(b.counters().peer_endpoint_changes, 1u);
}

}  // namespace
}  // namespace natpunch::punch

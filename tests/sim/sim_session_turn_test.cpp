// The TURN relay as a session route (issue 20 item 3), in virtual time:
// two session::PeerSessionMachines, the rendezvous::Server and a TURN
// server (sim_turn_server.hpp) on the simulated internet.
//
//   SessionTurn.PreferredOverTheRendezvousRelay   relayed data goes through
//       TURN once both candidates are known and the peer was heard there;
//   SessionTurn.AFailedAllocationFallsBackToTheRendezvousRelay  486 ->
//       one warning line naming the server, data through the rendezvous;
//   SessionTurn.UpgradesFromTurnToDirect  a cut direct path -> TURN; the
//       upgrade with backoff moves the stream direct once the path works;
//   SessionTurn.ForeignAndForgedDatagramsAreDropped  another IP (a server
//       that lets it through) and the peer's IP with a forged datagram:
//       nothing reaches the application;
//   SessionTurn.TheNearestOfferedRelayCarriesTheSession  two relays offered
//       by the rendezvous (REST credentials): ranked, the near one used;
//   SessionTurn.WithoutTurnTheRendezvousRelayStaysTheDefault;
//   SessionTurn.AnAllocationOutlivesItsCredentials  REST credentials valid
//       20 s, allocations of 10 s refreshed for 70 s under the username
//       they were made with (coturn-style); the stream stays on TURN;
//   SessionTurn.ExpiredCredentialsFailTheAllocationNamingTheServer;
//   SessionTurnReallocation.*  an allocation lost mid-session -- the link
//       to the server dropped, the server restarted (437, found by a
//       Refresh once the peer went quiet), a refresh refused for minted
//       credentials that expired (401; make-before-break) -- is replaced by
//       a new one (fresh credentials) and the stream goes on through TURN;
//       static credentials that are wrong by then end the route with one
//       line naming the server, and the rendezvous relay carries on;
//   OneSided/SessionTurnOneSided.*  only one peer has a TURN route (the
//       caller or the listener; the other behind a port-preserving or a
//       symmetric NAT): the other sends to the relayed address from its
//       UDP socket, data both ways through TURN, and when the relay goes
//       silent both sides fall back to the rendezvous relay.
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <set>
#include <string>

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

Side prc_side() {
  Side s{"prc", Side::Kind::Nat, {}, {}};
  s.nat.mapping = M::EndpointIndependent;
  s.nat.filtering = F::AddressAndPortDependent;
  s.nat.allocator = nat::PreservingSpec{1024, 65535};
  s.info.mapping = M::EndpointIndependent;
  s.info.filtering = F::AddressAndPortDependent;
  return s;
}

void with_turn(session::SessionConfig& c) { c.turn = SessionWorld::turn_config(); }
void forced_relay_with_turn(session::SessionConfig& c) {
  with_turn(c);
  c.plan.relay_only = true;
}

bool between(const IpAddress& x, const IpAddress& y, const Endpoint& from, const Endpoint& to) {
  return (from.address == x && to.address == y) || (from.address == y && to.address == x);
}

std::set<std::string> texts(const PeerHost& p) {
  std::set<std::string> out;
  for (const auto& r : p.received()) out.insert(std::string(r.begin(), r.end()));
  return out;
}

std::vector<std::string> warnings(const PeerHost& p) {
  std::vector<std::string> out;
  for (const auto& e : p.all<se::Progress>())
    if (e.progress.kind == SessionProgress::Kind::kWarning) out.push_back(e.progress.message);
  return out;
}

const std::string kTurnLabel = "TURN via 203.0.113.30:3478";

// Sends `count` datagrams each way, one every `gap`.
int exchange(SessionWorld& w, int count, Duration gap, const std::string& tag) {
  for (int i = 0; i < count; ++i) {
    w.send(w.a(), bytes(tag + "a" + std::to_string(i)));
    w.send(w.b(), bytes(tag + "b" + std::to_string(i)));
    w.run_for(gap);
  }
  w.run_for(milliseconds(500));
  return count;
}

TEST(SessionTurn, PreferredOverTheRendezvousRelay) {
  SessionWorld w(31);
  auto& turn = w.add_turn_server();
  w.add_pair(prc_side(), prc_side(), forced_relay_with_turn);
  w.run_until_settled(seconds(10));
  ASSERT_TRUE(w.a().open() && w.b().open());
  // Allocation, candidate exchange, channel binding and the first probes:
  // a few round trips.
  w.run_for(seconds(2));
  for (auto* p : {&w.a(), &w.b()}) {
    ASSERT_NE(p->machine().turn_route(), nullptr);
    EXPECT_TRUE(p->machine().turn_route()->usable());
    EXPECT_EQ(p->machine().stats().relay, kTurnLabel);
    EXPECT_EQ(p->machine().stats().route, SessionRoute::kRelay);
  }
  const auto relayed_before = w.server().counters().relay_packets;
  const auto before_a = w.a().machine().stats(), before_b = w.b().machine().stats();
  const int n = exchange(w, 50, milliseconds(20), "");
  const auto sa = w.a().machine().stats(), sb = w.b().machine().stats();
  EXPECT_EQ(w.b().received().size(), static_cast<std::size_t>(n));
  EXPECT_EQ(w.a().received().size(), static_cast<std::size_t>(n));
  EXPECT_EQ(texts(w.b()).size(), static_cast<std::size_t>(n)) << "nothing twice";
  EXPECT_EQ(sa.sent_turn - before_a.sent_turn, static_cast<std::uint64_t>(n)) << "every datagram through TURN";
  EXPECT_EQ(sb.received_turn - before_b.received_turn, static_cast<std::uint64_t>(n));
  EXPECT_EQ(w.server().counters().relay_packets, relayed_before) << "nothing through the rendezvous relay";
  EXPECT_GE(turn.relayed_to_peers, static_cast<std::uint64_t>(2 * n));
  for (auto* p : {&w.a(), &w.b()}) {
    bool said = false;
    for (const auto& e : p->all<se::Progress>())
      said = said || e.progress.message.find("relay: " + kTurnLabel + " carries") != std::string::npos;
    EXPECT_TRUE(said);
    EXPECT_TRUE(warnings(*p).empty());
  }
}

TEST(SessionTurn, AFailedAllocationFallsBackToTheRendezvousRelay) {
  SessionWorld w(37);
  auto& turn = w.add_turn_server();
  turn.refuse_allocations = 486;
  w.add_pair(prc_side(), prc_side(), forced_relay_with_turn);
  w.run_until_settled(seconds(10));
  ASSERT_TRUE(w.a().open() && w.b().open());
  w.run_for(seconds(2));
  const auto relayed_before = w.server().counters().relay_packets;
  const int n = exchange(w, 20, milliseconds(20), "");
  EXPECT_EQ(w.b().received().size(), static_cast<std::size_t>(n));
  EXPECT_EQ(w.a().received().size(), static_cast<std::size_t>(n));
  EXPECT_GT(w.server().counters().relay_packets, relayed_before);
  for (auto* p : {&w.a(), &w.b()}) {
    EXPECT_TRUE(p->machine().turn_route()->failed());
    EXPECT_EQ(p->machine().stats().relay, "") << "the rendezvous relay";
    EXPECT_EQ(p->machine().stats().sent_turn, 0u);
    const auto w_lines = warnings(*p);
    ASSERT_EQ(w_lines.size(), 1u);
    EXPECT_NE(w_lines[0].find("TURN relay failed"), std::string::npos) << w_lines[0];
    EXPECT_NE(w_lines[0].find("486"), std::string::npos) << w_lines[0];
    EXPECT_NE(w_lines[0].find("203.0.113.30"), std::string::npos) << "names the server: " << w_lines[0];
    EXPECT_EQ(w_lines[0].find('\n'), std::string::npos);
  }
}

// As SessionScenario.ARelayedSessionUpgradesToDirectWithBackoff, with TURN
// carrying the relayed part: the session opens relayed (the direct path is
// cut), TURN takes the stream, and the caller's upgrade ~30 s after the
// plan ended (the cut is over by then) moves it direct. Nothing twice,
// nothing lost.
TEST(SessionTurn, UpgradesFromTurnToDirect) {
  SessionWorld w(41);
  w.add_turn_server();
  bool cut = true;
  w.network().filter = [&](TimePoint, const Endpoint& from, const Endpoint& to) {
    return cut && between(w.public_a(), w.public_b(), from, to);
  };
  w.add_pair(prc_side(), prc_side(), with_turn);
  w.run_until_settled(seconds(30));
  ASSERT_TRUE(w.a().open() && w.b().open());
  ASSERT_EQ(w.a().last<se::Established>()->route, SessionRoute::kRelay);
  int sent = 0;
  bool saw_turn = false;
  for (int step = 0; step < 500; ++step) {  // 50 s, a datagram every 100 ms; the cut ends at 15 s
    if (step == 150) cut = false;
    w.send(w.a(), bytes("a" + std::to_string(++sent)));
    w.run_for(milliseconds(100));
    saw_turn = saw_turn || w.a().machine().stats().relay == kTurnLabel;
    if (step < 150) {
      ASSERT_EQ(w.a().machine().stats().route, SessionRoute::kRelay) << "step " << step;
    }
  }
  EXPECT_TRUE(saw_turn) << "the relayed part went through TURN";
  const auto sa = w.a().machine().stats(), sb = w.b().machine().stats();
  EXPECT_EQ(sa.route, SessionRoute::kDirect);
  EXPECT_EQ(sb.route, SessionRoute::kDirect);
  EXPECT_EQ(sa.relay, "") << "no relay while direct";
  EXPECT_EQ(sa.repunches_succeeded, 1u);
  EXPECT_GT(sa.sent_turn, 50u);
  EXPECT_GT(sb.received_direct, 50u);
  const auto got = texts(w.b());
  EXPECT_EQ(got.size(), w.b().received().size()) << "nothing twice";
  EXPECT_EQ(got.size(), static_cast<std::size_t>(sent)) << "nothing lost";
}

// What the allocation hands the session is authenticated like any session
// datagram: from another IP (a TURN server that let it through) the
// PeerRelay drops it; from the peer's IP (spoofed) the session's MAC check
// drops it. Neither reaches the application nor counts as hearing the peer.
TEST(SessionTurn, ForeignAndForgedDatagramsAreDropped) {
  SessionWorld w(43);
  auto& turn = w.add_turn_server();
  turn.permit_all = true;
  w.add_pair(prc_side(), prc_side(), forced_relay_with_turn);
  w.run_until_settled(seconds(10));
  ASSERT_TRUE(w.a().open() && w.b().open());
  w.run_for(seconds(2));
  ASSERT_TRUE(w.a().machine().turn_route()->usable());
  const auto relayed_a = turn.relayed_for(w.public_a());
  const auto relayed_b = turn.relayed_for(w.public_b());
  ASSERT_TRUE(relayed_a && relayed_b);
  // A well-formed session datagram of this session id, sealed under another key.
  wire::SessionKey wrong{};
  wrong.fill(7);
  const wire::SessionDatagramKeys forged_keys(wrong, wire::SessionRole::Callee);
  const auto forged = wire::encode(
      wire::SessionDatagram{0, w.a().machine().info().session_id, 1000, bytes("forged")}, forged_keys);
  const auto before = w.a().machine().stats();
  const auto foreign_before = w.a().machine().turn_route()->relay()->counters().foreign_dropped;
  const Endpoint stranger{IpAddress::v4({198, 51, 100, 66}), 5000};
  turn.arrive_at(w.now() + milliseconds(1), stranger, *relayed_a, forged);
  turn.arrive_at(w.now() + milliseconds(2), *relayed_b, *relayed_a, forged);  // the peer's relay, spoofed
  w.network().wake(w.turn_host());
  w.run_for(seconds(1));
  const auto after = w.a().machine().stats();
  EXPECT_TRUE(w.a().received().empty());
  EXPECT_EQ(w.a().machine().turn_route()->relay()->counters().foreign_dropped, foreign_before + 1);
  EXPECT_EQ(after.rejected, before.rejected + 1) << "the spoofed one failed the MAC check";
  EXPECT_EQ(after.received_turn, before.received_turn);
  // The real peer still gets through.
  w.send(w.b(), bytes("real"));
  w.run_for(milliseconds(200));
  ASSERT_EQ(w.a().received().size(), 1u);
  EXPECT_EQ(std::string(w.a().received()[0].begin(), w.a().received()[0].end()), "real");
}

// The rendezvous offers two relays with TURN REST credentials, the far
// one (150 ms away) first: both peers rank them by a Binding round trip
// and relay through the near one.
TEST(SessionTurn, TheNearestOfferedRelayCarriesTheSession) {
  const std::string secret = "lab-secret";
  const IpAddress far = IpAddress::v4({203, 0, 113, 31});
  SessionWorld w(53, milliseconds(200), [&](rendezvous::ServerConfig& c) {
    for (const auto& address : {far, SessionWorld::kTurnAddress}) {
      rendezvous::TurnRelayConfig relay;
      relay.address = Endpoint{address, testing::SimTurnServer::kPort};
      relay.transports = rendezvous::kTurnUdp;
      relay.secret = secret;
      c.turn.relays.push_back(relay);
    }
    c.turn.unix_at_start = 1'700'000'000;
    c.turn.start = kTimeZero;
  });
  auto& far_server = w.add_turn_server(far, milliseconds(150));
  auto& near_server = w.add_turn_server(SessionWorld::kTurnAddress, milliseconds(5));
  far_server.rest_secret = near_server.rest_secret = secret;
  w.add_pair(prc_side(), prc_side(), [](session::SessionConfig& c) { c.plan.relay_only = true; });
  w.run_until_settled(seconds(10));
  ASSERT_TRUE(w.a().open() && w.b().open());
  w.run_for(seconds(3));
  for (auto* p : {&w.a(), &w.b()}) {
    ASSERT_NE(p->machine().turn_route(), nullptr) << "offered by the rendezvous";
    EXPECT_EQ(p->machine().stats().relay, kTurnLabel);
    bool ranked = false;
    for (const auto& e : p->all<se::Progress>())
      ranked = ranked || e.progress.message.find("the nearest of 2 TURN servers is 203.0.113.30:3478") !=
                             std::string::npos;
    EXPECT_TRUE(ranked);
  }
  const int n = exchange(w, 20, milliseconds(20), "");
  EXPECT_EQ(w.b().received().size(), static_cast<std::size_t>(n));
  EXPECT_GE(near_server.relayed_to_peers, static_cast<std::uint64_t>(2 * n));
  EXPECT_EQ(far_server.relayed_to_peers, 0u);
}

// The rendezvous offers one relay with TURN REST credentials (`ttl`), the
// relay's UNIX clock `skew_s` ahead of the rendezvous's.
std::unique_ptr<SessionWorld> offered_relay_world(std::uint64_t seed, std::chrono::seconds ttl, std::int64_t skew_s,
                                                  testing::SimTurnServer*& relay) {
  const std::string secret = "lab-secret";
  constexpr std::int64_t kUnix = 1'700'000'000;
  auto w = std::make_unique<SessionWorld>(seed, milliseconds(200), [&](rendezvous::ServerConfig& c) {
    rendezvous::TurnRelayConfig r;
    r.address = Endpoint{SessionWorld::kTurnAddress, testing::SimTurnServer::kPort};
    r.transports = rendezvous::kTurnUdp;
    r.secret = secret;
    c.turn.relays.push_back(r);
    c.turn.unix_at_start = kUnix;
    c.turn.start = kTimeZero;
    c.turn.credential_lifetime = ttl;
    c.turn.reoffer_interval = ttl / 4;
  });
  relay = &w->add_turn_server();
  relay->rest_secret = secret;
  relay->unix_at_start = kUnix + skew_s;
  return w;
}

TEST(SessionTurn, AnAllocationOutlivesItsCredentials) {
  testing::SimTurnServer* relay = nullptr;
  const auto world = offered_relay_world(59, seconds(20), 0, relay);
  auto& w = *world;
  relay->granted_lifetime = 10;
  w.add_pair(prc_side(), prc_side(), [](session::SessionConfig& c) { c.plan.relay_only = true; });
  w.run_until_settled(seconds(10));
  ASSERT_TRUE(w.a().open() && w.b().open());
  w.run_for(seconds(2));
  int n = 0;
  for (int round = 0; round < 7; ++round) {  // 70 s: past three TTLs
    n += exchange(w, 5, milliseconds(20), "r" + std::to_string(round));
    w.run_for(seconds(10) - milliseconds(600));
    for (auto* p : {&w.a(), &w.b()}) EXPECT_EQ(p->machine().stats().relay, kTurnLabel) << "round " << round;
  }
  EXPECT_EQ(w.a().received().size(), static_cast<std::size_t>(n));
  EXPECT_EQ(w.b().received().size(), static_cast<std::size_t>(n));
  EXPECT_EQ(texts(w.a()).size(), static_cast<std::size_t>(n)) << "nothing twice";
  EXPECT_EQ(texts(w.b()).size(), static_cast<std::size_t>(n)) << "nothing twice";
  EXPECT_GE(relay->refreshes_past_expiry, 2u * 8) << "both allocations refreshed every ~5 s past their 20 s";
  for (auto* p : {&w.a(), &w.b()}) EXPECT_TRUE(warnings(*p).empty());
}

// Credentials the relay takes for expired (here: its clock an hour ahead):
// the allocation is refused, one warning names the server, the rendezvous
// relay carries the session.
TEST(SessionTurn, ExpiredCredentialsFailTheAllocationNamingTheServer) {
  testing::SimTurnServer* relay = nullptr;
  const auto world = offered_relay_world(73, seconds(600), 3600, relay);
  auto& w = *world;
  w.add_pair(prc_side(), prc_side(), [](session::SessionConfig& c) { c.plan.relay_only = true; });
  w.run_until_settled(seconds(10));
  ASSERT_TRUE(w.a().open() && w.b().open());
  w.run_for(seconds(2));
  const int n = exchange(w, 10, milliseconds(20), "");
  EXPECT_EQ(w.a().received().size(), static_cast<std::size_t>(n));
  EXPECT_EQ(w.b().received().size(), static_cast<std::size_t>(n));
  for (auto* p : {&w.a(), &w.b()}) {
    EXPECT_EQ(p->machine().stats().relay, "");
    const auto lines = warnings(*p);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("401"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("203.0.113.30"), std::string::npos) << lines[0];
  }
  EXPECT_EQ(relay->relayed_to_peers, 0u);
}

TEST(SessionTurn, WithoutTurnTheRendezvousRelayStaysTheDefault) {
  SessionWorld w(47);
  auto& turn = w.add_turn_server();
  w.add_pair(prc_side(), prc_side(), [](session::SessionConfig& c) { c.plan.relay_only = true; });
  w.run_until_settled(seconds(10));
  ASSERT_TRUE(w.a().open() && w.b().open());
  const int n = exchange(w, 10, milliseconds(20), "");
  EXPECT_EQ(w.b().received().size(), static_cast<std::size_t>(n));
  for (auto* p : {&w.a(), &w.b()}) {
    EXPECT_EQ(p->machine().turn_route(), nullptr);
    EXPECT_EQ(p->machine().stats().relay, "");
  }
  EXPECT_EQ(turn.relayed_to_peers, 0u);
}

// --- an allocation lost mid-session: a new one (issue 20)

std::size_t said(const PeerHost& p, const std::string& text) {
  std::size_t n = 0;
  for (const auto& e : p.all<se::Progress>()) n += e.progress.message.find(text) != std::string::npos ? 1 : 0;
  return n;
}

// Sends one datagram each way every `gap`, `count` times; returns how many
// of them arrived at a and at b (texts tagged `tag`).
std::pair<int, int> exchange_counted(SessionWorld& w, int count, Duration gap, const std::string& tag) {
  const auto arrived = [&](const PeerHost& p) {
    int n = 0;
    for (const auto& text : texts(p)) n += text.rfind(tag, 0) == 0 ? 1 : 0;
    return n;
  };
  exchange(w, count, gap, tag);
  return {arrived(w.a()), arrived(w.b())};
}

void open_on_turn(SessionWorld& w, const std::function<void(session::SessionConfig&)>& tweak) {
  w.add_pair(prc_side(), prc_side(), tweak);
  w.run_until_settled(seconds(10));
  ASSERT_TRUE(w.a().open() && w.b().open());
  w.run_for(seconds(2));
  for (auto* p : {&w.a(), &w.b()}) ASSERT_TRUE(p->machine().turn_route() && p->machine().turn_route()->usable());
}

// a's TCP/TLS link to the server drops (the server deletes its allocation
// with it): a new allocation on a second link, the peer told the new
// relayed address, and the stream goes on through TURN.
TEST(SessionTurnReallocation, ADroppedLinkMeansANewAllocationAndTheStreamStaysOnTurn) {
  SessionWorld w(83);
  auto& turn = w.add_turn_server();
  open_on_turn(w, forced_relay_with_turn);
  const auto before = exchange_counted(w, 10, milliseconds(20), "before");
  EXPECT_EQ(before, std::make_pair(10, 10));
  turn.drop_allocations_of(w.public_a());
  w.act(w.a(), [&](session::PeerSessionMachine& m) { m.on_turn_connection_closed(w.now(), session::TurnRoute::kSocket); });
  // Through the switch: a's data goes over the rendezvous relay at once;
  // b's first may still go to a's old relayed address.
  const auto during = exchange_counted(w, 30, milliseconds(100), "during");
  EXPECT_EQ(during.second, 30) << "a -> b: nothing lost";
  EXPECT_GE(during.first, 28) << "b -> a: at most what left before b heard of the new allocation";
  const auto relayed_before = w.server().counters().relay_packets;
  const auto sa = w.a().machine().stats(), sb = w.b().machine().stats();
  const auto after = exchange_counted(w, 20, milliseconds(20), "after");
  EXPECT_EQ(after, std::make_pair(20, 20));
  EXPECT_EQ(w.a().machine().stats().sent_turn - sa.sent_turn, 20u) << "through the new allocation";
  EXPECT_EQ(w.b().machine().stats().sent_turn - sb.sent_turn, 20u);
  EXPECT_EQ(w.server().counters().relay_packets, relayed_before) << "not through the rendezvous relay any more";
  EXPECT_EQ(turn.allocations_made(), 3u);
  const auto& route = *w.a().machine().turn_route();
  EXPECT_EQ(route.counters().replacements, 1u);
  EXPECT_EQ(w.a().machine().stats().relay, kTurnLabel);
  EXPECT_EQ(said(w.a(), "carries the relayed traffic"), 2u) << "said again for the new allocation";
  const auto lines = warnings(w.a());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("TURN allocation lost"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("203.0.113.30"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[0].find('\n'), std::string::npos);
  EXPECT_TRUE(warnings(w.b()).empty());
  EXPECT_EQ(texts(w.a()).size(), w.a().received().size()) << "nothing twice";
}

// The TURN server restarts: every allocation is gone, silently (over UDP
// nothing tells the client). The peers send and hear nothing back through
// TURN; a Refresh kLivenessProbe later gets 437; each makes a new
// allocation and the stream is back on TURN.
TEST(SessionTurnReallocation, ARestartedServerIsFoundByARefreshAndNewAllocationsCarryTheStream) {
  SessionWorld w(89);
  auto& turn = w.add_turn_server();
  open_on_turn(w, forced_relay_with_turn);
  EXPECT_EQ(exchange_counted(w, 10, milliseconds(20), "before"), std::make_pair(10, 10));
  turn.restart();
  const auto during = exchange_counted(w, 100, milliseconds(100), "during");  // 10 s
  // Lost: what went into the forgotten allocations until the 437 (~3 s),
  // and the round trips of the new allocations and their announcements.
  EXPECT_GE(during.first, 55) << "b -> a";
  EXPECT_GE(during.second, 55) << "a -> b";
  const auto sa = w.a().machine().stats(), sb = w.b().machine().stats();
  EXPECT_EQ(exchange_counted(w, 20, milliseconds(20), "after"), std::make_pair(20, 20));
  EXPECT_EQ(w.a().machine().stats().sent_turn - sa.sent_turn, 20u) << "through the new allocation";
  EXPECT_EQ(w.b().machine().stats().sent_turn - sb.sent_turn, 20u);
  for (auto* p : {&w.a(), &w.b()}) {
    const auto& route = *p->machine().turn_route();
    EXPECT_EQ(route.counters().replacements, 1u);
    EXPECT_GE(route.counters().liveness_refreshes, 1u);
    EXPECT_EQ(p->machine().stats().relay, kTurnLabel);
    const auto lines = warnings(*p);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("437"), std::string::npos) << lines[0];
  }
  std::cout << "restart: arrived during 10 s: a " << during.first << "/100, b " << during.second << "/100\n";
}

// 70 s of traffic over a relay whose allocations last 10 s and whose
// credentials expire after 20 s, refused on Refresh from then on: each
// time a new allocation with fresh credentials takes over before the old
// one ends, nothing is lost and the stream never leaves TURN.
void expect_fresh_allocations_and_nothing_lost(SessionWorld& w, const testing::SimTurnServer& turn) {
  int n = 0;
  for (int round = 0; round < 7; ++round) {  // 70 s: past three TTLs
    n += exchange(w, 5, milliseconds(20), "r" + std::to_string(round));
    w.run_for(seconds(10) - milliseconds(600));
    for (auto* p : {&w.a(), &w.b()}) EXPECT_EQ(p->machine().stats().relay, kTurnLabel) << "round " << round;
  }
  EXPECT_EQ(w.a().received().size(), static_cast<std::size_t>(n)) << "make-before-break: nothing lost";
  EXPECT_EQ(w.b().received().size(), static_cast<std::size_t>(n));
  EXPECT_EQ(texts(w.a()).size(), static_cast<std::size_t>(n)) << "nothing twice";
  EXPECT_GE(turn.refreshes_refused, 4u) << "both sides, at least twice each in 70 s";
  for (auto* p : {&w.a(), &w.b()}) {
    const auto& route = *p->machine().turn_route();
    EXPECT_GE(route.counters().replacements, 2u);
    EXPECT_EQ(route.counters().allocations, route.counters().replacements + 1);
    for (const auto& line : warnings(*p)) {
      EXPECT_NE(line.find("TURN allocation expiring"), std::string::npos) << line;
      EXPECT_NE(line.find("401"), std::string::npos) << line;
    }
  }
}

// --turn with the server's secret: the session mints credentials (valid
// 20 s) for each allocation.
TEST(SessionTurnReallocation, ARefreshRefusedForExpiredMintedCredentialsMeansFreshOnesAndNothingLost) {
  const std::string secret = "lab-secret";
  constexpr std::int64_t kUnix = 1'700'000'000;
  SessionWorld w(97);
  auto& turn = w.add_turn_server();
  turn.rest_secret = secret;
  turn.unix_at_start = kUnix;
  turn.granted_lifetime = 10;
  turn.recheck_expiry_on_refresh = true;
  open_on_turn(w, [&](session::SessionConfig& c) {
    forced_relay_with_turn(c);
    c.turn_secret = session::SessionConfig::TurnSecret{secret, seconds(20), kUnix, kTimeZero};
  });
  expect_fresh_allocations_and_nothing_lost(w, turn);
}

// The relay the rendezvous offers, its credentials valid 20 s: each new
// allocation takes the rendezvous's latest offer.
TEST(SessionTurnReallocation, ARefreshRefusedForExpiredOfferedCredentialsMeansTheLatestOfferAndNothingLost) {
  testing::SimTurnServer* relay = nullptr;
  const auto world = offered_relay_world(103, seconds(20), 0, relay);
  relay->granted_lifetime = 10;
  relay->recheck_expiry_on_refresh = true;
  open_on_turn(*world, [](session::SessionConfig& c) { c.plan.relay_only = true; });
  expect_fresh_allocations_and_nothing_lost(*world, *relay);
}

// Static credentials that the server no longer accepts: the new allocation
// after a dropped link is refused, one line names the server and the 401,
// and the session goes on without a TURN route of its own (no hang).
TEST(SessionTurnReallocation, WrongStaticCredentialsEndTheRouteWithOneLineAndTheStreamGoesOn) {
  SessionWorld w(101);
  auto& turn = w.add_turn_server();
  open_on_turn(w, forced_relay_with_turn);
  turn.password_for_new_allocations = "changed";
  turn.drop_allocations_of(w.public_a());
  w.act(w.a(), [&](session::PeerSessionMachine& m) { m.on_turn_connection_closed(w.now(), session::TurnRoute::kSocket); });
  w.run_for(seconds(3));
  const auto& route = *w.a().machine().turn_route();
  EXPECT_TRUE(route.failed());
  const auto lines = warnings(w.a());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("TURN allocation lost"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("TURN relay failed"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("401"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("203.0.113.30"), std::string::npos) << lines[1];
  EXPECT_NE(w.a().machine().stats().relay, kTurnLabel);
  EXPECT_EQ(exchange_counted(w, 20, milliseconds(50), "after"), std::make_pair(20, 20));
}

Side sym_side() {
  Side s{"sym", Side::Kind::Nat, {}, {}};
  s.nat.mapping = M::AddressAndPortDependent;
  s.nat.filtering = F::AddressAndPortDependent;
  s.nat.allocator = nat::RandomFullySpec{};
  s.info.mapping = M::AddressAndPortDependent;
  s.info.filtering = F::AddressAndPortDependent;
  return s;
}

// One side allocates (the caller or the listener); the other has no TURN
// route of its own, its NAT port-preserving or symmetric (then the port it
// reaches the relay from is not the one the rendezvous saw: the channel
// goes where its authentic datagrams come from).
struct OneSidedRow {
  const char* name;
  bool caller_allocates;
  Side (*without_turn)();
};

class OneSided : public ::testing::TestWithParam<OneSidedRow> {
 protected:
  // The pair, opened and settled: `alloc` has the TURN route, `other` not.
  void open(SessionWorld& w) {
    const auto row = GetParam();
    auto tweak = [row](session::SessionConfig& c) {
      c.plan.relay_only = true;
      if (c.caller == row.caller_allocates) c.turn = SessionWorld::turn_config();
    };
    if (row.caller_allocates)
      w.add_pair(prc_side(), row.without_turn(), tweak);
    else
      w.add_pair(row.without_turn(), prc_side(), tweak);
    w.run_until_settled(seconds(10));
    ASSERT_TRUE(w.a().open() && w.b().open());
    w.run_for(seconds(3));
  }
  PeerHost& alloc(SessionWorld& w) { return GetParam().caller_allocates ? w.a() : w.b(); }
  PeerHost& other(SessionWorld& w) { return GetParam().caller_allocates ? w.b() : w.a(); }
};

TEST_P(OneSided, TheOtherSideSendsToTheRelayedAddressFromItsUdpSocket) {
  SessionWorld w(61);
  auto& turn = w.add_turn_server();
  open(w);
  auto& al = alloc(w);
  auto& ot = other(w);
  ASSERT_NE(al.machine().turn_route(), nullptr);
  EXPECT_EQ(ot.machine().turn_route(), nullptr) << "no TURN of its own";
  ASSERT_TRUE(al.machine().turn_route()->usable());
  EXPECT_TRUE(al.machine().turn_route()->one_sided());
  ASSERT_NE(ot.machine().peer_turn_path(), nullptr);
  EXPECT_TRUE(ot.machine().peer_turn_path()->usable());
  const auto relayed = turn.relayed_for(GetParam().caller_allocates ? w.public_a() : w.public_b());
  ASSERT_TRUE(relayed);
  EXPECT_EQ(al.machine().stats().relay, kTurnLabel + " (one-sided)");
  EXPECT_EQ(ot.machine().stats().relay, "TURN via the peer's relay " + relayed->to_string() + " (one-sided)");
  for (auto* p : {&al, &ot}) {
    const auto s = p->machine().stats();
    EXPECT_EQ(s.route, SessionRoute::kRelay);
    EXPECT_EQ(s.candidate_type, "relay");
    EXPECT_TRUE(warnings(*p).empty());
  }
  const auto relayed_before = w.server().counters().relay_packets;
  const auto before_al = al.machine().stats(), before_ot = ot.machine().stats();
  const int n = exchange(w, 50, milliseconds(20), "");
  const auto s_al = al.machine().stats(), s_ot = ot.machine().stats();
  EXPECT_EQ(w.a().received().size(), static_cast<std::size_t>(n));
  EXPECT_EQ(w.b().received().size(), static_cast<std::size_t>(n));
  EXPECT_EQ(texts(w.a()).size(), static_cast<std::size_t>(n)) << "nothing twice";
  EXPECT_EQ(texts(w.b()).size(), static_cast<std::size_t>(n)) << "nothing twice";
  EXPECT_EQ(s_al.sent_turn - before_al.sent_turn, static_cast<std::uint64_t>(n)) << "through the allocation";
  EXPECT_EQ(s_ot.sent_turn - before_ot.sent_turn, static_cast<std::uint64_t>(n)) << "to the relayed address";
  EXPECT_GE(s_ot.received_turn - before_ot.received_turn, static_cast<std::uint64_t>(n));
  EXPECT_EQ(w.server().counters().relay_packets, relayed_before) << "nothing through the rendezvous relay";
  EXPECT_GE(turn.relayed_to_peers, static_cast<std::uint64_t>(n));
  EXPECT_GE(turn.relayed_to_clients, static_cast<std::uint64_t>(n));
  // Idle for a minute: the other side's probes keep its NAT's mapping and
  // both views alive; the stream goes on through TURN.
  w.run_for(seconds(60));
  EXPECT_EQ(al.machine().stats().relay, kTurnLabel + " (one-sided)");
  EXPECT_EQ(ot.machine().stats().relay, "TURN via the peer's relay " + relayed->to_string() + " (one-sided)");
  exchange(w, 5, milliseconds(20), "late");
  EXPECT_EQ(w.a().received().size(), static_cast<std::size_t>(n + 5));
  EXPECT_EQ(w.b().received().size(), static_cast<std::size_t>(n + 5));
  for (auto* p : {&al, &ot}) EXPECT_TRUE(warnings(*p).empty());
}

// The TURN server stops relaying mid-session: both sides notice the
// silence (the other side's probes go unanswered; the allocating side
// hears none), say so in one warning line each, and the stream goes on
// through the rendezvous relay: what is sent after the fallback arrives.
TEST_P(OneSided, FallsBackToTheRendezvousRelayWhenTheTurnPathFails) {
  SessionWorld w(67);
  auto& turn = w.add_turn_server();
  open(w);
  auto& al = alloc(w);
  auto& ot = other(w);
  ASSERT_TRUE(al.machine().turn_route()->usable());
  ASSERT_TRUE(ot.machine().peer_turn_path() && ot.machine().peer_turn_path()->usable());
  turn.silent = true;
  w.run_for(seconds(12));
  for (auto* p : {&al, &ot}) {
    EXPECT_EQ(p->machine().stats().relay, "") << "back on the rendezvous relay";
    const auto lines = warnings(*p);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("relaying through the rendezvous server"), std::string::npos) << lines[0];
    EXPECT_EQ(lines[0].find('\n'), std::string::npos);
  }
  const auto relayed_before = w.server().counters().relay_packets;
  const int n = exchange(w, 20, milliseconds(20), "after");
  EXPECT_EQ(w.a().received().size(), static_cast<std::size_t>(n));
  EXPECT_EQ(w.b().received().size(), static_cast<std::size_t>(n));
  EXPECT_GE(w.server().counters().relay_packets, relayed_before + 2 * n);
}

// Our allocation refused: the session has no TURN at all (the peer none
// either), the rendezvous relay carries it as before.
TEST_P(OneSided, ARefusedAllocationLeavesTheRendezvousRelay) {
  SessionWorld w(71);
  auto& turn = w.add_turn_server();
  turn.refuse_allocations = 486;
  open(w);
  const int n = exchange(w, 10, milliseconds(20), "");
  EXPECT_EQ(w.a().received().size(), static_cast<std::size_t>(n));
  EXPECT_EQ(w.b().received().size(), static_cast<std::size_t>(n));
  EXPECT_EQ(other(w).machine().peer_turn_path(), nullptr) << "no relayed address was offered";
  for (auto* p : {&w.a(), &w.b()}) EXPECT_EQ(p->machine().stats().relay, "");
  EXPECT_EQ(turn.relayed_to_peers, 0u);
}

INSTANTIATE_TEST_SUITE_P(SessionTurnOneSided, OneSided,
                         ::testing::Values(OneSidedRow{"CallerAllocatesListenerPrc", true, prc_side},
                                           OneSidedRow{"ListenerAllocatesCallerPrc", false, prc_side},
                                           OneSidedRow{"CallerAllocatesListenerSymmetric", true, sym_side},
                                           OneSidedRow{"ListenerAllocatesCallerSymmetric", false, sym_side}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace natpunch::sim

// The pieces of the session's TURN route (issue 20 item 3) one by one:
// the RELAY_CANDIDATE session control on the wire, the channel that seals
// ours and hands out the peer's, the choice among the relays the
// rendezvous offered, and session::TurnRoute's announcements against the
// scripted TURN server. Whole sessions: tests/sim/sim_session_turn_test.cpp.
#include "session/turn_route.hpp"
#include "session/peer_turn_path.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include "punch/session_channel.hpp"
#include "turn_fake_server.hpp"
#include "wire/session_datagram.hpp"

namespace natpunch::session {
namespace {

using wire::ControlType;
using wire::SessionControl;
using wire::SessionControlError;

const Endpoint kV4 = *Endpoint::parse("203.0.113.10:50000");
const Endpoint kV6 = *Endpoint::parse("[2001:db8::10]:50000");

TEST(RelayCandidateControl, RoundTripsAndEachDefectHasItsOwnError) {
  for (const auto& e : {kV4, kV6}) {
    const SessionControl c{ControlType::RelayCandidate, 0, 0, 0, e};
    const auto decoded = wire::decode_session_control(wire::encode(c));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, c);
  }
  EXPECT_EQ(wire::encode(SessionControl{ControlType::RelayCandidate, 0, 0, 0, kV4}),
            (std::vector<std::uint8_t>{32, 4, 203, 0, 113, 10, 0xc3, 0x50}));
  struct Case {
    std::vector<std::uint8_t> bytes;
    SessionControlError error;
  } cases[] = {
      {{32}, SessionControlError::BadLength},  // the endpoint is required
      {{32, 4, 203, 0, 113, 10, 0xc3}, SessionControlError::BadLength},
      {{32, 5, 203, 0, 113, 10, 0xc3, 0x50}, SessionControlError::BadEndpoint},
      {{32, 6, 203, 0, 113, 10, 0xc3, 0x50}, SessionControlError::BadEndpoint},
      {{33, 4, 203, 0, 113, 10, 0xc3, 0x50}, SessionControlError::UnknownType},
  };
  for (const auto& c : cases) {
    const auto r = wire::decode_session_control(c.bytes);
    ASSERT_FALSE(r.ok()) << testing::PrintToString(c.bytes);
    EXPECT_EQ(r.error(), c.error) << testing::PrintToString(c.bytes);
  }
}

punch::SessionChannel channel(bool caller) {
  punch::SessionChannelConfig c;
  c.session_id = 77;
  c.key.fill(3);
  c.caller = caller;
  return punch::SessionChannel(c, kTimeZero);
}

TEST(RelayCandidateControl, TheChannelSealsOursAndHandsOutEachPlausibleCopyOfThePeers) {
  ASSERT_GE(sodium_init(), 0);
  auto a = channel(true);
  auto b = channel(false);
  EXPECT_FALSE(b.poll_peer_relay_candidate());
  for (int copy = 0; copy < 2; ++copy) {
    EXPECT_TRUE(b.on_relay(kTimeZero, a.seal_relay_candidate(kV4)));
    EXPECT_EQ(b.poll_peer_relay_candidate(), kV4) << "a repeat says the peer has not heard us yet";
    EXPECT_FALSE(b.poll_peer_relay_candidate());
  }
  // Not a place a peer can be: ignored and counted.
  EXPECT_TRUE(b.on_relay(kTimeZero, a.seal_relay_candidate(*Endpoint::parse("127.0.0.1:5000"))));
  EXPECT_FALSE(b.poll_peer_relay_candidate());
  EXPECT_EQ(b.counters().endpoints_ignored, 1u);
  // Sealed in the caller's direction: it never opens at its sender.
  EXPECT_FALSE(a.on_relay(kTimeZero, a.seal_relay_candidate(kV4)));
  EXPECT_FALSE(a.poll_peer_relay_candidate());
  EXPECT_EQ(b.counters().datagrams_received, 0u) << "control, not data";
}

rendezvous::TurnServer offered(const std::string& address, std::uint8_t transports, std::uint16_t tls_port = 0) {
  rendezvous::TurnServer s;
  s.address = *Endpoint::parse(address);
  s.transports = transports;
  s.tls_port = tls_port;
  s.username = "1700000000:peer";
  s.password = "pw-" + address;
  return s;
}

TEST(TurnRouteChoice, TheOfferedServersThatSpeakTheTransport) {
  std::vector<rendezvous::TurnServer> servers = {
      offered("203.0.113.10:3478", rendezvous::kTurnUdp),
      offered("203.0.113.20:3478", rendezvous::kTurnTcp | rendezvous::kTurnTls, 443),
  };
  auto udp = offered_turn_servers(servers, turn::Transport::kUdp);
  ASSERT_EQ(udp.size(), 1u);
  EXPECT_EQ(udp[0].server, *Endpoint::parse("203.0.113.10:3478"));
  EXPECT_EQ(udp[0].credentials.password, "pw-203.0.113.10:3478");
  auto tls = offered_turn_servers(servers, turn::Transport::kTls);
  ASSERT_EQ(tls.size(), 1u);
  EXPECT_EQ(tls[0].server, *Endpoint::parse("203.0.113.20:443")) << "TLS on its own port";
  EXPECT_EQ(tls[0].transport, turn::Transport::kTls);
  EXPECT_EQ(tls[0].credentials.username, "1700000000:peer");
  EXPECT_TRUE(offered_turn_servers({servers[0]}, turn::Transport::kTcp).empty());
  EXPECT_TRUE(offered_turn_servers({}, turn::Transport::kUdp).empty());
  // Both speak UDP: both, in the order offered (the route ranks them).
  servers.push_back(offered("203.0.113.30:3478", rendezvous::kTurnUdp | rendezvous::kTurnTcp));
  const auto both = offered_turn_servers(servers, turn::Transport::kUdp);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[1].server, *Endpoint::parse("203.0.113.30:3478"));
}

// The route against the scripted server: it answers every request, and
// ChannelBind makes the channel (nothing is relayed here).
struct RouteUnderTest {
  turn::fake::FakeTurnServer server;
  TimePoint now = kTimeZero;
  TurnRoute route;

  explicit RouteUnderTest(TurnCredentialSource credentials = {}) : route({config()}, 5, now, std::move(credentials)) {}

  static turn::ClientConfig config() {
    turn::ClientConfig c;
    c.server = turn::fake::kServer;
    c.credentials = {"alice", "secret"};
    return c;
  }
  void pump() {
    while (auto t = route.poll_transmit(now)) {
      EXPECT_TRUE(TurnRoute::is_link(t->socket));
      const auto reply = server.answer(t->bytes.to_vector());
      if (!reply.empty()) route.on_datagram(now, t->socket, turn::fake::kServer, reply);
    }
  }
  // Announcements due over `d`, each with its time since `from`.
  std::vector<std::pair<Duration, TurnRoute::Announcement>> announcements(Duration d, TimePoint from) {
    std::vector<std::pair<Duration, TurnRoute::Announcement>> out;
    const TimePoint until = now + d;
    for (;;) {
      pump();
      while (auto a = route.poll_announcement(now)) out.emplace_back(now - from, *a);
      auto next = route.next_deadline(true);
      if (!next || *next > until) break;
      now = std::max(now, *next);
      route.on_timer(now);
    }
    now = until;
    return out;
  }
};

TEST(TurnRouteAnnouncements, RepeatUntilThePeerIsHeardThroughTurnAndAreBounded) {
  RouteUnderTest r;
  const auto start = r.now;
  auto got = r.announcements(seconds(60), start);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(TurnRoute::kMaxAnnouncements)) << "bounded";
  EXPECT_EQ(got[0].second.relayed, turn::fake::kRelayed);
  EXPECT_FALSE(got[0].second.through_turn) << "no channel yet: over the rendezvous only";
  EXPECT_LT(got[0].first, milliseconds(10)) << "at once";
  EXPECT_EQ(got[1].first - got[0].first, seconds(1));
  EXPECT_EQ(got[2].first - got[1].first, seconds(2));
  EXPECT_EQ(got[3].first - got[2].first, seconds(4));
  EXPECT_EQ(got[4].first - got[3].first, seconds(4)) << "at most 4 s apart";
  EXPECT_FALSE(r.route.usable());
}

TEST(TurnRouteAnnouncements, TheBoundChannelProbesThroughTurnAndHearingThePeerEndsThem) {
  RouteUnderTest r;
  r.announcements(milliseconds(100), r.now);
  r.route.set_peer_candidate(r.now, turn::fake::kPeer);
  auto got = r.announcements(milliseconds(100), r.now);
  ASSERT_EQ(got.size(), 1u) << "the channel bound: a probe at once";
  EXPECT_TRUE(got[0].second.through_turn);
  EXPECT_FALSE(r.route.usable()) << "bound, but the peer not heard yet";
  r.route.on_heard(r.now, turn::fake::kPeer);
  EXPECT_TRUE(r.route.usable());
  got = r.announcements(seconds(30), r.now);
  ASSERT_EQ(got.size(), 1u) << "one more probe tells the peer we hear it, then silence";
  EXPECT_TRUE(got[0].second.through_turn);
  // The peer repeats its candidate (it has not heard us): answered once per 500 ms.
  r.route.set_peer_candidate(r.now, turn::fake::kPeer);
  r.route.set_peer_candidate(r.now, turn::fake::kPeer);
  got = r.announcements(milliseconds(100), r.now);
  EXPECT_EQ(got.size(), 1u);
}

// One-sided: the peer has no allocation and reaches ours from its UDP
// socket. Its addresses are permitted before anything arrives; its echo of
// our candidate marks the route one-sided; the source of its authentic
// datagrams is where the channel goes; silent for kOneSidedSilence the
// route is not usable (one line), and the next datagram revives it.
TEST(TurnRouteOneSided, PermitsThePeerAnswersWhereItIsHeardAndNoticesSilence) {
  RouteUnderTest r;
  const IpAddress peer_ip = turn::fake::kPeer.address;
  r.route.permit_peer(r.now, peer_ip);
  r.announcements(milliseconds(100), r.now);
  bool permitted = false;
  for (const auto& seen : r.server.seen)
    permitted = permitted || (seen.method == stun::Method::CreatePermission && seen.peer &&
                              seen.peer->address == peer_ip);
  EXPECT_TRUE(permitted) << "CreatePermission for the peer's address before anything arrives";
  EXPECT_FALSE(r.route.usable());
  // The peer's probe echoes our own relayed address; its NAT mapped it to another port.
  r.route.set_peer_candidate(r.now, turn::fake::kRelayed);
  EXPECT_TRUE(r.route.one_sided());
  const Endpoint source{peer_ip, 40001};
  r.route.on_heard(r.now, source);
  r.announcements(milliseconds(100), r.now);
  EXPECT_TRUE(r.route.usable()) << "the permission is installed: Send indications until the channel is bound";
  ASSERT_NE(r.route.relay()->peer(), std::nullopt);
  EXPECT_EQ(*r.route.relay()->peer(), source) << "the channel goes where the peer was heard from";
  bool bound = false;
  for (const auto& seen : r.server.seen) bound = bound || (seen.method == stun::Method::ChannelBind && seen.peer == source);
  EXPECT_TRUE(bound);
  EXPECT_FALSE(r.route.poll_failure());
  // Nothing heard for kOneSidedSilence: not usable, one line, not ended.
  r.announcements(TurnRoute::kOneSidedSilence + milliseconds(100), r.now);
  EXPECT_FALSE(r.route.usable());
  EXPECT_FALSE(r.route.failed());
  const auto why = r.route.poll_failure();
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("not heard"), std::string::npos) << *why;
  EXPECT_FALSE(r.route.poll_failure()) << "once";
  r.route.on_heard(r.now, source);
  EXPECT_TRUE(r.route.usable()) << "the peer's next probe revives it";
}

TEST(TurnRouteOneSided, PermissionsAreBounded) {
  RouteUnderTest r;
  for (int i = 0; i < 40; ++i)
    r.route.permit_peer(r.now, IpAddress::v4({198, 51, 100, static_cast<std::uint8_t>(i + 1)}));
  r.announcements(milliseconds(100), r.now);
  std::size_t permissions = 0;
  for (const auto& seen : r.server.seen)
    permissions += seen.method == stun::Method::CreatePermission && seen.signed_request ? 1 : 0;
  EXPECT_GE(permissions, 1u);
  EXPECT_LE(permissions, 2 * turn::PeerRelay::kMaxPermitted) << "a 401 retry at most per permission";
}

// The other side of a one-sided route: the peer's relayed address probed
// from our UDP socket until the peer answers, then kept alive.
TEST(PeerTurnPath, ProbesUntilHeardThenKeepsAliveAndNoticesSilence) {
  const Endpoint relayed = turn::fake::kRelayed;
  TimePoint now = kTimeZero;
  PeerTurnPath path(relayed, now);
  std::vector<Duration> probes;
  const auto run = [&](Duration d) {
    const TimePoint until = now + d;
    for (;;) {
      while (path.poll_probe(now)) probes.push_back(now - kTimeZero);
      auto next = path.next_deadline();
      if (!next || *next > until) break;
      now = std::max(now, *next);
      path.on_timer(now);
    }
    now = until;
  };
  run(seconds(60));
  ASSERT_EQ(probes.size(), static_cast<std::size_t>(PeerTurnPath::kMaxProbes)) << "bounded while unheard";
  EXPECT_EQ(probes[0], Duration::zero()) << "at once";
  EXPECT_EQ(probes[1] - probes[0], seconds(1));
  EXPECT_EQ(probes[2] - probes[1], seconds(2));
  EXPECT_EQ(probes[4] - probes[3], seconds(4)) << "at most 4 s apart";
  EXPECT_FALSE(path.usable());
  // The peer repeats its candidate: one more probe, at most every 500 ms.
  path.set_relayed(now, relayed);
  path.set_relayed(now, relayed);
  probes.clear();
  run(milliseconds(100));
  EXPECT_EQ(probes.size(), 1u);
  // Heard: usable, a probe at once, then one every kKeepGap while the peer answers.
  path.on_heard(now);
  EXPECT_TRUE(path.usable());
  EXPECT_EQ(path.label(), "TURN via the peer's relay " + relayed.to_string() + " (one-sided)");
  probes.clear();
  for (int i = 0; i < 4; ++i) {
    run(seconds(5));
    path.on_heard(now);
  }
  EXPECT_GE(probes.size(), 8u);
  EXPECT_LE(probes.size(), 9u);
  EXPECT_FALSE(path.poll_lost());
  // Silent: not usable after kSilence, one line, probing starts over.
  probes.clear();
  run(PeerTurnPath::kSilence + milliseconds(100));
  EXPECT_FALSE(path.usable());
  const auto why = path.poll_lost();
  ASSERT_TRUE(why);
  EXPECT_NE(why->find(relayed.to_string()), std::string::npos) << *why;
  EXPECT_EQ(why->find('\n'), std::string::npos);
  EXPECT_FALSE(path.poll_lost()) << "once";
  // Another relayed address (the peer's relay moved): probing it at once.
  const Endpoint moved{relayed.address, 50010};
  probes.clear();
  path.set_relayed(now, moved);
  run(milliseconds(10));
  EXPECT_EQ(path.relayed(), moved);
  EXPECT_EQ(probes.size(), 1u);
}

TEST(TurnRouteFailure, ARefusedAllocationEndsTheRouteWithOneLineNamingTheServer) {
  RouteUnderTest r;
  r.server.error_for = [](const turn::fake::SeenRequest& s) -> std::optional<int> {
    return s.method == stun::Method::Allocate ? std::optional<int>(486) : std::nullopt;
  };
  r.announcements(seconds(1), r.now);
  EXPECT_TRUE(r.route.failed());
  const auto why = r.route.poll_failure();
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("486"), std::string::npos) << *why;
  EXPECT_NE(why->find("203.0.113.10"), std::string::npos) << *why;
  EXPECT_FALSE(r.route.poll_failure()) << "once";
  EXPECT_FALSE(r.route.send(r.now, std::vector<std::uint8_t>{1, 2, 3}));
  EXPECT_FALSE(r.route.poll_transmit(r.now));
}

TEST(TurnRouteFailure, ALinkThatCannotOpenEndsTheRoute) {
  RouteUnderTest r;
  r.route.on_link_failed(r.now, TurnRoute::kSocket, "TURN server 203.0.113.10:443 over tls: certificate not accepted");
  EXPECT_TRUE(r.route.failed());
  EXPECT_EQ(r.route.poll_failure(), "TURN server 203.0.113.10:443 over tls: certificate not accepted");
  EXPECT_FALSE(r.route.next_deadline(true));
}

// --- a lost allocation replaced (issue 20: fresh credentials, never stale)

// Allocated, the channel bound to the peer, the peer heard: usable.
void establish(RouteUnderTest& r) {
  r.announcements(milliseconds(100), r.now);
  r.route.set_peer_candidate(r.now, turn::fake::kPeer);
  r.announcements(milliseconds(100), r.now);
  r.route.on_heard(r.now, turn::fake::kPeer, TurnRoute::kSocket);
  r.announcements(milliseconds(100), r.now);
  ASSERT_TRUE(r.route.usable());
}

std::size_t requests(const RouteUnderTest& r, stun::Method method) {
  std::size_t n = 0;
  for (const auto& seen : r.server.seen) n += seen.method == method && seen.signed_request ? 1 : 0;
  return n;
}

TEST(TurnRouteReallocation, ADroppedLinkMakesANewAllocationOnASecondLink) {
  RouteUnderTest r;
  establish(r);
  const Endpoint moved{turn::fake::kRelayed.address, 50001};
  r.server.relayed = moved;
  const auto binds_before = requests(r, stun::Method::ChannelBind);
  r.route.on_connection_closed(r.now, TurnRoute::kSocket);
  EXPECT_FALSE(r.route.usable()) << "the rendezvous relay carries meanwhile";
  EXPECT_FALSE(r.route.failed());
  const auto lost = r.route.poll_lost();
  ASSERT_TRUE(lost);
  EXPECT_NE(lost->find("closed the connection"), std::string::npos) << *lost;
  EXPECT_NE(lost->find("203.0.113.10"), std::string::npos) << *lost;
  EXPECT_EQ(lost->find('\n'), std::string::npos);
  const auto links = r.route.links();
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].socket, TurnRoute::kSecondSocket) << "a new link: a new 5-tuple at the server";
  const auto got = r.announcements(milliseconds(100), r.now);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0].second.relayed, moved) << "the new relayed address is announced";
  EXPECT_TRUE(got[0].second.over_rendezvous);
  EXPECT_GT(requests(r, stun::Method::ChannelBind), binds_before) << "the peer's channel bound again";
  EXPECT_FALSE(r.route.usable()) << "until the peer is heard through the new allocation";
  r.route.on_heard(r.now, turn::fake::kPeer, TurnRoute::kSecondSocket);
  EXPECT_TRUE(r.route.usable());
  EXPECT_EQ(r.route.relay()->candidate(), moved);
  EXPECT_EQ(r.route.counters().allocations, 2u);
  EXPECT_EQ(r.route.counters().replacements, 1u);
  EXPECT_FALSE(r.route.poll_failure());
}

TEST(TurnRouteReallocation, AServerThatForgotTheAllocationIsFoundByARefreshOnceThePeerGoesQuiet) {
  RouteUnderTest r;
  establish(r);
  const std::vector<std::uint8_t> data{1, 2, 3};
  // The peer answers: no liveness Refresh however long we send.
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(r.route.send(r.now, data));
    r.announcements(seconds(1), r.now);
    r.route.on_heard(r.now, turn::fake::kPeer, TurnRoute::kSocket);
  }
  EXPECT_EQ(r.route.counters().liveness_refreshes, 0u);
  // The server restarted: it knows the allocation no more.
  int mismatches = 0;
  r.server.error_for = [&](const turn::fake::SeenRequest& s) -> std::optional<int> {
    if (s.method == stun::Method::Refresh && mismatches == 0) return ++mismatches, 437;
    return std::nullopt;
  };
  r.server.relayed = Endpoint{turn::fake::kRelayed.address, 50003};
  const auto sent_at = r.now;
  EXPECT_TRUE(r.route.send(r.now, data));
  r.announcements(TurnRoute::kLivenessProbe + milliseconds(100), r.now);
  EXPECT_EQ(r.route.counters().liveness_refreshes, 1u);
  EXPECT_EQ(mismatches, 1);
  const auto lost = r.route.poll_lost();
  ASSERT_TRUE(lost) << "found within " << std::chrono::duration<double>(r.now - sent_at).count() << " s";
  EXPECT_NE(lost->find("437"), std::string::npos) << *lost;
  EXPECT_EQ(r.route.candidate(), (Endpoint{turn::fake::kRelayed.address, 50003}));
  r.route.on_heard(r.now, turn::fake::kPeer, TurnRoute::kSecondSocket);
  EXPECT_TRUE(r.route.usable());
  EXPECT_TRUE(r.route.send(r.now, data));
}

TEST(TurnRouteReallocation, ARefusedRefreshMakesANewAllocationWithFreshCredentialsBeforeTheOldEnds) {
  int asked = 0;
  RouteUnderTest r([&](TimePoint, const turn::ClientConfig& server) -> std::optional<turn::Credentials> {
    ++asked;
    EXPECT_EQ(server.server, turn::fake::kServer);
    return turn::Credentials{"alice", "fresh"};
  });
  r.server.lifetime = 60;  // refreshed after 30 s
  establish(r);
  // The server re-checks the credentials' expiry on Refresh: the old ones fail.
  r.server.password = "fresh";
  const Endpoint moved{turn::fake::kRelayed.address, 50002};
  r.server.relayed = moved;
  r.announcements(seconds(31), r.now);
  EXPECT_EQ(asked, 1) << "fresh credentials for the new allocation";
  const auto lost = r.route.poll_lost();
  ASSERT_TRUE(lost);
  EXPECT_NE(lost->find("401"), std::string::npos) << *lost;
  EXPECT_TRUE(r.route.replacing());
  EXPECT_TRUE(r.route.usable()) << "make-before-break: the old allocation still relays";
  EXPECT_TRUE(r.route.send(r.now, std::vector<std::uint8_t>{4, 5}));
  ASSERT_EQ(r.route.links().size(), 2u);
  EXPECT_EQ(r.route.candidate(), moved) << "the new relayed address is what we announce";
  r.route.on_heard(r.now, turn::fake::kPeer, TurnRoute::kSecondSocket);
  EXPECT_TRUE(r.route.usable());
  EXPECT_FALSE(r.route.replacing());
  EXPECT_EQ(r.route.relay()->candidate(), moved) << "the new allocation took over";
  EXPECT_EQ(r.route.links().size(), 1u);
  EXPECT_EQ(r.route.counters().allocations, 2u);
  EXPECT_FALSE(r.route.poll_failure());
}

TEST(TurnRouteReallocation, WrongStaticCredentialsEndTheRouteWithOneLineNamingTheServer) {
  RouteUnderTest r;  // no credential source: the configured ones again
  establish(r);
  r.server.password = "changed";
  r.route.on_connection_closed(r.now, TurnRoute::kSocket);
  r.announcements(seconds(2), r.now);
  EXPECT_TRUE(r.route.failed());
  const auto why = r.route.poll_failure();
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("401"), std::string::npos) << *why;
  EXPECT_NE(why->find("203.0.113.10"), std::string::npos) << *why;
  EXPECT_EQ(why->find('\n'), std::string::npos);
  EXPECT_TRUE(r.route.links().empty());
  EXPECT_FALSE(r.route.next_deadline(true)) << "nothing left to wait for";
}

TEST(TurnRouteReallocation, AServerThatCannotBeReachedIsRetriedBoundedThenTheRouteEnds) {
  RouteUnderTest r;
  establish(r);
  const TimePoint lost_at = r.now;
  r.route.on_connection_closed(r.now, TurnRoute::kSocket);
  std::size_t refused = 0;
  while (!r.route.failed() && r.now - lost_at < seconds(60)) {
    if (const auto links = r.route.links(); !links.empty()) {
      ++refused;
      r.route.on_link_failed(r.now, links.back().socket,
                             "cannot connect to TURN server 203.0.113.10:3478 over tcp: Connection refused");
      continue;
    }
    const auto next = r.route.next_deadline(true);
    ASSERT_TRUE(next) << "waits for the next attempt";
    r.now = std::max(r.now, *next);
    r.route.on_timer(r.now);
  }
  EXPECT_TRUE(r.route.failed());
  EXPECT_EQ(refused, TurnRoute::kRetryGaps.size());
  EXPECT_LE(r.now - lost_at, seconds(10)) << "0.5 + 1 + 2 + 4 s between the attempts";
  const auto why = r.route.poll_failure();
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("Connection refused"), std::string::npos) << *why;
  EXPECT_NE(why->find("5 attempts"), std::string::npos) << *why;
}

}  // namespace
}  // namespace natpunch::session

// One identity, several registrations: a listener serving many callers
// (each request to its own single-session registration), the same identity
// connecting elsewhere meanwhile (caller-only registrations get no
// requests), the per-identity bound, Unregister, and a caller that keeps
// asking until the peer registers.
#include <gtest/gtest.h>

#include <set>

#include "rendezvous_harness.hpp"

namespace natpunch::rendezvous {
namespace {

using testing::ep;
using testing::Harness;
using testing::test_server_config;
using testing::Captured;

ClientConfig listener_config() {
  ClientConfig c;
  c.accept_policy = accept_all();
  c.single_session = true;
  return c;
}

ClientConfig caller_config() {
  ClientConfig c;
  c.listening = false;
  return c;
}

Endpoint listener_ep(int i) { return ep(198, 51, 100, 10, static_cast<std::uint16_t>(5000 + i)); }
Endpoint caller_ep(int i) { return ep(198, 51, 100, static_cast<std::uint8_t>(20 + i), 6000); }

TEST(RendezvousMulti, OneIdentityHoldsSeveralRegistrationsEachWithItsOwnEndpoint) {
  Harness h;
  const Identity l = Identity::generate(h.random());
  std::vector<Harness::Peer*> slots;
  for (int i = 0; i < 3; ++i) slots.push_back(&h.add_client(l, listener_ep(i), listener_config()));
  for (auto* s : slots) {
    EXPECT_TRUE(s->client->registered());
    EXPECT_EQ(s->client->observed_endpoint(), s->endpoint);
  }
  EXPECT_EQ(h.server().registration_count(l.public_key), 3u);
  EXPECT_EQ(h.server().registration_count(), 3u);
  EXPECT_EQ(h.server().observed_endpoint(l.public_key), listener_ep(2)) << "the newest";
  // Each keeps itself alive with its own refreshes.
  h.advance(h.server().config().registration_lifetime + seconds(10));
  EXPECT_EQ(h.server().registration_count(l.public_key), 3u);
}

TEST(RendezvousMulti, TheSameInstanceRegisteringAgainReplacesItsRegistration) {
  Harness h;
  const Identity l = Identity::generate(h.random());
  auto config = listener_config();
  config.instance = 77;
  auto& first = h.add_client(l, listener_ep(0), config);
  ASSERT_TRUE(first.client->registered());
  first.online = false;
  h.advance(seconds(1));
  auto& again = h.add_client(l, listener_ep(1), config);  // a restarted process, same instance
  ASSERT_TRUE(again.client->registered());
  EXPECT_EQ(h.server().registration_count(l.public_key), 1u);
  EXPECT_EQ(h.server().observed_endpoint(l.public_key), listener_ep(1));
}

// Each caller gets its own listener registration (and so its own socket
// and observed endpoint); newest first.
TEST(RendezvousMulti, EachCallerGetsTheNewestFreeListeningRegistration) {
  Harness h;
  const Identity l = Identity::generate(h.random());
  std::vector<Harness::Peer*> slots;
  for (int i = 0; i < 3; ++i) slots.push_back(&h.add_client(l, listener_ep(i), listener_config()));
  std::vector<Endpoint> seen;
  for (int i = 0; i < 3; ++i) {
    auto& c = h.add_peer(caller_ep(i));
    c.client->connect(h.now, l.public_key);
    h.pump();
    auto ready = c.last<client_event::SessionReady>();
    ASSERT_TRUE(ready) << "caller " << i;
    EXPECT_EQ(ready->session.peer, l.public_key);
    seen.push_back(ready->session.peer_observed);
  }
  EXPECT_EQ(seen, (std::vector<Endpoint>{listener_ep(2), listener_ep(1), listener_ep(0)}));
  for (auto* s : slots) {
    EXPECT_EQ(s->all<client_event::SessionReady>().size(), 1u) << "one session per single-session registration";
    EXPECT_EQ(s->all<client_event::IncomingRequest>().size(), 1u);
  }
  EXPECT_EQ(h.server().session_count(), 3u);
}

TEST(RendezvousMulti, ABusyListenerIsUnknownUntilItRegistersAgain) {
  Harness h;
  const Identity l = Identity::generate(h.random());
  h.add_client(l, listener_ep(0), listener_config());
  auto& c1 = h.add_peer(caller_ep(1));
  c1.client->connect(h.now, l.public_key);
  h.pump();
  ASSERT_TRUE(c1.last<client_event::SessionReady>());
  auto& c2 = h.add_peer(caller_ep(2));
  c2.client->connect(h.now, l.public_key);
  h.pump();
  ASSERT_TRUE(c2.last<client_event::ConnectFailed>());
  EXPECT_EQ(c2.last<client_event::ConnectFailed>()->code, ErrorCode::UnknownPeer);
  auto& fresh = h.add_client(l, listener_ep(1), listener_config());
  c2.client->connect(h.now, l.public_key);
  h.pump();
  auto ready = c2.last<client_event::SessionReady>();
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->session.peer_observed, fresh.endpoint);
}

// A registration without the single-session flag keeps the old behaviour:
// every request (the application decides).
TEST(RendezvousMulti, AMultiSessionRegistrationTakesEveryRequest) {
  Harness h;
  auto& b = h.add_peer(listener_ep(0));
  for (int i = 0; i < 3; ++i) {
    auto& c = h.add_peer(caller_ep(i));
    c.client->connect(h.now, b.client->identity());
    h.pump();
    EXPECT_TRUE(c.last<client_event::SessionReady>()) << i;
  }
  EXPECT_EQ(b.all<client_event::SessionReady>().size(), 3u);
}

TEST(RendezvousMulti, ACallerOnlyRegistrationIsNeverOfferedARequest) {
  Harness h;
  const Identity l = Identity::generate(h.random());
  auto& listening = h.add_client(l, listener_ep(0), listener_config());
  auto& calling = h.add_client(l, listener_ep(1), caller_config());  // newer, but caller-only
  auto& c = h.add_peer(caller_ep(0));
  c.client->connect(h.now, l.public_key);
  h.pump();
  auto ready = c.last<client_event::SessionReady>();
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->session.peer_observed, listening.endpoint);
  EXPECT_TRUE(calling.all<client_event::IncomingRequest>().empty());

  // With only a caller-only registration left, the identity takes no calls.
  Harness h2;
  const Identity k = Identity::generate(h2.random());
  auto& only = h2.add_client(k, listener_ep(0), caller_config());
  auto& d = h2.add_peer(caller_ep(0));
  d.client->connect(h2.now, k.public_key);
  h2.pump();
  ASSERT_TRUE(d.last<client_event::ConnectFailed>());
  EXPECT_EQ(d.last<client_event::ConnectFailed>()->code, ErrorCode::UnknownPeer);
  EXPECT_TRUE(only.all<client_event::IncomingRequest>().empty());
}

// One identity listens (for C) and calls P at the same time; relay data of
// each session reaches only the registration that session was made for.
TEST(RendezvousMulti, TheSameIdentityListensAndConnectsAtOnce) {
  Harness h;
  const Identity l = Identity::generate(h.random());
  auto& listening = h.add_client(l, listener_ep(0), listener_config());
  auto& calling = h.add_client(l, listener_ep(1), caller_config());
  auto& p = h.add_peer(caller_ep(0));
  auto& c = h.add_peer(caller_ep(1));
  calling.client->connect(h.now, p.client->identity());
  c.client->connect(h.now, l.public_key);
  h.pump();
  auto out = calling.last<client_event::SessionReady>();
  auto in = listening.last<client_event::SessionReady>();
  ASSERT_TRUE(out && in);
  EXPECT_EQ(out->session.peer, p.client->identity());
  EXPECT_EQ(in->session.peer, c.client->identity());
  ASSERT_TRUE(p.last<client_event::SessionReady>());
  EXPECT_EQ(p.last<client_event::SessionReady>()->session.peer_observed, calling.endpoint);
  EXPECT_EQ(c.last<client_event::SessionReady>()->session.peer_observed, listening.endpoint);

  const std::vector<std::uint8_t> to_p{1, 2, 3}, to_c{4, 5};
  ASSERT_TRUE(p.client->send_relay(h.now, out->session.session_id, to_p));
  ASSERT_TRUE(c.client->send_relay(h.now, in->session.session_id, to_c));
  h.pump();
  ASSERT_EQ(calling.all<client_event::RelayReceived>().size(), 1u);
  EXPECT_EQ(calling.last<client_event::RelayReceived>()->payload, to_p);
  ASSERT_EQ(listening.all<client_event::RelayReceived>().size(), 1u);
  EXPECT_EQ(listening.last<client_event::RelayReceived>()->payload, to_c);

  // The identity's other registration is not a member of the session.
  RelayData forged;
  forged.session_id = in->session.session_id;
  forged.payload = {9};
  EXPECT_FALSE(calling.client->send_relay(h.now, in->session.session_id, forged.payload))
      << "the client knows it is not in that session";
}

TEST(RendezvousMulti, ARejectedOrUnansweredRequestFreesTheRegistration) {
  Harness h;
  const Identity l = Identity::generate(h.random());
  auto& allowed = h.add_peer(caller_ep(0));
  auto config = listener_config();
  config.accept_policy = accept_from({allowed.client->identity()});
  h.add_client(l, listener_ep(0), config);
  auto& stranger = h.add_peer(caller_ep(1));
  stranger.client->connect(h.now, l.public_key);
  h.pump();
  ASSERT_TRUE(stranger.last<client_event::ConnectFailed>());
  EXPECT_EQ(stranger.last<client_event::ConnectFailed>()->code, ErrorCode::Rejected);
  allowed.client->connect(h.now, l.public_key);
  h.pump();
  EXPECT_TRUE(allowed.last<client_event::SessionReady>()) << "the rejection freed the registration";

  // Nobody answers (no policy): after the request timeout the registration
  // is offered the next caller.
  Harness h2;
  const Identity k = Identity::generate(h2.random());
  auto undecided = listener_config();
  undecided.accept_policy = nullptr;
  auto& slot = h2.add_client(k, listener_ep(0), undecided);
  auto& first = h2.add_peer(caller_ep(0));
  first.client->connect(h2.now, k.public_key);
  h2.pump();
  ASSERT_EQ(slot.all<client_event::IncomingRequest>().size(), 1u);
  auto& second = h2.add_peer(caller_ep(1));
  second.client->connect(h2.now, k.public_key);
  h2.pump();
  EXPECT_EQ(second.last<client_event::ConnectFailed>()->code, ErrorCode::UnknownPeer) << "taken while undecided";
  h2.advance(h2.server().config().request_timeout + seconds(2));
  second.client->connect(h2.now, k.public_key);
  h2.pump();
  EXPECT_EQ(slot.all<client_event::IncomingRequest>().size(), 2u);
}

TEST(RendezvousMulti, RegistrationsPerIdentityAreBounded) {
  auto config = test_server_config();
  config.limits.max_registrations_per_identity = 3;
  Harness h(config);
  const Identity l = Identity::generate(h.random());
  std::vector<Harness::Peer*> slots;
  for (int i = 0; i < 3; ++i) slots.push_back(&h.add_client(l, listener_ep(i), listener_config()));
  auto& fourth = h.add_client(l, listener_ep(3), listener_config());
  EXPECT_FALSE(fourth.client->registered());
  ASSERT_TRUE(fourth.last<client_event::RegistrationRefused>());
  EXPECT_EQ(fourth.last<client_event::RegistrationRefused>()->code, ErrorCode::TooManyRegistrations);
  EXPECT_EQ(h.server().registration_count(l.public_key), 3u);
  // Other identities are not affected.
  auto& other = h.add_peer(caller_ep(0));
  EXPECT_TRUE(other.client->registered());
  // The fourth keeps trying (backoff); a registration gone silent for two
  // refresh intervals (a crashed process) makes room.
  slots[0]->online = false;
  h.advance(2 * h.server().config().refresh_interval + seconds(10));
  EXPECT_TRUE(fourth.client->registered());
  EXPECT_EQ(h.server().registration_count(l.public_key), 3u);
  EXPECT_LE(h.server().registration_count(l.public_key), config.limits.max_registrations_per_identity);
}

TEST(RendezvousMulti, UnregisterEndsARegistrationButItsProveCannotBeReplayed) {
  Harness h;
  const Identity l = Identity::generate(h.random());
  auto& a = h.add_client(l, listener_ep(0), listener_config());
  auto& b = h.add_client(l, listener_ep(1), listener_config());
  ASSERT_EQ(h.server().registration_count(l.public_key), 2u);
  Captured prove;
  for (const auto& w : h.wire)
    if (w.from == b.endpoint && w.bytes.size() > 3 && w.bytes[3] == static_cast<std::uint8_t>(MessageType::Prove))
      prove = w;
  ASSERT_FALSE(prove.bytes.empty());
  b.client->close(h.now);
  h.pump();
  // At once: not offered to callers.
  auto& c = h.add_peer(caller_ep(0));
  c.client->connect(h.now, l.public_key);
  h.pump();
  ASSERT_TRUE(c.last<client_event::SessionReady>());
  EXPECT_EQ(c.last<client_event::SessionReady>()->session.peer_observed, a.endpoint);
  // Its Prove replayed from its own address is refused (cookie used), and
  // once the cookie expired the entry is gone.
  const auto registrations = h.server().counters().registrations;
  h.inject(b.endpoint, prove.bytes);
  EXPECT_EQ(h.server().counters().registrations, registrations);
  h.advance(h.server().config().challenge_lifetime + seconds(2));
  EXPECT_EQ(h.server().registration_count(l.public_key), 1u);
  h.inject(b.endpoint, prove.bytes);
  EXPECT_EQ(h.server().counters().registrations, registrations);
  EXPECT_EQ(h.server().registration_count(l.public_key), 1u);
}

TEST(RendezvousMulti, ACallerWaitingOnAnUnregisteredListenerHearsAtOnce) {
  Harness h;
  const Identity l = Identity::generate(h.random());
  auto undecided = listener_config();
  undecided.accept_policy = nullptr;
  auto& slot = h.add_client(l, listener_ep(0), undecided);
  auto& c = h.add_peer(caller_ep(0));
  c.client->connect(h.now, l.public_key);
  h.pump();
  ASSERT_EQ(slot.all<client_event::IncomingRequest>().size(), 1u);
  EXPECT_FALSE(c.last<client_event::ConnectFailed>());
  slot.client->close(h.now);
  h.pump();
  ASSERT_TRUE(c.last<client_event::ConnectFailed>());
  EXPECT_EQ(c.last<client_event::ConnectFailed>()->code, ErrorCode::UnknownPeer);
  EXPECT_EQ(h.server().pending_count(), 0u);
}

TEST(RendezvousMulti, AClosedClientSendsNothingMore) {
  Harness h;
  auto& a = h.add_peer(caller_ep(0));
  a.client->close(h.now);
  h.pump();
  const auto wire = h.wire.size();
  h.advance(seconds(300));
  EXPECT_EQ(h.wire.size(), wire);
  EXPECT_EQ(h.server().registration_count(), 0u);
}

// Task: a connect started before the listener registered still succeeds.
TEST(RendezvousMulti, ConnectKeepsAskingUntilThePeerRegisters) {
  Harness h;
  const Identity l = Identity::generate(h.random());
  ClientConfig early;
  early.unknown_peer_retry = milliseconds(500);
  early.connect_timeout = seconds(10);
  auto& c = h.add_peer(caller_ep(0), accept_all(), {}, early);
  c.client->connect(h.now, l.public_key);
  h.advance(seconds(3));
  EXPECT_FALSE(c.last<client_event::ConnectFailed>());
  const auto polls = c.all<client_event::PeerNotRegistered>().size();
  EXPECT_GE(polls, 5u);
  EXPECT_LE(polls, 8u) << "a steady poll, not a flood";
  auto& slot = h.add_client(l, listener_ep(0), listener_config());
  h.advance(seconds(1));
  auto ready = c.last<client_event::SessionReady>();
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->session.peer_observed, slot.endpoint);
  EXPECT_TRUE(slot.last<client_event::SessionReady>());
}

TEST(RendezvousMulti, ConnectGivesUpWithUnknownPeerWhenTheWaitEnds) {
  Harness h;
  ClientConfig early;
  early.unknown_peer_retry = milliseconds(500);
  early.connect_timeout = seconds(4);
  auto& c = h.add_peer(caller_ep(0), accept_all(), {}, early);
  const Identity nobody = Identity::generate(h.random());
  const auto request = c.client->connect(h.now, nobody.public_key);
  h.advance(seconds(5));
  auto failed = c.last<client_event::ConnectFailed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->request_id, request);
  EXPECT_EQ(failed->code, ErrorCode::UnknownPeer);
  // Without the retry it fails at the first answer (the old behaviour).
  auto& d = h.add_peer(caller_ep(1));
  d.client->connect(h.now, nobody.public_key);
  h.pump();
  ASSERT_TRUE(d.last<client_event::ConnectFailed>());
  EXPECT_TRUE(d.all<client_event::PeerNotRegistered>().empty());
}

// Relay rates stay per identity, however many registrations it holds.
TEST(RendezvousMulti, RelayRatesArePerIdentityNotPerRegistration) {
  auto config = test_server_config();
  config.relay.identity_packets_per_second = 10;
  config.relay.burst_seconds = 1.0;
  Harness h(config);
  const Identity l = Identity::generate(h.random());
  std::vector<Harness::Peer*> slots;
  std::vector<std::uint64_t> sessions;
  for (int i = 0; i < 2; ++i) {
    slots.push_back(&h.add_client(l, listener_ep(i), listener_config()));
    auto& c = h.add_peer(caller_ep(i));
    c.client->connect(h.now, l.public_key);
    h.pump();
    ASSERT_TRUE(slots.back()->last<client_event::SessionReady>());
    sessions.push_back(slots.back()->last<client_event::SessionReady>()->session.session_id);
  }
  const std::vector<std::uint8_t> payload(10, 1);
  for (int round = 0; round < 10; ++round)
    for (int i = 0; i < 2; ++i) slots[static_cast<std::size_t>(i)]->client->send_relay(h.now, sessions[static_cast<std::size_t>(i)], payload);
  h.pump();
  EXPECT_LE(h.server().counters().relay_packets, 11u) << "10 per second for the identity, burst 1 s";
  EXPECT_GE(h.server().counters().relay_dropped_rate, 9u);
}

}  // namespace
}  // namespace natpunch::rendezvous

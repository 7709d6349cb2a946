// Attacks on the rendezvous server: impostors without the key, replays with
// spoofed sources, a registered third party poking at someone else's
// session, reflection, amplification.
#include <gtest/gtest.h>

#include <algorithm>

#include "rendezvous_harness.hpp"

namespace natpunch::rendezvous {
namespace {

using testing::Captured;
using testing::ep;
using testing::Harness;
using testing::make_raw;
using testing::RawPeer;

std::vector<Captured> on_wire(const Harness& h, MessageType type, std::optional<Endpoint> from = std::nullopt) {
  std::vector<Captured> out;
  for (const auto& c : h.wire)
    if (c.bytes.size() >= kHeaderSize && c.bytes[3] == static_cast<std::uint8_t>(type) && (!from || c.from == *from))
      out.push_back(c);
  return out;
}

TEST(RendezvousSecurity, RawPeerHelperRegisters) {
  Harness h;
  auto mallory = make_raw(h, ep(203, 0, 113, 66, 4444));
  ASSERT_TRUE(mallory.register_with(h));
  EXPECT_EQ(h.server().registration_count(), 1u);
}

TEST(RendezvousSecurity, WithoutTheKeyNobodyRegistersAsSomeoneElse) {
  Harness h;
  auto& victim = h.add_peer(ep(198, 51, 100, 10, 5000));
  const Endpoint attacker = ep(203, 0, 113, 66, 4444);
  const Identity mallory = Identity::generate(h.random());
  h.advance(seconds(1));  // a cookie must be newer than the victim's to be usable at all
  Register r;
  r.identity = victim.client->identity();
  h.inject(attacker, encode(r));
  auto c = std::get<Challenge>(*decode(h.stray.back().bytes));
  Prove p;
  p.identity = victim.client->identity();
  p.issued_at_ms = c.issued_at_ms;
  p.cookie = c.cookie;
  auto bytes = encode(p);
  sign_prove(bytes, mallory, c.server_key);  // the wrong key
  const auto strays = h.stray.size();
  h.inject(attacker, bytes);
  EXPECT_EQ(h.stray.size(), strays) << "a bad signature gets no answer";
  EXPECT_EQ(h.server().counters().dropped_bad_signature, 1u);
  EXPECT_EQ(h.server().observed_endpoint(victim.client->identity()), victim.endpoint);
}

// The registration's keys come from the key share the Prove names: one
// swapped on the way (the attacker's own, to learn the keys) breaks the
// signature; a small-order one, signed by its owner, gives no keys.
TEST(RendezvousSecurity, TheProvesKeyShareIsSignedAndMustBeAUsefulKey) {
  for (const bool swap : {true, false}) {
    Harness h;
    const Endpoint client = ep(198, 51, 100, 10, 5000);
    const Identity alice = Identity::generate(h.random());
    Register r;
    r.identity = alice.public_key;
    h.inject(client, encode(r));
    const auto c = std::get<Challenge>(*decode(h.stray.back().bytes));
    Prove p;
    p.identity = alice.public_key;
    p.issued_at_ms = c.issued_at_ms;
    p.cookie = c.cookie;
    Key secret{};
    secret.fill(7);
    p.key_share = swap ? KeyShare::from_secret(secret).public_key : PublicKey{};  // {}: small order
    auto bytes = encode(p);
    sign_prove(bytes, alice, c.server_key);
    if (swap) {
      secret.fill(8);
      const PublicKey mallorys = KeyShare::from_secret(secret).public_key;
      std::copy(mallorys.begin(), mallorys.end(), bytes.end() - kSignatureSize - kKeySize);
    }
    const auto strays = h.stray.size();
    h.inject(client, bytes);
    EXPECT_EQ(h.stray.size(), strays) << swap;
    EXPECT_EQ(h.server().counters().dropped_bad_signature, 1u) << swap;
    EXPECT_EQ(h.server().registration_count(), 0u) << swap;
  }
}

TEST(RendezvousSecurity, ReplayedProveFailsFromAnyAddressAndLater) {
  Harness h;
  auto& victim = h.add_peer(ep(198, 51, 100, 10, 5000));
  auto proves = on_wire(h, MessageType::Prove, victim.endpoint);
  ASSERT_EQ(proves.size(), 1u);
  const auto registrations = h.server().counters().registrations;
  h.inject(ep(203, 0, 113, 66, 4444), proves[0].bytes);  // elsewhere: cookie bound to the source
  h.inject(victim.endpoint, proves[0].bytes);            // spoofed victim address: cookie already used
  h.advance(seconds(30));
  h.inject(victim.endpoint, proves[0].bytes);  // later: cookie expired
  EXPECT_EQ(h.server().counters().registrations, registrations);
  for (const auto& s : h.stray) {
    auto m = decode(s.bytes);
    ASSERT_TRUE(m && std::holds_alternative<Refused>(*m));
    EXPECT_EQ(std::get<Refused>(*m).code, ErrorCode::ChallengeExpired);
  }
  EXPECT_TRUE(victim.client->registered()) << "the victim's registration is untouched";
}

TEST(RendezvousSecurity, ReplayFromASpoofedSourceCannotMoveTheEndpoint) {
  Harness h;
  auto& victim = h.add_peer(ep(198, 51, 100, 10, 5000));
  h.advance(h.server().config().refresh_interval + seconds(1));
  auto refreshes = on_wire(h, MessageType::Refresh, victim.endpoint);
  ASSERT_FALSE(refreshes.empty());
  const Endpoint attacker = ep(203, 0, 113, 66, 4444);
  h.inject(attacker, refreshes.back().bytes);
  EXPECT_EQ(h.server().observed_endpoint(victim.client->identity()), victim.endpoint);
  EXPECT_EQ(h.server().counters().dropped_replayed, 1u);
  // Re-sequenced without the key: the MAC fails.
  auto forged = refreshes.back().bytes;
  forged[12] ^= 0x40;
  h.inject(attacker, forged);
  EXPECT_EQ(h.server().observed_endpoint(victim.client->identity()), victim.endpoint);
  EXPECT_EQ(h.server().counters().dropped_bad_mac, 1u);
  EXPECT_TRUE(std::none_of(h.stray.begin(), h.stray.end(), [&](const Captured& c) { return c.to == attacker; }));
}

TEST(RendezvousSecurity, RegisteredThirdPartyCannotAnswerSomeoneElsesRequest) {
  Harness h;
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  auto& b = h.add_peer(ep(198, 51, 100, 20, 6000), AcceptPolicy{});
  auto mallory = make_raw(h, ep(203, 0, 113, 66, 4444));
  ASSERT_TRUE(mallory.register_with(h));
  a.client->connect(h.now, b.client->identity());
  h.pump();
  auto incoming = b.last<client_event::IncomingRequest>();
  ASSERT_TRUE(incoming);
  // Mallory saw the invitation id on the path and accepts it herself.
  Accept accept;
  accept.invitation_id = incoming->invitation_id;
  h.inject(mallory.endpoint, mallory.sealed(accept));
  // Replaying B's answers from her address does not work either.
  b.client->accept(h.now, incoming->invitation_id);
  h.pump();
  for (const auto& c : on_wire(h, MessageType::Accept, b.endpoint)) h.inject(mallory.endpoint, c.bytes);
  for (const auto& m : mallory.received(h)) {
    EXPECT_FALSE(std::holds_alternative<SessionInfo>(m));
    EXPECT_FALSE(std::holds_alternative<IncomingRequest>(m));
  }
  auto sa = a.last<client_event::SessionReady>();
  ASSERT_TRUE(sa);
  EXPECT_EQ(sa->session.peer, b.client->identity());
  EXPECT_EQ(sa->session.peer_observed, b.endpoint);
  EXPECT_EQ(h.server().observed_endpoint(b.client->identity()), b.endpoint);
}

TEST(RendezvousSecurity, NobodyInjectsRelayDataIntoASession) {
  Harness h;
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  auto& b = h.add_peer(ep(198, 51, 100, 20, 6000));
  a.client->connect(h.now, b.client->identity());
  h.pump();
  const auto session = a.last<client_event::SessionReady>()->session.session_id;
  ASSERT_TRUE(a.client->send_relay(h.now, session, std::vector<std::uint8_t>{1, 2, 3}));
  h.pump();
  ASSERT_EQ(b.all<client_event::RelayReceived>().size(), 1u);

  // 1. A registered third party using the session id.
  auto mallory = make_raw(h, ep(203, 0, 113, 66, 4444));
  ASSERT_TRUE(mallory.register_with(h));
  RelayData data;
  data.session_id = session;
  data.payload = {6, 6, 6};
  h.inject(mallory.endpoint, mallory.sealed(data));
  auto replies = mallory.received(h);
  ASSERT_FALSE(replies.empty());
  ASSERT_TRUE(std::holds_alternative<Error>(replies.back()));
  EXPECT_EQ(std::get<Error>(replies.back()).code, ErrorCode::NoSuchSession);
  // 2. A's relay datagram replayed from A's spoofed address and from elsewhere.
  for (const auto& c : on_wire(h, MessageType::RelayData, a.endpoint)) {
    h.inject(a.endpoint, c.bytes);
    h.inject(mallory.endpoint, c.bytes);
  }
  // 3. The server's datagram to B reflected back as if from B (direction keys differ).
  for (const auto& c : on_wire(h, MessageType::RelayData))
    if (c.to == b.endpoint) h.inject(b.endpoint, c.bytes);
  // 4. A forged datagram under A's registration id without A's key.
  auto forged = on_wire(h, MessageType::RelayData, a.endpoint).back().bytes;
  forged[12] = 0x7f;                // a fresh sequence number
  forged[forged.size() - 17] = 66;  // different payload
  h.inject(a.endpoint, forged);

  EXPECT_EQ(b.all<client_event::RelayReceived>().size(), 1u) << "only A's one genuine datagram";
  EXPECT_EQ(a.all<client_event::RelayReceived>().size(), 0u);
  EXPECT_EQ(h.server().counters().relay_packets, 1u);
  EXPECT_GE(h.server().counters().dropped_replayed, 1u);
  EXPECT_GE(h.server().counters().dropped_bad_mac, 2u);
}

TEST(RendezvousSecurity, SessionKeyNeverCrossesTheWireInClear) {
  Harness h;
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  auto& b = h.add_peer(ep(198, 51, 100, 20, 6000));
  a.client->connect(h.now, b.client->identity());
  h.pump();
  const Key key = a.last<client_event::SessionReady>()->session.session_key;
  for (const auto& c : h.wire)
    EXPECT_EQ(std::search(c.bytes.begin(), c.bytes.end(), key.begin(), key.end()), c.bytes.end());
}

TEST(RendezvousSecurity, ClientIgnoresForgedServerMessages) {
  Harness h;
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  // A spoofed "not registered" that does not echo A's registration.
  Refused refused;
  refused.code = ErrorCode::NotRegistered;
  refused.echo.fill(1);
  EXPECT_TRUE(a.client->on_datagram(h.now, 0, h.server_endpoint, encode(refused)));
  EXPECT_TRUE(a.client->registered());
  // A forged SessionInfo without the registration key.
  SessionInfo info;
  info.auth.registration_id = 1;
  info.auth.sequence = 99;
  info.peer_observed = ep(203, 0, 113, 66, 1);
  a.client->on_datagram(h.now, 0, h.server_endpoint, encode(info));
  // From someone who is not the server at all.
  EXPECT_FALSE(a.client->on_datagram(h.now, 0, ep(203, 0, 113, 66, 3478), encode(refused)));
  h.pump();
  EXPECT_FALSE(a.last<client_event::SessionReady>());
  EXPECT_FALSE(a.last<client_event::RegistrationLost>());
  EXPECT_EQ(a.client->counters().dropped_unauthenticated, 1u);
}

TEST(RendezvousSecurity, PinnedServerKeyRejectsAnotherServer) {
  Harness h;
  ClientConfig pinned;
  pinned.pinned_server_key = PublicKey{};
  pinned.pinned_server_key->fill(5);
  auto& wrong = h.add_peer(ep(198, 51, 100, 10, 5000), accept_all(), {}, pinned);
  pinned.pinned_server_key = h.server().server_key();
  auto& right = h.add_peer(ep(198, 51, 100, 20, 5000), accept_all(), {}, pinned);
  h.advance(seconds(3));  // several retransmitted Registers, each answered with a Challenge
  EXPECT_FALSE(wrong.client->registered());
  EXPECT_TRUE(right.client->registered());
  // Not silence, which looked like a dead server (issue 22): one event per
  // registration attempt, naming the key the server offered.
  const auto mismatches = wrong.all<client_event::ServerKeyMismatch>();
  ASSERT_EQ(mismatches.size(), 1u);
  EXPECT_EQ(mismatches.front().offered, h.server().server_key());
  EXPECT_GE(wrong.client->counters().server_key_mismatches, 2u);
  EXPECT_TRUE(right.all<client_event::ServerKeyMismatch>().empty());
}

// Every datagram from a source without a registration: the reply, if any,
// is no larger than the datagram itself.
TEST(RendezvousSecurity, UnauthenticatedRequestsAreNeverAmplified) {
  Harness h;
  auto& victim = h.add_peer(ep(198, 51, 100, 10, 5000));
  h.advance(h.server().config().refresh_interval + seconds(1));
  Rng rng(42);
  std::vector<std::vector<std::uint8_t>> inputs;
  Register padded;
  padded.identity.fill(3);
  inputs.push_back(encode(padded));
  Register unpadded = padded;
  unpadded.padding = 0;
  inputs.push_back(encode(unpadded));
  for (const auto type : {MessageType::Prove, MessageType::Refresh, MessageType::ConnectRequest,
                          MessageType::RelayData, MessageType::Keepalive, MessageType::Accept})
    for (const auto& c : on_wire(h, type, victim.endpoint)) inputs.push_back(c.bytes);
  Refresh unknown;
  unknown.auth.registration_id = 12345;
  unknown.auth.sequence = 1;
  inputs.push_back(encode(unknown));
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::uint8_t> junk(rng.uniform(0, 200));
    rng.fill(junk);
    if (!junk.empty() && rng.uniform(0, 1)) junk[0] = kMagic0;
    if (junk.size() >= kHeaderSize && rng.uniform(0, 1)) {
      junk[1] = kMagic1;
      junk[2] = kVersion;
      junk[3] = static_cast<std::uint8_t>(rng.uniform(1, 14));
    }
    inputs.push_back(std::move(junk));
  }
  const Endpoint spoofed = ep(203, 0, 113, 99, 53);
  for (const auto& input : inputs) {
    const auto before = h.stray.size();
    h.inject(spoofed, input);
    std::size_t reply_bytes = 0;
    for (auto i = before; i < h.stray.size(); ++i) reply_bytes += h.stray[i].bytes.size();
    EXPECT_LE(reply_bytes, input.size());
  }
  EXPECT_GT(h.stray.size(), 0u) << "the test must exercise some replies";
}

// A spoofer aiming the server at a victim gets at most the source limiter's
// burst of (small) refusals, whatever message type it sends.
TEST(RendezvousSecurity, RefusalsToASpoofedVictimAreRateLimited) {
  ServerConfig config;  // default source limit: 20/s, burst 40
  Harness h(config);
  const Endpoint victim = ep(203, 0, 113, 99, 53);
  for (int i = 0; i < 1000; ++i) {
    RelayData d;
    d.auth.registration_id = 1000 + static_cast<std::uint64_t>(i);
    d.auth.sequence = 1;
    h.inject(victim, encode(d));
    Register r;
    h.inject(victim, encode(r));
  }
  EXPECT_LE(h.stray.size(), 40u);
  EXPECT_GE(h.server().counters().dropped_rate_limited, 1960u);
}

}  // namespace
}  // namespace natpunch::rendezvous

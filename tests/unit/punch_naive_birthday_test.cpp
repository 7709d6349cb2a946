// The naive birthday attack (Algorithm 1) as a state machine, driven by
// hand in virtual time, including the authenticated handshake it ends with.
#include "punch/naive_birthday.hpp"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "wire/probe.hpp"

namespace natpunch::punch {
namespace {

const IpAddress kPeer = IpAddress::v4({203, 0, 113, 2});
const Endpoint kPeerMapping{kPeer, 51000};
constexpr std::uint64_t kSession = 0x1122334455667788ULL;
constexpr TimePoint kStart = kTimeZero + seconds(10);
constexpr Duration kInterval = kThesisSendInterval;

wire::SessionKey test_key() {
  wire::SessionKey key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(0xa0 + i);
  return key;
}
// The peer's key: the machines under test are callers (the default role).
const wire::ProbeKey kKey{test_key(), wire::SessionRole::Callee};

NaiveBirthdayConfig config(std::uint64_t budget) {
  NaiveBirthdayConfig c;
  c.peer_address = kPeer;
  c.session_id = kSession;
  c.key = test_key();
  c.probe_budget = budget;
  return c;
}

std::vector<std::uint8_t> bytes_of(const wire::ProbeBytes& b) { return {b.begin(), b.end()}; }

// A probe the peer sent (its nonce is the peer's business).
std::vector<std::uint8_t> peer_probe(std::uint64_t session = kSession) {
  return bytes_of(wire::encode(wire::ProbeMessage{wire::ProbeKind::Probe, session, 7, 0, 0x55, 0}, kKey));
}

// The peer's ACK of our probe `ours`, as the peer would build it.
std::vector<std::uint8_t> peer_ack(const Transmit& ours) {
  const auto probe = wire::decode_probe(ours.bytes, kKey);
  return bytes_of(wire::encode(
      wire::ProbeMessage{wire::ProbeKind::Ack, kSession, 0, probe->sequence, 0x77, probe->nonce}, kKey));
}

// Sends everything due at each deadline until `until`; returns the datagrams.
std::vector<Transmit> drive(NaiveBirthday& attack, TimePoint until) {
  std::vector<Transmit> sent;
  while (auto deadline = attack.next_deadline()) {
    if (*deadline > until) break;
    attack.on_timer(*deadline);
    while (auto d = attack.poll_transmit(*deadline)) sent.push_back(*d);
  }
  return sent;
}

TEST(NaiveBirthdayTest, SendsTheBudgetAtTheConfiguredRateToRandomPortsOfThePeer) {
  Rng rng(1);
  NaiveBirthday attack(config(1000), rng, kStart);
  EXPECT_EQ(attack.next_deadline(), kStart);
  const auto sent = drive(attack, kStart + seconds(100));
  ASSERT_EQ(sent.size(), 1000u);
  std::set<std::uint16_t> ports;
  std::set<std::uint64_t> nonces;
  std::uint32_t sequence = 0;
  for (const auto& p : sent) {
    EXPECT_EQ(p.to.address, kPeer);
    EXPECT_GE(p.to.port, 1024);
    EXPECT_EQ(p.socket, 0u);  // Algorithm 1: one socket
    EXPECT_EQ(attack.local_port(p.socket), 40000);
    const auto decoded = wire::decode_probe(p.bytes, kKey);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->kind, wire::ProbeKind::Probe);
    EXPECT_EQ(decoded->session_id, kSession);
    EXPECT_EQ(decoded->sequence, sequence++);
    nonces.insert(decoded->nonce);
    ports.insert(p.to.port);
  }
  EXPECT_GT(ports.size(), 950u);  // 1000 uniform draws from 64,511 ports rarely repeat
  EXPECT_EQ(nonces.size(), 1000u);
  EXPECT_EQ(attack.result().probes_sent, 1000u);
  EXPECT_EQ(attack.result().outcome, PunchOutcome::Stopped);
  EXPECT_EQ(attack.result().stop_reason, StopReason::ProbeBudget);
  EXPECT_TRUE(attack.done());
}

TEST(NaiveBirthdayTest, ProbesFollowTheScheduleExactly) {
  Rng rng(2);
  NaiveBirthday attack(config(5), rng, kStart);
  for (int i = 0; i < 5; ++i) {
    const TimePoint due = kStart + kInterval * i;
    EXPECT_EQ(attack.next_deadline(), due);
    EXPECT_FALSE(attack.poll_transmit(due - Duration{1}));
    EXPECT_TRUE(attack.poll_transmit(due));
    EXPECT_FALSE(attack.poll_transmit(due));  // one probe per slot
  }
}

TEST(NaiveBirthdayTest, LateDriverCatchesUpWithoutDriftingTheRate) {
  Rng rng(3);
  NaiveBirthday attack(config(100), rng, kStart);
  int sent = 0;
  while (attack.poll_transmit(kStart + kInterval * 9)) ++sent;
  EXPECT_EQ(sent, 10);  // slots 0..9 were all due
  EXPECT_EQ(attack.next_deadline(), kStart + kInterval * 10);
}

TEST(NaiveBirthdayTest, WaitsLingerAfterTheLastProbeBeforeGivingUp) {
  Rng rng(4);
  auto c = config(3);
  c.linger = milliseconds(500);
  NaiveBirthday attack(c, rng, kStart);
  drive(attack, kStart + kInterval * 2);
  const TimePoint last = kStart + kInterval * 2;
  EXPECT_EQ(attack.next_deadline(), last + milliseconds(500));
  attack.on_timer(last + milliseconds(499));
  EXPECT_EQ(attack.result().outcome, PunchOutcome::Running);
  attack.on_timer(last + milliseconds(500));
  EXPECT_EQ(attack.result().outcome, PunchOutcome::Stopped);
  EXPECT_FALSE(attack.next_deadline());
  // The socket is closed now: a late probe is neither answered nor counted.
  attack.on_datagram(last + seconds(1), 0, kPeerMapping, peer_probe());
  EXPECT_FALSE(attack.poll_transmit(last + seconds(1)));
  EXPECT_EQ(attack.result().outcome, PunchOutcome::Stopped);
}

TEST(NaiveBirthdayTest, FreshLocalPortPerProbeWrapsInItsRange) {
  Rng rng(5);
  auto c = config(5);
  c.local_ports = LocalPortPolicy::FreshPerProbe;
  c.local_port_min = 60000;
  c.local_port_max = 60002;
  NaiveBirthday attack(c, rng, kStart);
  std::vector<std::uint16_t> local;
  for (const auto& p : drive(attack, kStart + seconds(1))) local.push_back(attack.local_port(p.socket));
  EXPECT_EQ(local, (std::vector<std::uint16_t>{60000, 60001, 60002, 60000, 60001}));
  EXPECT_EQ(attack.socket_of(60002), 2u);
  EXPECT_FALSE(attack.socket_of(60003));
}

TEST(NaiveBirthdayTest, DestinationPortsStayInTheConfiguredRange) {
  Rng rng(6);
  auto c = config(2000);
  c.min_port = 5000;
  c.max_port = 5009;
  NaiveBirthday attack(c, rng, kStart);
  std::set<std::uint16_t> ports;
  for (const auto& p : drive(attack, kStart + seconds(100))) ports.insert(p.to.port);
  EXPECT_EQ(ports, (std::set<std::uint16_t>{5000, 5001, 5002, 5003, 5004, 5005, 5006, 5007, 5008, 5009}));
}

TEST(NaiveBirthdayTest, SameSeedSameProbes) {
  Rng rng_a(7);
  Rng rng_b(7);
  NaiveBirthday a(config(50), rng_a, kStart);
  NaiveBirthday b(config(50), rng_b, kStart);
  const auto sent_a = drive(a, kStart + seconds(10));
  const auto sent_b = drive(b, kStart + seconds(10));
  ASSERT_EQ(sent_a.size(), sent_b.size());
  for (std::size_t i = 0; i < sent_a.size(); ++i) {
    EXPECT_EQ(sent_a[i].to, sent_b[i].to);
    EXPECT_EQ(sent_a[i].bytes, sent_b[i].bytes);
  }
}

TEST(NaiveBirthdayTest, ProbeFromThePeerIsAckedToItsSourceButConnectsOnlyOnConfirm) {
  Rng rng(8);
  NaiveBirthday attack(config(1000), rng, kStart);
  drive(attack, kStart + kInterval * 9);
  const TimePoint now = kStart + kInterval * 9 + milliseconds(1);
  attack.on_datagram(now, 0, kPeerMapping, peer_probe());
  EXPECT_EQ(attack.result().outcome, PunchOutcome::Running);  // a probe alone proves nothing fresh

  EXPECT_EQ(attack.next_deadline(), now);  // the ACK is due at once
  const auto ack = attack.poll_transmit(now + milliseconds(1));
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->to, kPeerMapping);
  EXPECT_EQ(ack->socket, 0u);
  const auto decoded = wire::decode_probe(ack->bytes, kKey);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->kind, wire::ProbeKind::Ack);
  EXPECT_EQ(decoded->echo_sequence, 7u);
  EXPECT_EQ(decoded->echo_nonce, 0x55u);

  // The peer's CONFIRM echoes our ACK's nonce: now we are connected.
  const auto confirm = wire::encode(
      wire::ProbeMessage{wire::ProbeKind::Confirm, kSession, 0, decoded->sequence, 0, decoded->nonce}, kKey);
  const TimePoint later = now + milliseconds(30);
  attack.on_datagram(later, 0, kPeerMapping, bytes_of(confirm));
  const auto& r = attack.result();
  EXPECT_EQ(r.outcome, PunchOutcome::Connected);
  EXPECT_FALSE(r.via_ack);
  EXPECT_EQ(r.connected_at, later);
  EXPECT_EQ(r.time_to_connect, later - kStart);
  EXPECT_EQ(r.peer, kPeerMapping);
  EXPECT_FALSE(attack.poll_transmit(later + seconds(1)));  // no more probes
  EXPECT_TRUE(attack.done());
  EXPECT_EQ(r.acks_sent, 1u);
}

TEST(NaiveBirthdayTest, AckOfOurProbeConnectsAndIsConfirmed) {
  Rng rng(9);
  NaiveBirthday attack(config(1000), rng, kStart);
  const auto sent = drive(attack, kStart + kInterval * 3);
  ASSERT_EQ(sent.size(), 4u);
  const Endpoint probed = sent[2].to;
  attack.on_datagram(kStart + seconds(1), 0, probed, peer_ack(sent[2]));
  EXPECT_EQ(attack.result().outcome, PunchOutcome::Connected);
  EXPECT_TRUE(attack.result().via_ack);
  EXPECT_EQ(attack.result().peer, probed);
  const auto confirm = attack.poll_transmit(kStart + seconds(1));
  ASSERT_TRUE(confirm);
  EXPECT_EQ(confirm->to, probed);
  EXPECT_EQ(wire::decode_probe(confirm->bytes, kKey)->kind, wire::ProbeKind::Confirm);
  EXPECT_FALSE(attack.poll_transmit(kStart + seconds(2)));
  EXPECT_TRUE(attack.done());
}

TEST(NaiveBirthdayTest, AckFromAnotherPortThanTheProbedOneIsAReplay) {
  Rng rng(10);
  NaiveBirthday attack(config(1000), rng, kStart);
  const auto sent = drive(attack, kStart + kInterval * 3);
  Endpoint elsewhere = sent[2].to;
  elsewhere.port = static_cast<std::uint16_t>(elsewhere.port ^ 1);
  attack.on_datagram(kStart + seconds(1), 0, elsewhere, peer_ack(sent[2]));
  EXPECT_EQ(attack.result().outcome, PunchOutcome::Running);
  EXPECT_EQ(attack.result().rejected, 1u);
}

TEST(NaiveBirthdayTest, IgnoresOtherSessionsStrangersWrongKeysAndGarbage) {
  Rng rng(11);
  NaiveBirthday attack(config(1000), rng, kStart);
  const TimePoint now = kStart + seconds(1);
  attack.on_datagram(now, 0, kPeerMapping, peer_probe(kSession + 1));
  attack.on_datagram(now, 0, Endpoint{IpAddress::v4({198, 51, 100, 66}), 51000}, peer_probe());
  attack.on_datagram(now, 0, kPeerMapping, std::vector<std::uint8_t>{1, 2, 3});
  auto truncated = peer_probe();
  truncated.pop_back();
  attack.on_datagram(now, 0, kPeerMapping, truncated);
  wire::SessionKey other = test_key();
  other[0] ^= 1;
  attack.on_datagram(now, 0, kPeerMapping,
                     bytes_of(wire::encode(wire::ProbeMessage{wire::ProbeKind::Probe, kSession, 1, 0, 2, 0},
                                           wire::ProbeKey(other, wire::SessionRole::Callee))));
  EXPECT_EQ(attack.result().outcome, PunchOutcome::Running);
  EXPECT_EQ(attack.result().acks_sent, 0u);
  EXPECT_EQ(attack.result().rejected, 5u);
  // Only probes came out, no ACK to anybody.
  while (auto d = attack.poll_transmit(now)) EXPECT_EQ(wire::decode_probe(d->bytes, kKey)->kind, wire::ProbeKind::Probe);
}

}  // namespace
}  // namespace natpunch::punch

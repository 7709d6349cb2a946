// The naive birthday attack (Algorithm 1) as a state machine, driven by
// hand in virtual time.
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

NaiveBirthdayConfig config(std::uint64_t budget) {
  NaiveBirthdayConfig c;
  c.peer_address = kPeer;
  c.session_id = kSession;
  c.probe_budget = budget;
  return c;
}

std::vector<std::uint8_t> message(wire::ProbeKind kind, std::uint64_t session = kSession) {
  const auto bytes = wire::encode(wire::ProbeMessage{kind, session, 7});
  return {bytes.begin(), bytes.end()};
}

// Sends everything due at each deadline until `until`; returns the probes.
std::vector<PunchDatagram> drive(NaiveBirthday& attack, TimePoint until) {
  std::vector<PunchDatagram> sent;
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
  std::uint32_t sequence = 0;
  for (const auto& p : sent) {
    EXPECT_EQ(p.to.address, kPeer);
    EXPECT_GE(p.to.port, 1024);
    EXPECT_EQ(p.local_port, 40000);  // Algorithm 1: one socket
    const auto decoded = wire::decode_probe(p.bytes);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->kind, wire::ProbeKind::Probe);
    EXPECT_EQ(decoded->session_id, kSession);
    EXPECT_EQ(decoded->sequence, sequence++);
    ports.insert(p.to.port);
  }
  EXPECT_GT(ports.size(), 950u);  // 1000 uniform draws from 64,511 ports rarely repeat
  EXPECT_EQ(attack.result().probes_sent, 1000u);
  EXPECT_EQ(attack.result().outcome, PunchOutcome::BudgetExhausted);
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
  EXPECT_EQ(attack.result().outcome, PunchOutcome::BudgetExhausted);
  EXPECT_FALSE(attack.next_deadline());
  // The socket is closed now: a late probe is neither answered nor counted.
  attack.on_datagram(last + seconds(1), 40000, kPeerMapping, message(wire::ProbeKind::Probe));
  EXPECT_FALSE(attack.poll_transmit(last + seconds(1)));
  EXPECT_EQ(attack.result().outcome, PunchOutcome::BudgetExhausted);
}

TEST(NaiveBirthdayTest, FreshLocalPortPerProbeWrapsInItsRange) {
  Rng rng(5);
  auto c = config(5);
  c.local_ports = LocalPortPolicy::FreshPerProbe;
  c.local_port_min = 60000;
  c.local_port_max = 60002;
  NaiveBirthday attack(c, rng, kStart);
  std::vector<std::uint16_t> local;
  for (const auto& p : drive(attack, kStart + seconds(1))) local.push_back(p.local_port);
  EXPECT_EQ(local, (std::vector<std::uint16_t>{60000, 60001, 60002, 60000, 60001}));
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
  for (std::size_t i = 0; i < sent_a.size(); ++i) EXPECT_EQ(sent_a[i].to, sent_b[i].to);
}

TEST(NaiveBirthdayTest, ProbeFromThePeerIsAckedToItsSourceAndStopsProbing) {
  Rng rng(8);
  NaiveBirthday attack(config(1000), rng, kStart);
  drive(attack, kStart + kInterval * 9);
  const TimePoint now = kStart + kInterval * 9 + milliseconds(1);
  attack.on_datagram(now, 40000, kPeerMapping, message(wire::ProbeKind::Probe));

  const auto& r = attack.result();
  EXPECT_EQ(r.outcome, PunchOutcome::Connected);
  EXPECT_FALSE(r.via_ack);
  EXPECT_EQ(r.probes_sent, 10u);
  EXPECT_EQ(r.connected_at, now);
  EXPECT_EQ(r.time_to_connect, now - kStart);
  EXPECT_EQ(r.local_port, 40000);
  EXPECT_EQ(r.peer, kPeerMapping);

  EXPECT_EQ(attack.next_deadline(), now);  // the ACK is due at once
  const auto ack = attack.poll_transmit(now + seconds(1));
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->to, kPeerMapping);
  EXPECT_EQ(ack->local_port, 40000);
  const auto decoded = wire::decode_probe(ack->bytes);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->kind, wire::ProbeKind::Ack);
  EXPECT_EQ(decoded->session_id, kSession);
  EXPECT_FALSE(attack.poll_transmit(now + seconds(1)));  // no more probes
  EXPECT_TRUE(attack.done());
  EXPECT_EQ(attack.result().acks_sent, 1u);
}

TEST(NaiveBirthdayTest, AckFromThePeerConnectsWithoutAnswering) {
  Rng rng(9);
  NaiveBirthday attack(config(1000), rng, kStart);
  drive(attack, kStart + kInterval * 3);
  attack.on_datagram(kStart + seconds(1), 40000, kPeerMapping, message(wire::ProbeKind::Ack));
  EXPECT_EQ(attack.result().outcome, PunchOutcome::Connected);
  EXPECT_TRUE(attack.result().via_ack);
  EXPECT_FALSE(attack.poll_transmit(kStart + seconds(2)));
  EXPECT_TRUE(attack.done());
}

TEST(NaiveBirthdayTest, KeepsAnsweringProbesAfterConnecting) {
  Rng rng(10);
  NaiveBirthday attack(config(1000), rng, kStart);
  attack.on_datagram(kStart, 40000, kPeerMapping, message(wire::ProbeKind::Ack));
  attack.on_datagram(kStart + seconds(1), 40000, kPeerMapping, message(wire::ProbeKind::Probe));
  const auto ack = attack.poll_transmit(kStart + seconds(1));
  ASSERT_TRUE(ack);
  EXPECT_EQ(wire::decode_probe(ack->bytes)->kind, wire::ProbeKind::Ack);
  EXPECT_EQ(attack.result().connected_at, kStart);  // the first arrival counts
}

TEST(NaiveBirthdayTest, IgnoresOtherSessionsStrangersAndGarbage) {
  Rng rng(11);
  NaiveBirthday attack(config(1000), rng, kStart);
  const TimePoint now = kStart + seconds(1);
  attack.on_datagram(now, 40000, kPeerMapping, message(wire::ProbeKind::Probe, kSession + 1));
  attack.on_datagram(now, 40000, Endpoint{IpAddress::v4({198, 51, 100, 66}), 51000}, message(wire::ProbeKind::Probe));
  attack.on_datagram(now, 40000, kPeerMapping, std::vector<std::uint8_t>{1, 2, 3});
  auto truncated = message(wire::ProbeKind::Probe);
  truncated.pop_back();
  attack.on_datagram(now, 40000, kPeerMapping, truncated);
  EXPECT_EQ(attack.result().outcome, PunchOutcome::Running);
  EXPECT_EQ(attack.result().acks_sent, 0u);
  // Only probes came out, no ACK to anybody.
  while (auto d = attack.poll_transmit(now)) EXPECT_EQ(wire::decode_probe(d->bytes)->kind, wire::ProbeKind::Probe);
}

TEST(ProbeWireTest, RoundTripsAndRejectsMalformed) {
  const wire::ProbeMessage m{wire::ProbeKind::Ack, 0xdeadbeefcafef00dULL, 0x01020304};
  const auto bytes = wire::encode(m);
  EXPECT_EQ(wire::decode_probe(bytes), m);
  EXPECT_EQ(bytes[4], 0xde);   // network byte order
  EXPECT_EQ(bytes[15], 0x04);
  auto bad = bytes;
  bad[0] = 'X';
  EXPECT_FALSE(wire::decode_probe(bad));
  bad = bytes;
  bad[2] = 2;  // unknown version
  EXPECT_FALSE(wire::decode_probe(bad));
  bad = bytes;
  bad[3] = 3;  // unknown kind
  EXPECT_FALSE(wire::decode_probe(bad));
  EXPECT_FALSE(wire::decode_probe(std::span<const std::uint8_t>(bytes.data(), 15)));
  EXPECT_FALSE(wire::decode_probe({}));
}

}  // namespace
}  // namespace natpunch::punch

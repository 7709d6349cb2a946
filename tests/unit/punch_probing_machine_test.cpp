// The common engine of the direct strategies (punch/probing_machine.hpp):
// two machines talk over a hand-made lossless wire in virtual time; an
// attacker who sees every datagram and can spoof any source, but lacks the
// session key, never gets a session established.
#include "punch/probing_machine.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <vector>

#include "punch/port_chooser_chain.hpp"
#include "punch/strategies.hpp"

namespace natpunch::punch {
namespace {

const IpAddress kAddressA = IpAddress::v4({203, 0, 113, 1});
const IpAddress kAddressB = IpAddress::v4({203, 0, 113, 2});
const IpAddress kMallory = IpAddress::v4({198, 51, 100, 66});
constexpr std::uint16_t kBase = 40000;
constexpr std::uint64_t kSession = 77;
constexpr Duration kLatency = milliseconds(20);

wire::SessionKey key_of(std::uint8_t seed) {
  wire::SessionKey k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed * 31 + i);
  return k;
}

// A (aiming at B) is the caller, B the callee.
ProbingConfig config_for(const IpAddress& peer, std::uint64_t budget = 1000) {
  ProbingConfig c;
  c.peer_address = peer;
  c.role = peer == kAddressA ? wire::SessionRole::Callee : wire::SessionRole::Caller;
  c.session_id = kSession;
  c.key = key_of(1);
  c.probe_budget = budget;
  c.send_interval = milliseconds(10);
  return c;
}

struct InFlight {
  TimePoint arrives;
  Endpoint from;
  Endpoint to;
  std::vector<std::uint8_t> bytes;
};

// Two public hosts, socket i of each at port kBase + i; the wire delivers
// a datagram after kLatency when its destination is one of the other
// side's sockets. Every datagram is also recorded for the attacker.
struct Wire {
  PunchStrategy* a = nullptr;
  PunchStrategy* b = nullptr;
  std::deque<InFlight> flight;
  std::vector<InFlight> captured;

  void collect(PunchStrategy& s, const IpAddress& own, TimePoint now) {
    while (auto d = s.poll_transmit(now)) {
      InFlight f{now + kLatency, Endpoint{own, static_cast<std::uint16_t>(kBase + d->socket)}, d->to, d->bytes.to_vector()};
      flight.push_back(f);
      captured.push_back(f);
    }
  }
  void deliver(const InFlight& f, TimePoint now) {
    PunchStrategy* target = f.to.address == kAddressA ? a : f.to.address == kAddressB ? b : nullptr;
    if (!target || f.to.port < kBase || f.to.port >= kBase + target->socket_count()) return;
    target->on_datagram(now, f.to.port - kBase, f.from, f.bytes);
  }
  // Runs in 1 ms steps until both are done or connected, or `until`.
  void run(TimePoint from, TimePoint until, bool stop_when_both_connected = true) {
    for (TimePoint now = from; now <= until; now += milliseconds(1)) {
      while (!flight.empty() && flight.front().arrives <= now) {
        const InFlight f = flight.front();
        flight.pop_front();
        deliver(f, now);
      }
      for (auto [s, own] : {std::pair{a, kAddressA}, std::pair{b, kAddressB}}) {
        if (auto due = s->next_deadline(); due && *due <= now) s->on_timer(now);
        collect(*s, own, now);
      }
      const bool both = a->result().outcome == PunchOutcome::Connected && b->result().outcome == PunchOutcome::Connected;
      if ((stop_when_both_connected && both) || (a->done() && b->done() && flight.empty())) return;
    }
  }
};

std::unique_ptr<ProbingMachine> knocking(const ProbingConfig& c, std::uint16_t port, Rng& rng, TimePoint start) {
  return std::make_unique<ProbingMachine>(c, std::make_unique<RepeatPortChooser>(port, c.probe_budget), rng, start);
}

TEST(ProbingMachineTest, HolePunchCompletesTheHandshakeAndBothStopProbing) {
  Rng rng_a(1), rng_b(2);
  auto a = knocking(config_for(kAddressB), kBase, rng_a, kTimeZero);
  auto b = knocking(config_for(kAddressA), kBase, rng_b, kTimeZero + milliseconds(3));
  Wire wire;
  wire.a = a.get();
  wire.b = b.get();
  wire.run(kTimeZero, kTimeZero + seconds(5));
  ASSERT_EQ(a->result().outcome, PunchOutcome::Connected);
  ASSERT_EQ(b->result().outcome, PunchOutcome::Connected);
  EXPECT_EQ(a->result().peer, (Endpoint{kAddressB, kBase}));
  EXPECT_EQ(b->result().peer, (Endpoint{kAddressA, kBase}));
  // One side completed it with an ACK, the other with the CONFIRM (or both
  // with ACKs when the probes crossed).
  EXPECT_TRUE(a->result().via_ack || b->result().via_ack);
  // Each reports its outcome once, as the machine contract's event.
  for (auto* m : {a.get(), b.get()}) {
    const auto event = m->poll_event();
    ASSERT_TRUE(event);
    const auto* connected = std::get_if<punch_event::Connected>(&*event);
    ASSERT_TRUE(connected);
    EXPECT_EQ(connected->peer, m->result().peer);
    EXPECT_EQ(connected->socket, m->result().socket);
    EXPECT_EQ(connected->at, m->result().connected_at);
    EXPECT_FALSE(m->poll_event());
  }
  const auto probes_a = a->result().probes_sent;
  const auto probes_b = b->result().probes_sent;
  EXPECT_LT(probes_a, 10u);
  wire.run(kTimeZero + seconds(5), kTimeZero + seconds(10), false);
  EXPECT_EQ(a->result().probes_sent, probes_a);  // nobody probes after success
  EXPECT_EQ(b->result().probes_sent, probes_b);
  EXPECT_TRUE(a->done());
  EXPECT_TRUE(b->done());
}

TEST(ProbingMachineTest, ProbesRoundRobinOverTheSockets) {
  Rng rng(3);
  auto c = config_for(kAddressB, 9);
  c.sockets = 4;
  ProbingMachine m(c, std::make_unique<RepeatPortChooser>(5000, 100), rng, kTimeZero);
  std::vector<std::uint32_t> sockets;
  for (TimePoint now = kTimeZero; now < kTimeZero + seconds(1); now += milliseconds(10))
    while (auto d = m.poll_transmit(now)) sockets.push_back(d->socket);
  EXPECT_EQ(sockets, (std::vector<std::uint32_t>{0, 1, 2, 3, 0, 1, 2, 3, 0}));
}

TEST(ProbingMachineTest, StopsAtTheTimeBudgetWithThatReason) {
  Rng rng(4);
  auto c = config_for(kAddressB, 1000000);
  c.time_budget = seconds(2);
  ProbingMachine m(c, std::make_unique<RepeatPortChooser>(5000, 1000000), rng, kTimeZero);
  TimePoint now = kTimeZero;
  while (auto due = m.next_deadline()) {
    now = *due;
    m.on_timer(now);
    while (m.poll_transmit(now)) {
    }
  }
  EXPECT_EQ(m.result().outcome, PunchOutcome::Stopped);
  EXPECT_EQ(m.result().stop_reason, StopReason::TimeBudget);
  const auto event = m.poll_event();
  ASSERT_TRUE(event);
  ASSERT_TRUE(std::holds_alternative<punch_event::Stopped>(*event));
  EXPECT_EQ(std::get<punch_event::Stopped>(*event).reason, StopReason::TimeBudget);
  EXPECT_FALSE(m.poll_event());
  EXPECT_EQ(now, kTimeZero + seconds(2));
  EXPECT_EQ(m.result().probes_sent, 200u);  // one per 10 ms
}

TEST(ProbingMachineTest, AnExhaustedPortOrderCountsAsTheProbeBudget) {
  Rng rng(5);
  ProbingMachine m(config_for(kAddressB, 1000), std::make_unique<RepeatPortChooser>(5000, 3), rng, kTimeZero);
  TimePoint now = kTimeZero;
  while (auto due = m.next_deadline()) {
    now = *due;
    m.on_timer(now);
    while (m.poll_transmit(now)) {
    }
  }
  EXPECT_EQ(m.result().probes_sent, 3u);
  EXPECT_EQ(m.result().stop_reason, StopReason::ProbeBudget);
}

// Mallory sees every datagram of a session and can send from any address
// and port, but has no key. Her best tricks, none of which may connect B.
TEST(ProbingMachineTest, ReplayedOrForgedDatagramsNeverCreateASession) {
  // A real session runs first so Mallory can capture its datagrams.
  Rng rng_a(6), rng_b(7);
  auto a = knocking(config_for(kAddressB), kBase, rng_a, kTimeZero);
  auto b = knocking(config_for(kAddressA), kBase, rng_b, kTimeZero);
  Wire wire;
  wire.a = a.get();
  wire.b = b.get();
  wire.run(kTimeZero, kTimeZero + seconds(5));
  ASSERT_EQ(a->result().outcome, PunchOutcome::Connected);
  std::vector<InFlight> probes, acks, confirms;
  // Whoever receives a datagram opens it: a's (the caller's) open at b.
  const wire::ProbeKey at_b(key_of(1), wire::SessionRole::Callee), at_a(key_of(1), wire::SessionRole::Caller);
  for (const auto& f : wire.captured) {
    const auto m = wire::decode_probe(f.bytes, f.from.address == kAddressA ? at_b : at_a);
    ASSERT_TRUE(m);
    (m->kind == wire::ProbeKind::Probe ? probes : m->kind == wire::ProbeKind::Ack ? acks : confirms).push_back(f);
  }
  ASSERT_FALSE(probes.empty());
  ASSERT_FALSE(acks.empty());
  ASSERT_FALSE(confirms.empty());

  // A fresh victim in the same session (same key: the worst case, e.g. B
  // restarted its attempt), listening only.
  Rng rng_v(8);
  ProbingConfig victim_config = config_for(kAddressA);
  ProbingMachine victim(victim_config, std::make_unique<RepeatPortChooser>(0, 0), rng_v, kTimeZero + seconds(10));
  TimePoint now = kTimeZero + seconds(10);
  const auto inject = [&](const Endpoint& from, std::span<const std::uint8_t> bytes) {
    victim.on_datagram(now, 0, from, bytes);
    while (victim.poll_transmit(now)) {
    }
    now += milliseconds(1);
  };
  const Endpoint spoofed_a{kAddressA, kBase};
  const Endpoint spoofed_other_port{kAddressA, 12345};
  for (const auto& f : probes) inject(spoofed_other_port, f.bytes);  // replayed probes: ACKed, nothing more
  for (const auto& f : acks) inject(spoofed_a, f.bytes);             // ACKs of probes the victim never sent
  for (const auto& f : confirms) inject(spoofed_a, f.bytes);         // CONFIRMs of ACKs it never sent
  for (const auto& f : confirms) inject(spoofed_other_port, f.bytes);
  for (const auto& f : probes) inject(Endpoint{kMallory, 1}, f.bytes);  // from her own address
  // Forgeries under a guessed key.
  const wire::ProbeKey guessed(key_of(2), wire::SessionRole::Caller);
  inject(spoofed_a, wire::encode(wire::ProbeMessage{wire::ProbeKind::Confirm, kSession, 0, 0, 0, 0}, guessed));
  inject(spoofed_a, wire::encode(wire::ProbeMessage{wire::ProbeKind::Ack, kSession, 0, 0, 0, 0}, guessed));
  EXPECT_EQ(victim.result().outcome, PunchOutcome::Running);
  EXPECT_GT(victim.result().rejected, 0u);

  // Even replaying the victim's own ACK back with a captured CONFIRM of
  // another run fails: the CONFIRM's nonce is not one the victim made.
  EXPECT_EQ(victim.result().outcome, PunchOutcome::Running);
}

// Issue 23, finding 1, for probes: an attacker who bounces a machine's own
// PROBE back to it (spoofing the peer's address and the probed port) makes
// it answer with an ACK; bouncing that ACK back too must not complete a
// handshake with itself, nor may its own CONFIRM.
TEST(ProbingMachineTest, OwnProbesAcksAndConfirmsReflectedBackNeverConnect) {
  Rng rng(11);
  auto a = knocking(config_for(kAddressB), kBase, rng, kTimeZero);
  TimePoint now = kTimeZero;
  std::vector<Transmit> sent;
  for (int i = 0; i < 20; ++i, now += milliseconds(10)) {
    if (auto due = a->next_deadline(); due && *due <= now) a->on_timer(now);
    while (auto d = a->poll_transmit(now)) sent.push_back(*d);
  }
  ASSERT_FALSE(sent.empty());
  // Bounce everything a sent back to it, from where it went, twice over
  // (the second round bounces a's answers to the first).
  for (int round = 0; round < 3; ++round) {
    std::vector<Transmit> answers;
    for (const auto& d : sent) {
      a->on_datagram(now, d.socket, d.to, d.bytes);
      while (auto r = a->poll_transmit(now)) answers.push_back(*r);
    }
    sent = answers;
    now += milliseconds(1);
  }
  EXPECT_EQ(a->result().outcome, PunchOutcome::Running) << "connected to its own reflection";
  EXPECT_EQ(a->result().acks_sent, 0u) << "its own probes are not the peer's";
  EXPECT_GT(a->result().rejected, 0u);
}

TEST(ProbingMachineTest, UnansweredAckIsRetransmittedAFewTimes) {
  Rng rng(9);
  auto c = config_for(kAddressA);
  ProbingMachine m(c, std::make_unique<RepeatPortChooser>(0, 0), rng, kTimeZero);
  const wire::ProbeKey key(c.key, wire::SessionRole::Caller);  // the peer's (m is the callee)
  const auto probe = wire::encode(wire::ProbeMessage{wire::ProbeKind::Probe, kSession, 0, 0, 1, 0}, key);
  m.on_datagram(kTimeZero, 0, Endpoint{kAddressA, 7000}, probe);
  int acks = 0;
  for (TimePoint now = kTimeZero; now < kTimeZero + seconds(3); now += milliseconds(1)) {
    if (auto due = m.next_deadline(); due && *due <= now) m.on_timer(now);
    while (auto d = m.poll_transmit(now)) {
      EXPECT_EQ(d->to, (Endpoint{kAddressA, 7000}));
      ++acks;
    }
  }
  EXPECT_EQ(acks, 9);  // the ACK and 8 retransmissions, 100 ms apart
  EXPECT_EQ(m.result().outcome, PunchOutcome::Stopped);
}

TEST(RelayOnlyStrategyTest, IsStoppedFromTheStart) {
  RelayOnlyStrategy relay;
  EXPECT_TRUE(relay.done());
  EXPECT_EQ(relay.result().stop_reason, StopReason::RelayOnly);
  EXPECT_FALSE(relay.next_deadline());
  EXPECT_STREQ(to_string(StopReason::RelayOnly), "no direct path possible: relay only");
}

}  // namespace
}  // namespace natpunch::punch

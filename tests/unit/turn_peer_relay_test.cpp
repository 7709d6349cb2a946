// turn::PeerRelay in virtual time: two peers, each with its own allocation
// (a scripted server each), exchange candidates, bind channels to each
// other's relayed address and carry datagrams both ways through a test
// network that relays ChannelData between the two allocations as a TURN
// server does (only to a peer the receiving allocation permitted).
// Failures (allocation refused, channel refused) end the route with the
// server's one-line error; datagrams from other addresses are dropped.
#include "turn/peer_relay.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <variant>
#include <vector>

#include "turn/channel_data.hpp"
#include "turn_fake_server.hpp"

namespace natpunch::turn {
namespace {

using Bytes = std::vector<std::uint8_t>;

const Endpoint kRelayedA{IpAddress::v4({203, 0, 113, 10}), 50000};
const Endpoint kRelayedB{IpAddress::v4({203, 0, 113, 20}), 50002};

ClientConfig config_for() {
  ClientConfig config;
  config.server = fake::kServer;
  config.credentials = {"alice", "secret"};
  return config;
}

struct Side {
  Side(const Endpoint& relayed, Rng& rng, TimePoint now) : relay(config_for(), rng, now) { server.relayed = relayed; }
  fake::FakeTurnServer server;
  PeerRelay relay;
  std::vector<PeerRelayEvent> events;
  std::vector<Bytes> received;

  // The peer this side's allocation bound channel `channel` to.
  std::optional<Endpoint> bound_peer(std::uint16_t channel) const {
    for (auto it = server.seen.rbegin(); it != server.seen.rend(); ++it)
      if (it->method == stun::Method::ChannelBind && it->channel == channel && it->peer) return it->peer;
    return std::nullopt;
  }
  // This side's channel to `peer`, if it bound one (a binding permits).
  std::optional<std::uint16_t> channel_to(const Endpoint& peer) const {
    for (const auto& r : server.seen)
      if (r.method == stun::Method::ChannelBind && r.peer == peer && r.channel) return r.channel;
    return std::nullopt;
  }
  template <class E>
  std::optional<E> last() const {
    std::optional<E> out;
    for (const auto& e : events)
      if (const auto* p = std::get_if<E>(&e)) out = *p;
    return out;
  }
};

// Both sides and the relaying network between their allocations.
struct Net {
  Rng rng{11};
  TimePoint now = kTimeZero;
  Side a{kRelayedA, rng, now};
  Side b{kRelayedB, rng, now};
  bool relay_between = true;  // false: the server drops relayed data

  void deliver(Side& to, const Bytes& bytes) { to.relay.on_datagram(now, 0, fake::kServer, bytes); }

  void from(Side& side, Side& other, const Bytes& bytes) {
    if (looks_like_channel_data(bytes)) {
      const auto view = decode_channel_data(bytes);
      ASSERT_TRUE(view);
      const auto peer = side.bound_peer(view->channel);
      if (!relay_between || peer != other.server.relayed) return;
      // The other allocation delivers on its channel to our relayed address.
      const auto channel = other.channel_to(side.server.relayed);
      if (!channel) return;  // no permission there: the server drops it
      Bytes out;
      ASSERT_TRUE(append_channel_data(*channel, view->payload, false, out));
      deliver(other, out);
      return;
    }
    const Bytes reply = side.server.answer(bytes);
    if (!reply.empty()) deliver(side, reply);
  }

  void pump() {
    for (bool any = true; any;) {
      any = false;
      while (auto t = a.relay.poll_transmit(now)) {
        any = true;
        from(a, b, t->bytes.to_vector());
      }
      while (auto t = b.relay.poll_transmit(now)) {
        any = true;
        from(b, a, t->bytes.to_vector());
      }
    }
    for (Side* s : {&a, &b}) {
      while (auto e = s->relay.poll_event()) s->events.push_back(std::move(*e));
      while (auto d = s->relay.poll_received()) s->received.push_back(std::move(d->payload));
    }
  }
  void run_for(Duration d) {
    const TimePoint until = now + d;
    pump();
    for (;;) {
      std::optional<TimePoint> next;
      for (Side* s : {&a, &b})
        if (auto t = s->relay.next_deadline(); t && (!next || *t < *next)) next = t;
      if (!next || *next > until) break;
      now = std::max(now, *next);
      a.relay.on_timer(now);
      b.relay.on_timer(now);
      pump();
    }
    now = until;
  }
  // Candidates exchanged (as the rendezvous would carry them).
  void exchange_candidates() {
    const auto ca = a.last<peer_relay_event::CandidateReady>();
    const auto cb = b.last<peer_relay_event::CandidateReady>();
    ASSERT_TRUE(ca && cb);
    a.relay.set_peer(now, cb->relayed);
    b.relay.set_peer(now, ca->relayed);
    run_for(seconds(1));
  }
};

TEST(TurnPeerRelay, BothSidesRelayThroughTheirAllocations) {
  Net net;
  EXPECT_FALSE(net.a.relay.send(net.now, Bytes{1}));  // nothing before the allocation
  net.run_for(seconds(1));
  const auto candidate = net.a.last<peer_relay_event::CandidateReady>();
  ASSERT_TRUE(candidate);
  EXPECT_EQ(candidate->relayed, kRelayedA);
  EXPECT_EQ(candidate->mapped, fake::kClientSeen);
  EXPECT_FALSE(net.a.relay.ready());
  EXPECT_FALSE(net.a.relay.send(net.now, Bytes{1}));  // no peer yet

  net.exchange_candidates();
  ASSERT_TRUE(net.a.relay.ready());
  ASSERT_TRUE(net.b.relay.ready());
  EXPECT_EQ(net.a.last<peer_relay_event::Ready>()->peer, kRelayedB);

  const Bytes hello{'h', 'e', 'l', 'l', 'o'};
  const Bytes back{'b', 'a', 'c', 'k'};
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(net.a.relay.send(net.now, hello));
  EXPECT_TRUE(net.b.relay.send(net.now, back));
  net.pump();
  EXPECT_EQ(net.b.received, (std::vector<Bytes>{hello, hello, hello}));
  EXPECT_EQ(net.a.received, (std::vector<Bytes>{back}));
  EXPECT_EQ(net.a.relay.counters().sent, 3u);
  EXPECT_EQ(net.b.relay.counters().received, 3u);
  EXPECT_EQ(net.a.relay.client().counters().sent_channel_data, 3u);
}

TEST(TurnPeerRelay, StaysUpAcrossRefreshesForAnHour) {
  Net net;
  net.run_for(seconds(1));
  net.exchange_candidates();
  net.run_for(seconds(3600));
  ASSERT_TRUE(net.a.relay.ready());
  EXPECT_FALSE(net.a.last<peer_relay_event::Failed>());
  EXPECT_TRUE(net.a.relay.send(net.now, Bytes{7}));
  net.pump();
  EXPECT_EQ(net.b.received.size(), 1u);
  // The allocation (600 s) and the channel (10 min) were refreshed in time.
  EXPECT_GE(std::count_if(net.a.server.seen.begin(), net.a.server.seen.end(),
                          [](const auto& r) { return r.method == stun::Method::Refresh; }),
            6);
}

TEST(TurnPeerRelay, AllocationRefusedFailsNamingTheServer) {
  Net net;
  net.a.server.error_for = [](const fake::SeenRequest& r) -> std::optional<int> {
    return r.method == stun::Method::Allocate ? std::optional<int>(486) : std::nullopt;
  };
  net.run_for(seconds(1));
  const auto failed = net.a.last<peer_relay_event::Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error.kind, ErrorKind::kQuotaReached);
  EXPECT_NE(failed->error.message.find("TURN server 203.0.113.10:3478 over udp"), std::string::npos)
      << failed->error.message;
  EXPECT_TRUE(net.a.relay.failed());
  EXPECT_FALSE(net.a.last<peer_relay_event::CandidateReady>());
  net.a.relay.set_peer(net.now, kRelayedB);  // nothing happens after the end
  EXPECT_FALSE(net.a.relay.send(net.now, Bytes{1}));
}

TEST(TurnPeerRelay, ChannelRefusedFailsTheRoute) {
  Net net;
  net.b.server.error_for = [](const fake::SeenRequest& r) -> std::optional<int> {
    return r.method == stun::Method::ChannelBind ? std::optional<int>(403) : std::nullopt;
  };
  net.run_for(seconds(1));
  net.exchange_candidates();
  EXPECT_TRUE(net.a.relay.ready());
  EXPECT_FALSE(net.b.relay.ready());
  const auto failed = net.b.last<peer_relay_event::Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error.kind, ErrorKind::kForbidden);
  EXPECT_FALSE(net.b.relay.send(net.now, Bytes{1}));
  // What a sends cannot reach b's allocation (it permitted nobody).
  EXPECT_TRUE(net.a.relay.send(net.now, Bytes{1}));
  net.pump();
  EXPECT_TRUE(net.b.received.empty());
}

TEST(TurnPeerRelay, DataFromAnotherAddressIsDropped) {
  Net net;
  net.run_for(seconds(1));
  net.exchange_candidates();
  // A Data indication from an address that is not the peer's.
  const Bytes payload{9, 9};
  net.deliver(net.a, net.a.server.data_indication(fake::kPeer, payload));
  // ... and one from the peer's IP on another port (its NAT's choice).
  const Endpoint other_port{kRelayedB.address, 61000};
  net.deliver(net.a, net.a.server.data_indication(other_port, payload));
  net.pump();
  EXPECT_EQ(net.a.relay.counters().foreign_dropped, 1u);
  EXPECT_EQ(net.a.received, (std::vector<Bytes>{payload}));
}

TEST(TurnPeerRelay, ANewPeerCandidateRebinds) {
  Net net;
  net.run_for(seconds(1));
  net.exchange_candidates();
  ASSERT_TRUE(net.a.relay.ready());
  const Endpoint moved{IpAddress::v4({203, 0, 113, 30}), 50004};
  net.a.relay.set_peer(net.now, moved);
  EXPECT_FALSE(net.a.relay.ready());  // until the new channel is bound
  net.run_for(seconds(1));
  ASSERT_TRUE(net.a.relay.ready());
  EXPECT_EQ(net.a.last<peer_relay_event::Ready>()->peer, moved);
  EXPECT_TRUE(net.a.channel_to(moved));
}

}  // namespace
}  // namespace natpunch::turn

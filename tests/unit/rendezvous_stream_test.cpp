// The rendezvous over TCP/TLS streams: the framing (stream_framing.hpp),
// who may hold a connection and for how long (stream_guard.hpp), and the
// server answering a registration over the stream it came on.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rendezvous/stream_framing.hpp"
#include "rendezvous/stream_guard.hpp"
#include "rendezvous_harness.hpp"

namespace natpunch::rendezvous {
namespace {

using testing::ep;
using testing::Harness;

std::vector<std::uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

std::vector<std::vector<std::uint8_t>> deframe(std::span<const std::uint8_t> stream, std::size_t piece,
                                               std::optional<StreamFramingError>* error = nullptr) {
  StreamDeframer d;
  std::vector<std::vector<std::uint8_t>> out;
  for (std::size_t i = 0; i < stream.size(); i += piece) {
    d.push(stream.subspan(i, std::min(piece, stream.size() - i)));
    while (auto m = d.next()) out.emplace_back(m->begin(), m->end());
  }
  if (error) *error = d.error();
  return out;
}

TEST(RendezvousStreamFraming, MessagesSurviveAnyCutOfTheStream) {
  const std::vector<std::vector<std::uint8_t>> messages = {
      bytes_of("a"), std::vector<std::uint8_t>(kMaxMessageSize, 0x5a), bytes_of("register me"), {0, 0, 0}};
  std::vector<std::uint8_t> stream;
  for (const auto& m : messages) ASSERT_TRUE(append_frame(stream, m));
  for (std::size_t piece : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}, std::size_t{1500},
                            stream.size()}) {
    SCOPED_TRACE(piece);
    std::optional<StreamFramingError> error;
    EXPECT_EQ(deframe(stream, piece, &error), messages);
    EXPECT_FALSE(error);
  }
}

TEST(RendezvousStreamFraming, HeaderIsTheBigEndianLength) {
  std::vector<std::uint8_t> out;
  ASSERT_TRUE(append_frame(out, std::vector<std::uint8_t>(0x0123, 1)));
  ASSERT_EQ(out.size(), 2u + 0x0123);
  EXPECT_EQ(out[0], 0x01);
  EXPECT_EQ(out[1], 0x23);
  EXPECT_FALSE(append_frame(out, {}));
  EXPECT_FALSE(append_frame(out, std::vector<std::uint8_t>(0x10000, 1)));
  EXPECT_EQ(out.size(), 2u + 0x0123);  // nothing appended by the refusals
}

TEST(RendezvousStreamFraming, BrokenFramesBreakTheStream) {
  struct Case {
    const char* name;
    std::vector<std::uint8_t> stream;
    StreamFramingError error;
  };
  const std::vector<Case> cases = {
      {"empty frame", {0x00, 0x00, 0x00, 0x01, 'x'}, StreamFramingError::kEmptyFrame},
      {"one byte over the largest message",
       {static_cast<std::uint8_t>((kMaxMessageSize + 1) >> 8), static_cast<std::uint8_t>((kMaxMessageSize + 1) & 0xff)},
       StreamFramingError::kTooLong},
      {"an HTTP request", bytes_of("GET / HTTP/1.1\r\n\r\n"), StreamFramingError::kTooLong},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::optional<StreamFramingError> error;
    EXPECT_TRUE(deframe(c.stream, 1, &error).empty());
    EXPECT_EQ(error, c.error);
  }
}

TEST(RendezvousStreamFraming, HoldsAtMostOnePartialFrame) {
  StreamDeframer d;
  std::vector<std::uint8_t> frame;
  ASSERT_TRUE(append_frame(frame, std::vector<std::uint8_t>(100, 7)));
  d.push(std::span(frame).first(50));
  EXPECT_FALSE(d.next());
  EXPECT_EQ(d.buffered(), 50u);
  d.push(std::span(frame).subspan(50));
  EXPECT_TRUE(d.next());
  EXPECT_FALSE(d.next());
  EXPECT_EQ(d.buffered(), 0u);
}

// --- StreamGuard, in virtual time.

const TimePoint kT0 = kTimeZero + seconds(1000);
const IpAddress kClient = IpAddress::v4({198, 51, 100, 7});

StreamLimits small_limits() {
  StreamLimits l;
  l.max_connections = 8;
  l.per_address = 0.5;  // 4 per address
  l.first_frame_timeout = seconds(10);
  l.frame_timeout = seconds(10);
  l.idle_timeout = seconds(90);
  return l;
}

TEST(RendezvousStreamGuard, BoundsConnectionsInAllAndPerAddress) {
  StreamGuard g(small_limits(), 1);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(g.admit(kT0, kClient));
  EXPECT_FALSE(g.admit(kT0, kClient));  // the address's share
  EXPECT_EQ(g.counters().refused_address, 1u);
  for (std::uint8_t i = 0; i < 4; ++i) EXPECT_TRUE(g.admit(kT0, IpAddress::v4({203, 0, 113, i})));
  EXPECT_FALSE(g.admit(kT0, IpAddress::v4({203, 0, 113, 99})));  // the table
  EXPECT_EQ(g.counters().refused_full, 1u);
  EXPECT_EQ(g.open(), 8u);
  EXPECT_EQ(g.open_from(kClient), 4u);
}

TEST(RendezvousStreamGuard, ClosingFreesTheSlot) {
  StreamGuard g(small_limits(), 1);
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(*g.admit(kT0, kClient));
  g.close(ids[0]);
  g.close(ids[0]);  // twice: nothing more freed
  EXPECT_EQ(g.open_from(kClient), 3u);
  EXPECT_TRUE(g.admit(kT0, kClient));
  EXPECT_FALSE(g.admit(kT0, kClient));
}

// Slowloris: bytes that never complete a frame never keep a connection.
TEST(RendezvousStreamGuard, DeadlinesCountWholeFramesOnly) {
  struct Case {
    const char* name;
    // Each second: whole frames and whether a partial is left, for `seconds` seconds.
    std::size_t frames_every_s;  // 0: never
    bool trickle_partial;
    int seconds_run;
    bool survives;
    std::uint64_t StreamCounters::*reason;
  };
  const std::vector<Case> cases = {
      {"silent after connecting", 0, false, 11, false, &StreamCounters::timed_out_first},
      {"a byte a second, never a frame", 0, true, 11, false, &StreamCounters::timed_out_first},
      {"a frame every 30 s (refreshes)", 30, false, 300, true, nullptr},
      {"a frame every 30 s with a byte a second in between", 30, true, 300, false, &StreamCounters::timed_out_frame},
      {"one frame then silence", 100000, false, 100, false, &StreamCounters::timed_out_idle},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    StreamGuard g(small_limits(), 1);
    const auto id = *g.admit(kT0, kClient);
    bool expired = false;
    for (int s = 1; s <= c.seconds_run && !expired; ++s) {
      const TimePoint now = kT0 + seconds(s);
      const bool frame = c.frames_every_s != 0 && (s == 1 || s % static_cast<int>(c.frames_every_s) == 0);
      g.on_bytes(now, id, frame ? 1 : 0, c.trickle_partial);
      for (auto gone : g.expire(now)) expired = expired || gone == id;
    }
    EXPECT_EQ(!expired, c.survives);
    if (c.reason) {
      EXPECT_EQ(g.counters().*(c.reason), 1u);
    }
    EXPECT_EQ(g.open(), c.survives ? 1u : 0u);
  }
}

// --- The server: a stream is a source; answers go back over it.

Harness::Peer& stream_peer(Harness& h, Endpoint at, std::uint64_t stream) {
  ClientConfig base;
  base.accept_policy = accept_all();
  return h.add_client(Identity::generate(h.random()), at, base, stream);
}

// Behind a carrier NAT a UDP client and a TCP client can share address and
// port number: each must get its own answers.
TEST(RendezvousOverStream, UdpAndStreamClientsOnOneEndpointGetTheirOwnAnswers) {
  Harness h;
  const Endpoint shared = ep(100, 64, 0, 1, 40000);
  auto& a = h.add_peer(shared);           // UDP
  auto& b = stream_peer(h, shared, 7);    // TCP from the same address and port
  ASSERT_TRUE(a.client->registered());
  ASSERT_TRUE(b.client->registered());
  EXPECT_EQ(h.server().registration_count(), 2u);
  a.client->connect(h.now, b.client->identity());
  h.pump();
  auto s = a.last<client_event::SessionReady>();
  ASSERT_TRUE(s);
  ASSERT_TRUE(a.client->send_relay(h.now, s->session.session_id, bytes_of("over udp")));
  ASSERT_TRUE(b.client->send_relay(h.now, s->session.session_id, bytes_of("over tcp")));
  h.pump();
  ASSERT_EQ(b.all<client_event::RelayReceived>().size(), 1u);
  ASSERT_EQ(a.all<client_event::RelayReceived>().size(), 1u);
  EXPECT_EQ(b.all<client_event::RelayReceived>()[0].payload, bytes_of("over udp"));
  EXPECT_EQ(a.all<client_event::RelayReceived>()[0].payload, bytes_of("over tcp"));
  EXPECT_EQ(h.server().counters().dropped_bad_mac, 0u);
  EXPECT_TRUE(h.stray.empty());
}

// A client that moves from UDP to a stream (UDP got blocked) is followed
// there only after it answered a PathChallenge sent over the stream.
TEST(RendezvousOverStream, RegistrationMovesToTheStreamAfterAPathChallenge) {
  Harness h;
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  auto& b = h.add_peer(ep(198, 51, 100, 20, 6000));
  a.client->connect(h.now, b.client->identity());
  h.pump();
  auto s = a.last<client_event::SessionReady>();
  ASSERT_TRUE(s);
  const auto validated = h.server().counters().paths_validated;
  b.endpoint = ep(198, 51, 100, 20, 41000);
  b.stream = 9;
  b.client->refresh_now(h.now);
  h.pump();
  EXPECT_EQ(h.server().counters().paths_validated, validated + 1);
  ASSERT_TRUE(a.client->send_relay(h.now, s->session.session_id, bytes_of("now over tcp")));
  h.pump();
  ASSERT_EQ(b.all<client_event::RelayReceived>().size(), 1u);
  EXPECT_EQ(b.all<client_event::RelayReceived>()[0].payload, bytes_of("now over tcp"));
}

// Relay from a registration made over a stream is limited like any other:
// the same session rate, whichever transport each side uses.
TEST(RendezvousOverStream, RelayOverAStreamIsRateLimitedAsOverUdp) {
  auto config = testing::test_server_config();
  config.relay.session_packets_per_second = 10;
  Harness h(config);
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  auto& b = stream_peer(h, ep(198, 51, 100, 20, 40000), 5);
  a.client->connect(h.now, b.client->identity());
  h.pump();
  auto s = a.last<client_event::SessionReady>();
  ASSERT_TRUE(s);
  std::size_t sent = 0;
  for (int step = 0; step < 300; ++step) {  // 100 packets/s for 3 s
    b.client->send_relay(h.now, s->session.session_id, bytes_of("tick"));
    ++sent;
    h.advance(milliseconds(10));
  }
  const auto delivered = a.all<client_event::RelayReceived>().size();
  EXPECT_GE(delivered, 38u);  // ~10/s plus the one-second burst
  EXPECT_LE(delivered, 42u);
  EXPECT_EQ(h.server().counters().relay_dropped_rate, sent - delivered);
}

// The per-source limit applies to a stream as to a UDP port: a flood of
// Registers over one connection is cut like one from a UDP port.
TEST(RendezvousOverStream, UnauthenticatedFloodOverAStreamIsLimitedPerSource) {
  auto config = testing::test_server_config();
  config.rate_limit = stun::RateLimitConfig{};
  Harness h(config);
  Register r;
  r.client_nonce.fill(1);
  r.identity = Identity::generate(h.random()).public_key;
  auto bytes = encode(r);
  const std::size_t sent = 1000;
  for (std::size_t i = 0; i < sent; ++i) h.server().handle(h.now, bytes, ep(198, 51, 100, 30, 5555), 3);
  EXPECT_GT(h.server().counters().dropped_rate_limited, sent / 2);
}

}  // namespace
}  // namespace natpunch::rendezvous

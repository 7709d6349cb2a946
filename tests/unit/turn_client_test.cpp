// The TURN client machine against a scripted server, in virtual time:
// the long-term credential dance (401, 438 once, wrong credentials), the
// error codes a server can answer, silence and garbage, integrity, the
// keep-alive schedule of allocation, permissions and channels, data both
// ways, closing, and the same over a byte stream cut into pieces.
#include "turn/client.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <variant>
#include <vector>

#include "stun/turn_attributes.hpp"
#include "turn/channel_data.hpp"
#include "turn_fake_server.hpp"

namespace natpunch::turn {
namespace {

using fake::kClientSeen;
using fake::kPeer;
using fake::kRelayed;
using fake::kServer;
using Bytes = std::vector<std::uint8_t>;

ClientConfig config_for(Transport transport = Transport::kUdp) {
  ClientConfig config;
  config.server = kServer;
  config.transport = transport;
  config.credentials = {"alice", "secret"};
  return config;
}

double seconds_since_start(TimePoint t) { return std::chrono::duration<double>(t - kTimeZero).count(); }

// Runs the client against the fake server: every datagram the client sends
// reaches the server at once and its answer comes straight back (or, when
// `answer` is set, whatever that returns instead).
struct Harness {
  explicit Harness(ClientConfig config = config_for()) : client(std::move(config), rng) {}

  Rng rng{7};
  fake::FakeTurnServer server;
  Client client;
  TimePoint now = kTimeZero;
  std::vector<ClientEvent> events;
  std::vector<Bytes> sent;                 // every datagram the client sent
  std::vector<TimePoint> sent_at;
  bool server_silent = false;
  std::size_t stream_chunk = 0;            // stream transports: deliver answers in pieces of this size
  std::function<std::optional<Bytes>(const Bytes&)> answer;  // nullopt: the server's own answer

  void deliver(const Bytes& bytes) {
    if (stream_chunk == 0) {
      client.on_datagram(now, 0, kServer, bytes);
      return;
    }
    for (std::size_t i = 0; i < bytes.size(); i += stream_chunk)
      client.on_datagram(now, 0, kServer, std::span(bytes).subspan(i, std::min(stream_chunk, bytes.size() - i)));
  }

  void pump() {
    while (auto transmit = client.poll_transmit(now)) {
      EXPECT_EQ(transmit->to, kServer);
      const Bytes bytes = transmit->bytes.to_vector();
      sent.push_back(bytes);
      sent_at.push_back(now);
      if (server_silent) continue;
      std::optional<Bytes> reply = answer ? answer(bytes) : std::nullopt;
      if (!reply) reply = server.answer(bytes);
      if (!reply->empty()) deliver(*reply);
    }
    while (auto event = client.poll_event()) events.push_back(std::move(*event));
  }

  // Advances virtual time through the client's deadlines up to `until`.
  void run_until(TimePoint until) {
    pump();
    for (auto deadline = client.next_deadline(); deadline && *deadline <= until; deadline = client.next_deadline()) {
      now = std::max(now, *deadline);
      client.on_timer(now);
      pump();
    }
    now = std::max(now, until);
  }
  void run_for(Duration d) { run_until(now + d); }

  template <class E>
  std::vector<E> all() const {
    std::vector<E> out;
    for (const auto& e : events)
      if (const auto* p = std::get_if<E>(&e)) out.push_back(*p);
    return out;
  }
  template <class E>
  std::optional<E> last() const {
    const auto v = all<E>();
    if (v.empty()) return std::nullopt;
    return v.back();
  }
  std::size_t count_seen(stun::Method method) const {
    return static_cast<std::size_t>(std::count_if(server.seen.begin(), server.seen.end(),
                                                  [&](const fake::SeenRequest& r) { return r.method == method; }));
  }
  void allocate() {
    client.allocate(now);
    run_for(seconds(1));
  }
};

// ------------------------------------------------------------- allocation

TEST(TurnClient, AllocatesAfterTheChallenge) {
  Harness h;
  h.allocate();
  const auto allocated = h.last<client_event::Allocated>();
  ASSERT_TRUE(allocated);
  EXPECT_EQ(allocated->relayed, kRelayed);
  EXPECT_EQ(allocated->mapped, kClientSeen);
  EXPECT_EQ(allocated->lifetime_seconds, 600u);
  EXPECT_EQ(h.client.state(), Client::State::kAllocated);
  EXPECT_EQ(h.client.relayed_address(), kRelayed);
  // The first Allocate went unsigned, the second with MESSAGE-INTEGRITY (MD5 key, RFC 5389 server).
  ASSERT_EQ(h.server.seen.size(), 2u);
  EXPECT_FALSE(h.server.seen[0].signed_request);
  EXPECT_TRUE(h.server.seen[1].signed_request);
  EXPECT_FALSE(h.server.seen[1].sha256);
  EXPECT_EQ(h.server.seen[1].lifetime, 600u);
  EXPECT_EQ(h.client.counters().challenges, 1u);
  EXPECT_EQ(h.client.auth().realm(), "lab.test");
}

TEST(TurnClient, StaleNonceIsRetriedOnceWithTheNewNonce) {
  Harness h;
  h.allocate();
  h.server.nonce = "nonce-2";  // the server rotates its nonce
  h.client.refresh(h.now);
  h.run_for(seconds(1));
  ASSERT_TRUE(h.last<client_event::Refreshed>());
  EXPECT_EQ(h.client.state(), Client::State::kAllocated);
  ASSERT_GE(h.server.seen.size(), 4u);
  EXPECT_EQ(h.server.seen[2].nonce, "nonce-1");  // refused with 438
  EXPECT_EQ(h.server.seen[3].nonce, "nonce-2");  // the retry
}

// A refresh refused (here: 438 twice) does not end the allocation at
// once: it relays until it expires (the session makes a new one meanwhile,
// session/turn_route.hpp), no further refresh is tried, then Failed.
TEST(TurnClient, StaleNonceTwiceForOneRefreshRefusesItAndTheAllocationRunsOut) {
  Harness h;
  h.allocate();
  // A server that hands out a fresh nonce and refuses it at once.
  h.answer = [&](const Bytes&) -> std::optional<Bytes> {
    h.server.nonce += "x";
    return std::nullopt;
  };
  h.client.refresh(h.now);
  h.run_for(seconds(1));
  const auto refused = h.last<client_event::RefreshRefused>();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->error.kind, ErrorKind::kStaleNonce);
  EXPECT_EQ(refused->error.code, 438);
  EXPECT_NE(refused->error.message.find("TURN server 203.0.113.10:3478 over udp"), std::string::npos)
      << refused->error.message;
  EXPECT_EQ(h.count_seen(stun::Method::Refresh), 2u);
  EXPECT_EQ(h.client.state(), Client::State::kAllocated) << "it still relays";
  EXPECT_FALSE(h.last<client_event::Failed>());
  h.client.refresh(h.now);
  h.run_for(seconds(600));
  EXPECT_EQ(h.count_seen(stun::Method::Refresh), 2u) << "no refresh after a refused one";
  const auto failed = h.last<client_event::Failed>();
  ASSERT_TRUE(failed) << "the allocation ran out";
  EXPECT_EQ(failed->error.code, 438);
  EXPECT_NE(failed->error.message.find("expired after its refresh was refused"), std::string::npos)
      << failed->error.message;
}

TEST(TurnClient, WrongPasswordFailsNamingTheServer) {
  ClientConfig config = config_for();
  config.credentials.password = "wrong";
  Harness h(config);
  h.allocate();
  const auto failed = h.last<client_event::Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error.kind, ErrorKind::kWrongCredentials);
  EXPECT_EQ(failed->error.code, 401);
  EXPECT_NE(failed->error.message.find("TURN server 203.0.113.10:3478 over udp refused the allocation: 401"),
            std::string::npos)
      << failed->error.message;
  EXPECT_EQ(h.server.seen.size(), 2u);  // one unsigned, one signed; no third try
  EXPECT_TRUE(h.client.done());
}

struct AllocateError {
  const char* name;
  int code;
  ErrorKind kind;
  const char* words;  // in the message
};

class TurnClientAllocateErrors : public ::testing::TestWithParam<AllocateError> {};

TEST_P(TurnClientAllocateErrors, OneClearError) {
  const auto& c = GetParam();
  Harness h;
  h.server.error_for = [&](const fake::SeenRequest& r) -> std::optional<int> {
    if (r.method == stun::Method::Allocate) return c.code;
    return std::nullopt;
  };
  h.allocate();
  const auto failed = h.last<client_event::Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error.kind, c.kind);
  EXPECT_EQ(failed->error.code, c.code);
  EXPECT_NE(failed->error.message.find("TURN server 203.0.113.10:3478 over udp refused the allocation: " +
                                       std::to_string(c.code)),
            std::string::npos)
      << failed->error.message;
  EXPECT_NE(failed->error.message.find(c.words), std::string::npos) << failed->error.message;
  EXPECT_EQ(failed->error.message.find('\n'), std::string::npos);
  EXPECT_EQ(h.all<client_event::Failed>().size(), 1u);
  EXPECT_FALSE(h.client.next_deadline());  // nothing left to do: no hang
}

INSTANTIATE_TEST_SUITE_P(
    Codes, TurnClientAllocateErrors,
    testing::Values(AllocateError{"forbidden", 403, ErrorKind::kForbidden, "Forbidden"},
                    AllocateError{"mismatch", 437, ErrorKind::kAllocationMismatch, "Allocation Mismatch"},
                    AllocateError{"wrong_credentials", 441, ErrorKind::kWrongCredentials, "Wrong Credentials"},
                    AllocateError{"transport", 442, ErrorKind::kUnsupportedTransport, "does not relay UDP"},
                    AllocateError{"quota", 486, ErrorKind::kQuotaReached, "Allocation Quota Reached"},
                    AllocateError{"capacity", 508, ErrorKind::kInsufficientCapacity, "Insufficient Capacity"},
                    AllocateError{"server_error", 500, ErrorKind::kRejected, "Server Error"}),
    [](const testing::TestParamInfo<AllocateError>& info) { return info.param.name; });

TEST(TurnClient, SilentServerTimesOutOnTheRetransmissionSchedule) {
  ClientConfig config = config_for();
  config.udp_retransmit = {milliseconds(100), 4, 8};  // sends at 0, .1, .3, .7 s; gives up at 1.5 s
  Harness h(config);
  h.server_silent = true;
  h.client.allocate(h.now);
  h.run_for(seconds(5));
  const auto failed = h.last<client_event::Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error.kind, ErrorKind::kNoAnswer);
  EXPECT_NE(failed->error.message.find("did not answer the allocation (4 request(s) in 1.5 s)"), std::string::npos)
      << failed->error.message;
  ASSERT_EQ(h.sent_at.size(), 4u);
  EXPECT_DOUBLE_EQ(seconds_since_start(h.sent_at[3]), 0.7);
  EXPECT_EQ(h.client.counters().retransmissions, 3u);
}

TEST(TurnClient, GarbageAnswersEndInNoAnswerThatSaysSo) {
  ClientConfig config = config_for();
  config.udp_retransmit = {milliseconds(100), 3, 4};
  Harness h(config);
  h.answer = [](const Bytes&) -> std::optional<Bytes> { return Bytes{'H', 'T', 'T', 'P', '/', '1', '.', '1'}; };
  h.client.allocate(h.now);
  h.run_for(seconds(5));
  const auto failed = h.last<client_event::Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error.kind, ErrorKind::kNoAnswer);
  EXPECT_NE(failed->error.message.find("3 datagram(s) from it were neither STUN nor ChannelData (first byte 0x48 'H')"),
            std::string::npos)
      << failed->error.message;
  EXPECT_EQ(h.client.counters().garbage, 3u);
}

TEST(TurnClient, DatagramsFromOtherSourcesAreIgnored) {
  Harness h;
  h.server_silent = true;
  h.client.allocate(h.now);
  h.pump();
  h.server_silent = false;
  const Bytes answer = h.server.answer(h.sent.back());  // a genuine 401 ...
  h.client.on_datagram(h.now, 0, kPeer, answer);         // ... from the wrong address
  EXPECT_EQ(h.client.counters().foreign_datagrams, 1u);
  EXPECT_EQ(h.client.counters().challenges, 0u);
}

TEST(TurnClient, UnauthenticatedBadRequestIsIgnoredAndReported) {
  ClientConfig config = config_for();
  config.udp_retransmit = {milliseconds(100), 2, 4};
  Harness h(config);
  h.server.error_for = [](const fake::SeenRequest&) -> std::optional<int> { return 400; };
  h.server.sign_errors = false;
  h.client.allocate(h.now);
  h.run_for(seconds(5));
  const auto failed = h.last<client_event::Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error.kind, ErrorKind::kNoAnswer);
  EXPECT_NE(failed->error.message.find("unauthenticated 400"), std::string::npos) << failed->error.message;
}

TEST(TurnClient, SuccessSignedWithAnotherKeyIsAnIntegrityViolation) {
  ClientConfig config = config_for();
  config.udp_retransmit = {milliseconds(100), 3, 4};
  Harness h(config);
  h.server.signing_password = "not-the-password";
  h.client.allocate(h.now);
  h.run_for(seconds(5));
  EXPECT_FALSE(h.last<client_event::Allocated>());
  const auto failed = h.last<client_event::Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error.kind, ErrorKind::kIntegrityViolation);
  EXPECT_EQ(h.client.counters().integrity_failures, 3u);  // each retransmission's answer discarded
}

TEST(TurnClient, StreamIntegrityViolationEndsAtOnce) {
  Harness h(config_for(Transport::kTcp));
  h.server.signing_password = "not-the-password";
  h.client.allocate(h.now);
  h.run_for(milliseconds(1));
  const auto failed = h.last<client_event::Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error.kind, ErrorKind::kIntegrityViolation);
  EXPECT_NE(failed->error.message.find("over tcp"), std::string::npos);
}

// ------------------------------------------------------------- lifetimes

TEST(TurnClient, RefreshesAMinuteBeforeExpiryAndKeepsGoing) {
  Harness h;
  h.allocate();
  h.run_until(kTimeZero + seconds(539));
  EXPECT_EQ(h.count_seen(stun::Method::Refresh), 0u);
  h.run_until(kTimeZero + seconds(541));
  ASSERT_EQ(h.count_seen(stun::Method::Refresh), 1u);
  EXPECT_EQ(h.server.seen.back().lifetime, 600u);
  h.run_until(kTimeZero + seconds(3600));
  EXPECT_EQ(h.count_seen(stun::Method::Refresh), 6u);  // every 540 s
  EXPECT_EQ(h.client.state(), Client::State::kAllocated);
  EXPECT_EQ(h.all<client_event::Refreshed>().size(), 6u);
}

TEST(TurnClient, ShortLifetimeRefreshesHalfWay) {
  Harness h;
  h.server.lifetime = 60;
  h.allocate();
  h.run_until(kTimeZero + seconds(29));
  EXPECT_EQ(h.count_seen(stun::Method::Refresh), 0u);
  h.run_until(kTimeZero + seconds(31));
  EXPECT_EQ(h.count_seen(stun::Method::Refresh), 1u);
}

TEST(TurnClient, UnansweredRefreshesEndBeforeTheAllocationWouldHave) {
  ClientConfig config = config_for();
  config.udp_retransmit = {milliseconds(500), 7, 16};  // 39.5 s per refresh
  Harness h(config);
  h.allocate();
  h.server_silent = true;
  h.run_until(kTimeZero + seconds(700));
  const auto failed = h.last<client_event::Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error.kind, ErrorKind::kNoAnswer);
  EXPECT_NE(failed->error.message.find("the allocation expired"), std::string::npos) << failed->error.message;
  EXPECT_LE(seconds_since_start(h.sent_at.back()), 600.0);
  // The first refresh at 540 s with its 6 retransmissions, then a second one until expiry.
  EXPECT_GE(h.sent.size(), 2u + 7u + 1u);
  EXPECT_DOUBLE_EQ(seconds_since_start(h.sent_at[2]), 540.0);
}

TEST(TurnClient, AllocationMismatchOnRefreshMeansItIsGone) {
  Harness h;
  h.allocate();
  h.server.error_for = [](const fake::SeenRequest& r) -> std::optional<int> {
    if (r.method == stun::Method::Refresh) return 437;
    return std::nullopt;
  };
  h.client.refresh(h.now);
  h.run_for(seconds(1));
  const auto failed = h.last<client_event::Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error.kind, ErrorKind::kAllocationMismatch);
  EXPECT_NE(failed->error.message.find("no longer knows the allocation"), std::string::npos);
}

TEST(TurnClient, PermissionsEveryFourMinutesChannelsEveryNine) {
  Harness h;
  h.client.create_permission(h.now, kPeer.address);  // before the allocation: waits
  h.pump();
  EXPECT_EQ(h.count_seen(stun::Method::CreatePermission), 0u);
  h.allocate();
  ASSERT_EQ(h.count_seen(stun::Method::CreatePermission), 1u);
  ASSERT_TRUE(h.last<client_event::PermissionCreated>());
  const Endpoint other{IpAddress::v4({203, 0, 113, 103}), 7000};
  const auto channel = h.client.bind_channel(h.now, other);
  ASSERT_EQ(channel, kMinChannel);
  EXPECT_EQ(h.client.bind_channel(h.now, other), kMinChannel);  // same peer, same channel
  h.run_for(seconds(1));
  ASSERT_TRUE(h.last<client_event::ChannelBound>());
  EXPECT_EQ(h.server.bound_channels, (std::vector<std::uint16_t>{kMinChannel}));

  h.run_until(kTimeZero + seconds(239));
  EXPECT_EQ(h.count_seen(stun::Method::CreatePermission), 1u);
  h.run_until(kTimeZero + seconds(242));
  EXPECT_EQ(h.count_seen(stun::Method::CreatePermission), 2u);
  EXPECT_EQ(h.count_seen(stun::Method::ChannelBind), 1u);
  h.run_until(kTimeZero + seconds(542));
  EXPECT_EQ(h.count_seen(stun::Method::ChannelBind), 2u);
  h.run_until(kTimeZero + seconds(1200));
  EXPECT_EQ(h.count_seen(stun::Method::CreatePermission), 6u);  // 0, 240, ..., 1200 (within 1 s)
  EXPECT_EQ(h.count_seen(stun::Method::ChannelBind), 3u);       // 1, 541, 1081
  EXPECT_EQ(h.all<client_event::PermissionCreated>().size(), 1u);  // refreshes are quiet
  EXPECT_EQ(h.all<client_event::ChannelBound>().size(), 1u);
}

TEST(TurnClient, ForbiddenPeerFailsThatRequestOnly) {
  Harness h;
  h.allocate();
  h.server.error_for = [](const fake::SeenRequest& r) -> std::optional<int> {
    if (r.method == stun::Method::CreatePermission) return 403;
    return std::nullopt;
  };
  h.client.create_permission(h.now, kPeer.address);
  h.run_for(seconds(1));
  const auto failed = h.last<client_event::RequestFailed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->method, stun::Method::CreatePermission);
  EXPECT_EQ(failed->error.kind, ErrorKind::kForbidden);
  EXPECT_NE(failed->error.message.find("refused a permission for 203.0.113.102: 403"), std::string::npos)
      << failed->error.message;
  EXPECT_EQ(h.client.state(), Client::State::kAllocated);
  h.run_until(kTimeZero + seconds(300));
  EXPECT_EQ(h.count_seen(stun::Method::CreatePermission), 1u);  // not retried
}

// ------------------------------------------------------------- data

TEST(TurnClient, DataBothWaysByIndicationThenByChannel) {
  Harness h;
  h.allocate();
  const Bytes hello = {'h', 'i'};
  ASSERT_TRUE(h.client.send(h.now, kPeer, hello));
  h.pump();
  ASSERT_EQ(h.server.seen.back().method, stun::Method::Send);
  EXPECT_EQ(h.server.seen.back().cls, stun::MessageClass::Indication);
  EXPECT_EQ(h.server.seen.back().peer, kPeer);
  EXPECT_EQ(h.server.seen.back().data, hello);

  h.client.on_datagram(h.now, 0, kServer, h.server.data_indication(kPeer, Bytes{1, 2, 3}));
  h.pump();
  auto data = h.last<client_event::PeerData>();
  ASSERT_TRUE(data);
  EXPECT_EQ(data->peer, kPeer);
  EXPECT_EQ(data->payload, (Bytes{1, 2, 3}));
  EXPECT_FALSE(data->via_channel);

  const auto channel = h.client.bind_channel(h.now, kPeer);
  ASSERT_TRUE(channel);
  ASSERT_TRUE(h.client.send(h.now, kPeer, hello));  // bind not answered yet: still an indication
  h.run_for(seconds(1));
  ASSERT_TRUE(h.last<client_event::ChannelBound>());
  ASSERT_TRUE(h.client.send(h.now, kPeer, hello));
  h.pump();
  const Bytes& last_sent = h.sent.back();
  auto view = decode_channel_data(last_sent);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->channel, *channel);
  EXPECT_EQ(Bytes(view->payload.begin(), view->payload.end()), hello);
  EXPECT_EQ(last_sent.size(), 6u);  // UDP: not padded

  Bytes in;
  append_channel_data(*channel, Bytes{4, 5}, false, in);
  h.client.on_datagram(h.now, 0, kServer, in);
  h.pump();
  data = h.last<client_event::PeerData>();
  ASSERT_TRUE(data);
  EXPECT_TRUE(data->via_channel);
  EXPECT_EQ(data->peer, kPeer);
  EXPECT_EQ(data->payload, (Bytes{4, 5}));
  EXPECT_EQ(h.client.counters().sent_indications, 2u);
  EXPECT_EQ(h.client.counters().sent_channel_data, 1u);

  Bytes unknown;
  append_channel_data(0x4FFF, Bytes{1}, false, unknown);  // a channel we never bound
  h.client.on_datagram(h.now, 0, kServer, unknown);
  EXPECT_EQ(h.client.counters().unmatched, 1u);
}

TEST(TurnClient, NoSendingWithoutAnAllocation) {
  Harness h;
  EXPECT_FALSE(h.client.send(h.now, kPeer, Bytes{1}));
  h.server_silent = true;
  h.client.allocate(h.now);
  EXPECT_FALSE(h.client.send(h.now, kPeer, Bytes{1}));
}

// ------------------------------------------------------------- closing

TEST(TurnClient, CloseDeletesTheAllocation) {
  Harness h;
  h.allocate();
  h.client.close(h.now);
  h.run_for(seconds(1));
  EXPECT_TRUE(h.last<client_event::Deallocated>());
  EXPECT_EQ(h.client.state(), Client::State::kClosed);
  EXPECT_EQ(h.server.seen.back().method, stun::Method::Refresh);
  EXPECT_EQ(h.server.seen.back().lifetime, 0u);
  EXPECT_FALSE(h.client.next_deadline());
}

TEST(TurnClient, CloseWithASilentServerStillFinishes) {
  ClientConfig config = config_for();
  config.udp_retransmit = {milliseconds(100), 2, 2};
  Harness h(config);
  h.allocate();
  h.server_silent = true;
  h.client.close(h.now);
  h.run_for(seconds(5));
  EXPECT_TRUE(h.last<client_event::Deallocated>());
  EXPECT_TRUE(h.client.done());
}

// ------------------------------------------------------------- streams

TEST(TurnClient, OverAStreamAnswersArriveInAnyPieces) {
  for (const std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{7}, std::size_t{1000}}) {
    Harness h(config_for(Transport::kTls));
    h.stream_chunk = chunk;
    h.allocate();
    ASSERT_TRUE(h.last<client_event::Allocated>()) << chunk;
    const auto channel = h.client.bind_channel(h.now, kPeer);
    h.run_for(seconds(1));
    ASSERT_TRUE(h.last<client_event::ChannelBound>()) << chunk;
    ASSERT_TRUE(h.client.send(h.now, kPeer, Bytes{1, 2, 3, 4, 5}));
    h.pump();
    EXPECT_EQ(h.sent.back().size(), 12u) << "ChannelData padded to 4 bytes over streams";
    // Two padded ChannelData messages and a Data indication in one piece of the stream.
    Bytes in;
    append_channel_data(*channel, Bytes{7}, true, in);
    append_channel_data(*channel, Bytes{8, 9}, true, in);
    const Bytes indication = h.server.data_indication(kPeer, Bytes{6});
    in.insert(in.end(), indication.begin(), indication.end());
    h.deliver(in);
    h.pump();
    const auto data = h.all<client_event::PeerData>();
    ASSERT_EQ(data.size(), 3u) << chunk;
    EXPECT_EQ(data[0].payload, (Bytes{7}));
    EXPECT_EQ(data[1].payload, (Bytes{8, 9}));
    EXPECT_EQ(data[2].payload, (Bytes{6}));
  }
}

TEST(TurnClient, StreamRequestsAreSentOnceAndTimeOutAfterTi) {
  ClientConfig config = config_for(Transport::kTcp);
  config.stream_timeout = seconds(5);
  Harness h(config);
  h.server_silent = true;
  h.client.allocate(h.now);
  h.run_for(seconds(10));
  EXPECT_EQ(h.sent.size(), 1u);
  const auto failed = h.last<client_event::Failed>();
  ASSERT_TRUE(failed);
  EXPECT_NE(failed->error.message.find("(1 request(s) in 5.0 s)"), std::string::npos) << failed->error.message;
}

TEST(TurnClient, GarbageOnAStreamEndsAtOnce) {
  Harness h(config_for(Transport::kTcp));
  h.answer = [](const Bytes&) -> std::optional<Bytes> { return Bytes{'S', 'S', 'H', '-', '2', '.', '0'}; };
  h.client.allocate(h.now);
  h.run_for(milliseconds(1));
  const auto failed = h.last<client_event::Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error.kind, ErrorKind::kBadAnswer);
  EXPECT_NE(failed->error.message.find("neither STUN nor ChannelData (a message starting with 0x53 'S')"),
            std::string::npos)
      << failed->error.message;
}

TEST(TurnClient, ConnectionClosedEndsTheMachine) {
  Harness h(config_for(Transport::kTcp));
  h.allocate();
  h.client.on_connection_closed(h.now);
  h.pump();
  const auto failed = h.last<client_event::Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error.kind, ErrorKind::kConnectionClosed);
  EXPECT_NE(failed->error.message.find("closed the connection (the allocation ends with it)"), std::string::npos);
}

// ------------------------------------------------------------- RFC 8489 servers

TEST(TurnClient, PasswordAlgorithmsNegotiateSha256) {
  Harness h;
  h.server.offered_algorithms = {stun::PasswordAlgorithm::kSha256, stun::PasswordAlgorithm::kMd5};
  h.allocate();
  ASSERT_TRUE(h.last<client_event::Allocated>());
  const auto& signed_allocate = h.server.seen[1];
  EXPECT_TRUE(signed_allocate.sha256);
  EXPECT_EQ(signed_allocate.password_algorithm, 0x0002);
  EXPECT_EQ(h.client.auth().algorithm(), stun::PasswordAlgorithm::kSha256);
  // Later requests keep it.
  h.client.refresh(h.now);
  h.run_for(seconds(1));
  EXPECT_TRUE(h.server.seen.back().sha256);
  EXPECT_TRUE(h.last<client_event::Refreshed>());
}

TEST(TurnClient, FirstSupportedAlgorithmIsChosen) {
  Harness h;
  h.server.offered_algorithms = {stun::PasswordAlgorithm::kMd5, stun::PasswordAlgorithm::kSha256};
  h.allocate();
  ASSERT_TRUE(h.last<client_event::Allocated>());
  EXPECT_EQ(h.server.seen[1].password_algorithm, 0x0001);
  EXPECT_TRUE(h.server.seen[1].sha256);  // MESSAGE-INTEGRITY-SHA256 whichever key
}

TEST(TurnClient, UsernameAnonymityUsesUserhash) {
  Harness h;
  h.server.offered_algorithms = {stun::PasswordAlgorithm::kSha256};
  h.server.announce_username_anonymity = true;
  h.allocate();
  ASSERT_TRUE(h.last<client_event::Allocated>());
  EXPECT_TRUE(h.server.seen[1].userhash);
  EXPECT_TRUE(h.client.auth().uses_userhash());
}

TEST(TurnClient, AlgorithmsStrippedOnThePathIsADowngrade) {
  Harness h;
  h.server.offered_algorithms = {stun::PasswordAlgorithm::kSha256};
  // Someone removes PASSWORD-ALGORITHMS from the 401 but not the nonce cookie.
  h.answer = [&](const Bytes& request) -> std::optional<Bytes> {
    Bytes reply = h.server.answer(request);
    auto m = stun::MessageView::decode(reply);
    if (!m || !m->error_code() || m->error_code()->code != 401) return reply;
    Bytes stripped(1024);
    stun::MessageBuilder b(stripped, m->method(), stun::MessageClass::ErrorResponse, m->transaction_id());
    b.add_error_code(401, "Unauthorized");
    b.add_string(stun::attr::kRealm, *m->realm());
    b.add_string(stun::attr::kNonce, *m->nonce());
    stripped.resize(b.size());
    return stripped;
  };
  h.allocate();
  const auto failed = h.last<client_event::Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error.kind, ErrorKind::kDowngrade);
  EXPECT_EQ(h.server.seen.size(), 1u);  // no signed retry
}

}  // namespace
}  // namespace natpunch::turn

// The Binding query on the machine contract: a response from the server it
// asked ends it with one Done event; silence fails over; anything else
// (another source, another socket, another id) is ignored.
#include "stun/binding_query.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "stun/message.hpp"

namespace natpunch::stun {
namespace {

static_assert(ProtocolMachine<BindingQuery>);

const Endpoint kServer{IpAddress::v4({198, 51, 100, 10}), 3478};
const Endpoint kDeadServer{IpAddress::v4({198, 51, 100, 1}), 3478};
const Endpoint kMapped{IpAddress::v4({203, 0, 113, 5}), 40000};

std::vector<std::uint8_t> success_for(const Transmit& request, const Endpoint& mapped) {
  auto view = MessageView::decode(request.bytes);
  EXPECT_TRUE(view);
  std::vector<std::uint8_t> buf(128);
  MessageBuilder b(buf, Method::Binding, MessageClass::SuccessResponse, view->transaction_id(), view->cookie());
  b.add_xor_address(attr::kXorMappedAddress, mapped);
  buf.resize(b.size());
  return buf;
}

TEST(BindingQueryTest, AnswerEndsTheQueryWithOneDoneEvent) {
  Rng rng(5);
  BindingQuery query({kServer}, RetransmitPolicy{}, rng, kTimeZero);
  auto request = query.poll_transmit(kTimeZero);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->socket, 0u);
  EXPECT_EQ(request->to, kServer);
  EXPECT_FALSE(query.poll_transmit(kTimeZero));  // one datagram per call, the next one not yet due
  EXPECT_FALSE(query.poll_event());

  const auto answer = success_for(*request, kMapped);
  query.on_datagram(kTimeZero + milliseconds(30), 1, kServer, answer);  // not our socket
  query.on_datagram(kTimeZero + milliseconds(30), 0, kDeadServer, answer);  // not the server asked
  EXPECT_FALSE(query.done());
  query.on_datagram(kTimeZero + milliseconds(30), 0, kServer, answer);
  ASSERT_TRUE(query.done());

  auto event = query.poll_event();
  ASSERT_TRUE(event);
  const auto& result = std::get<binding_event::Done>(*event).result;
  EXPECT_TRUE(result.answered);
  EXPECT_EQ(result.mapped, kMapped);
  EXPECT_EQ(result.server, kServer);
  EXPECT_EQ(result.round_trip, milliseconds(30));
  EXPECT_EQ(result.requests_sent, 1);
  EXPECT_FALSE(query.poll_event());  // once
  EXPECT_FALSE(query.next_deadline());
}

TEST(BindingQueryTest, SilentServerFailsOverAfterItsSchedule) {
  Rng rng(5);
  BindingQuery query({kDeadServer, kServer}, RetransmitPolicy{milliseconds(100), 2, 3}, rng, kTimeZero);
  std::vector<Endpoint> sent_to;
  TimePoint now = kTimeZero;
  std::optional<Transmit> to_live;
  for (int step = 0; step < 10 && !to_live; ++step) {
    while (auto t = query.poll_transmit(now)) {
      sent_to.push_back(t->to);
      if (t->to == kServer) to_live = t;
    }
    if (to_live) break;
    ASSERT_TRUE(query.next_deadline());
    now = *query.next_deadline();
    query.on_timer(now);
  }
  ASSERT_TRUE(to_live);
  // Two sends at 0 and 100 ms, then give up 3 x 100 ms later, at 400 ms.
  EXPECT_EQ(sent_to, (std::vector<Endpoint>{kDeadServer, kDeadServer, kServer}));
  EXPECT_EQ(now, kTimeZero + milliseconds(400));
  query.on_datagram(now + milliseconds(10), 0, kServer, success_for(*to_live, kMapped));
  auto event = query.poll_event();
  ASSERT_TRUE(event);
  const auto& result = std::get<binding_event::Done>(*event).result;
  EXPECT_EQ(result.silent_servers, std::vector<Endpoint>{kDeadServer});
  EXPECT_EQ(result.requests_sent, 3);
  EXPECT_EQ(result.mapped, kMapped);
}

TEST(BindingQueryTest, EveryServerSilentIsDoneUnanswered) {
  Rng rng(5);
  BindingQuery query({kDeadServer}, RetransmitPolicy{milliseconds(100), 1, 2}, rng, kTimeZero);
  ASSERT_TRUE(query.poll_transmit(kTimeZero));
  query.on_timer(kTimeZero + milliseconds(200));
  auto event = query.poll_event();
  ASSERT_TRUE(event);
  EXPECT_FALSE(std::get<binding_event::Done>(*event).result.answered);
  EXPECT_FALSE(query.poll_transmit(kTimeZero + seconds(10)));
}

}  // namespace
}  // namespace natpunch::stun

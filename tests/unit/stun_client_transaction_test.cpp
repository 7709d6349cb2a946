#include "stun/client_transaction.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace natpunch::stun {
namespace {

const Endpoint kServer{IpAddress::v4({198, 51, 100, 10}), 3478};
const TransactionId kId{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

std::vector<std::uint8_t> encode(MessageClass cls, const TransactionId& id, std::uint32_t cookie = kMagicCookie) {
  std::vector<std::uint8_t> buf(128);
  MessageBuilder b(buf, Method::Binding, cls, id, cookie);
  if (cls == MessageClass::SuccessResponse)
    b.add_xor_address(attr::kXorMappedAddress, Endpoint{IpAddress::v4({203, 0, 113, 5}), 40000});
  if (cls == MessageClass::ErrorResponse) b.add_error_code(420, "Unknown Attribute");
  buf.resize(b.size());
  return buf;
}

std::vector<std::uint8_t> request(const TransactionId& id = kId, std::uint32_t cookie = kMagicCookie) {
  return encode(MessageClass::Request, id, cookie);
}

// Steps the transaction through its own deadlines; returns send times in ms.
std::vector<long> send_times(ClientTransaction& tx, TimePoint* ended_at) {
  std::vector<long> times;
  TimePoint now = kTimeZero;
  while (!tx.finished()) {
    if (tx.poll_transmit(now)) times.push_back(std::chrono::duration_cast<milliseconds>(now - kTimeZero).count());
    tx.on_timer(now);
    if (auto d = tx.next_deadline()) now = *d;
  }
  *ended_at = now;
  return times;
}

TEST(ClientTransactionTest, Rfc8489DefaultSchedule) {
  ClientTransaction tx(request(), kServer, RetransmitPolicy{}, kTimeZero);
  TimePoint ended{};
  EXPECT_EQ(send_times(tx, &ended), (std::vector<long>{0, 500, 1500, 3500, 7500, 15500, 31500}));
  EXPECT_EQ(ended, kTimeZero + milliseconds(39500));
  EXPECT_EQ(tx.state(), TransactionState::TimedOut);
  EXPECT_EQ(tx.send_count(), 7);
  EXPECT_FALSE(tx.next_deadline());
}

TEST(ClientTransactionTest, NotTimedOutOneTickBeforeDeadline) {
  ClientTransaction tx(request(), kServer, RetransmitPolicy{}, kTimeZero);
  for (long t : {0, 500, 1500, 3500, 7500, 15500, 31500}) ASSERT_TRUE(tx.poll_transmit(kTimeZero + milliseconds(t)));
  tx.on_timer(kTimeZero + milliseconds(39500) - Duration{1});
  EXPECT_EQ(tx.state(), TransactionState::Pending);
  EXPECT_FALSE(tx.poll_transmit(kTimeZero + milliseconds(39000)));  // Rc sends are all there is
  tx.on_timer(kTimeZero + milliseconds(39500));
  EXPECT_EQ(tx.state(), TransactionState::TimedOut);
}

TEST(ClientTransactionTest, CustomPolicySchedule) {
  ClientTransaction tx(request(), kServer, RetransmitPolicy{milliseconds(100), 3, 4}, kTimeZero + seconds(5));
  std::vector<long> times;
  TimePoint now = kTimeZero + seconds(5);
  while (!tx.finished()) {
    if (tx.poll_transmit(now)) times.push_back(std::chrono::duration_cast<milliseconds>(now - kTimeZero).count());
    tx.on_timer(now);
    if (auto d = tx.next_deadline()) now = *d;
  }
  EXPECT_EQ(times, (std::vector<long>{5000, 5100, 5300}));
  EXPECT_EQ(now, kTimeZero + milliseconds(5700));  // 300 + 4 * 100 after the start
  EXPECT_EQ(tx.state(), TransactionState::TimedOut);
}

TEST(ClientTransactionTest, SingleSendPolicyWaitsRmTimesRto) {
  ClientTransaction tx(request(), kServer, RetransmitPolicy{milliseconds(200), 1, 2}, kTimeZero);
  ASSERT_TRUE(tx.poll_transmit(kTimeZero));
  EXPECT_EQ(tx.next_deadline(), kTimeZero + milliseconds(400));
  EXPECT_FALSE(tx.due(kTimeZero + seconds(1)));
}

TEST(ClientTransactionTest, DueFollowsTheSchedule) {
  ClientTransaction tx(request(), kServer, RetransmitPolicy{}, kTimeZero);
  EXPECT_TRUE(tx.due(kTimeZero));
  EXPECT_EQ(tx.next_deadline(), kTimeZero);
  ASSERT_TRUE(tx.poll_transmit(kTimeZero));
  EXPECT_FALSE(tx.due(kTimeZero));
  EXPECT_FALSE(tx.due(kTimeZero + milliseconds(499)));
  EXPECT_TRUE(tx.due(kTimeZero + milliseconds(500)));
  EXPECT_FALSE(tx.poll_transmit(kTimeZero + milliseconds(499)));
}

TEST(ClientTransactionTest, LateCallerGetsFullIntervalAfterActualSend) {
  ClientTransaction tx(request(), kServer, RetransmitPolicy{}, kTimeZero);
  ASSERT_TRUE(tx.poll_transmit(kTimeZero));
  ASSERT_TRUE(tx.poll_transmit(kTimeZero + milliseconds(2000)));  // was due at 500
  EXPECT_FALSE(tx.poll_transmit(kTimeZero + milliseconds(2000)));  // one send per call, no burst
  EXPECT_EQ(tx.next_deadline(), kTimeZero + milliseconds(3000));
}

TEST(ClientTransactionTest, TransmitsTheRequestToTheDestination) {
  const auto bytes = request();
  ClientTransaction tx(bytes, kServer, RetransmitPolicy{}, kTimeZero);
  auto sent = tx.poll_transmit(kTimeZero);
  ASSERT_TRUE(sent);
  EXPECT_EQ(std::vector<std::uint8_t>(sent->begin(), sent->end()), bytes);
  EXPECT_EQ(tx.destination(), kServer);
  EXPECT_EQ(tx.id(), kId);
  EXPECT_EQ(tx.cookie(), kMagicCookie);
}

TEST(ClientTransactionTest, ResponseStopsRetransmission) {
  ClientTransaction tx(request(), kServer, RetransmitPolicy{}, kTimeZero);
  ASSERT_TRUE(tx.poll_transmit(kTimeZero));
  ASSERT_TRUE(tx.poll_transmit(kTimeZero + milliseconds(500)));
  const auto response = encode(MessageClass::SuccessResponse, kId);
  auto view = MessageView::decode(response);
  ASSERT_TRUE(view);
  EXPECT_TRUE(tx.matches(*view));
  EXPECT_TRUE(tx.on_response(*view));
  EXPECT_EQ(tx.state(), TransactionState::Succeeded);
  EXPECT_FALSE(tx.next_deadline());
  EXPECT_FALSE(tx.poll_transmit(kTimeZero + seconds(10)));
  tx.on_timer(kTimeZero + seconds(60));
  EXPECT_EQ(tx.state(), TransactionState::Succeeded);
  EXPECT_EQ(tx.send_count(), 2);
  EXPECT_FALSE(tx.on_response(*view));  // a duplicate is not consumed twice
}

TEST(ClientTransactionTest, ErrorResponseRejects) {
  ClientTransaction tx(request(), kServer, RetransmitPolicy{}, kTimeZero);
  ASSERT_TRUE(tx.poll_transmit(kTimeZero));
  const auto response = encode(MessageClass::ErrorResponse, kId);
  auto view = MessageView::decode(response);
  ASSERT_TRUE(view);
  EXPECT_TRUE(tx.on_response(*view));
  EXPECT_EQ(tx.state(), TransactionState::Rejected);
}

TEST(ClientTransactionTest, OnlyResponsesWithSameIdAndCookieMatch) {
  ClientTransaction tx(request(), kServer, RetransmitPolicy{}, kTimeZero);
  TransactionId other = kId;
  other[11] ^= 1;
  const auto wrong_id = encode(MessageClass::SuccessResponse, other);
  const auto wrong_cookie = encode(MessageClass::SuccessResponse, kId, 0x01020304);
  const auto echoed_request = encode(MessageClass::Request, kId);
  const auto indication = encode(MessageClass::Indication, kId);
  for (const auto* bytes : {&wrong_id, &wrong_cookie, &echoed_request, &indication}) {
    auto view = MessageView::decode(*bytes);
    ASSERT_TRUE(view);
    EXPECT_FALSE(tx.matches(*view));
    EXPECT_FALSE(tx.on_response(*view));
  }
  EXPECT_EQ(tx.state(), TransactionState::Pending);
}

TEST(ClientTransactionTest, ClassicTransactionMatchesOnFull128BitId) {
  // RFC 3489 ids use the cookie word too; it must be compared as well.
  ClientTransaction tx(request(kId, 0xdeadbeef), kServer, RetransmitPolicy{}, kTimeZero);
  EXPECT_EQ(tx.cookie(), 0xdeadbeefu);
  std::vector<std::uint8_t> buf(64);
  MessageBuilder b(buf, Method::Binding, MessageClass::SuccessResponse, kId, 0xdeadbeef);
  b.add_address(attr::kMappedAddress, Endpoint{IpAddress::v4({203, 0, 113, 5}), 40000});
  auto view = MessageView::decode(b.bytes());
  ASSERT_TRUE(view);
  EXPECT_TRUE(tx.on_response(*view));
}

}  // namespace
}  // namespace natpunch::stun

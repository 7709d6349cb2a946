// Keepalive timing, path-death detection and route state after a punch,
// in virtual time (punch/session_keeper.hpp).
#include "punch/session_keeper.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace natpunch::punch {
namespace {

constexpr TimePoint kStart = kTimeZero + seconds(100);

KeepaliveConfig kpn() {
  KeepaliveConfig c;
  c.idle_timeout = seconds(239);  // Table IV: KPN established timeout
  return c;
}

TEST(SessionKeeperTest, IntervalIsTheIdleTimeoutTimesSafetyWithAFloor) {
  EXPECT_EQ(SessionKeeper(kpn(), kStart).keepalive_interval(), milliseconds(119500));
  KeepaliveConfig roaming;
  roaming.idle_timeout = seconds(5);  // Telia NO roaming
  EXPECT_EQ(SessionKeeper(roaming, kStart).keepalive_interval(), milliseconds(2500));
  roaming.idle_timeout = milliseconds(800);
  EXPECT_EQ(SessionKeeper(roaming, kStart).keepalive_interval(), seconds(1));  // min_interval
}

TEST(SessionKeeperTest, AnsweredKeepalivesKeepThePathAliveAndOnScheduleAndDataPostponesThem) {
  SessionKeeper keeper(kpn(), kStart);
  const Duration interval = keeper.keepalive_interval();
  for (int i = 1; i <= 5; ++i) {
    const TimePoint due = kStart + interval * i;
    ASSERT_EQ(keeper.next_deadline(), due);
    EXPECT_EQ(keeper.on_timer(due), KeeperAction::SendKeepalive);
    keeper.on_received_direct(due + milliseconds(60));
  }
  EXPECT_EQ(keeper.state(), PathState::Alive);
  // Data sent on the path refreshes the mapping: no keepalive needed yet.
  const TimePoint t = kStart + interval * 5 + seconds(10);
  keeper.on_sent_direct(t);
  EXPECT_EQ(keeper.next_deadline(), t + interval);
  EXPECT_FALSE(keeper.on_timer(t + interval - milliseconds(1)));
}

TEST(SessionKeeperTest, MissedRepliesDeclareThePathDeadFallBackToRelayAndAskForARepunch) {
  SessionKeeper keeper(kpn(), kStart);
  std::vector<KeeperAction> actions;
  TimePoint now = kStart;
  while (auto due = keeper.next_deadline()) {
    now = *due;
    while (auto action = keeper.on_timer(now)) actions.push_back(*action);
    if (now > kStart + seconds(1000)) break;
  }
  // First keepalive, two quick retries after misses, then the verdict.
  ASSERT_EQ(actions.size(), 4u);
  EXPECT_EQ(actions[0], KeeperAction::SendKeepalive);
  EXPECT_EQ(actions[2], KeeperAction::SendKeepalive);
  EXPECT_EQ(actions[3], KeeperAction::RequestRepunch);
  EXPECT_EQ(now, kStart + keeper.keepalive_interval() + seconds(6));  // 3 x reply_timeout
  EXPECT_EQ(keeper.state(), PathState::Dead);
  EXPECT_EQ(keeper.route(), Route::Relay);
  EXPECT_FALSE(keeper.next_deadline());
  // A late datagram does not resurrect it; a successful re-punch does.
  keeper.on_received_direct(now + seconds(1));
  EXPECT_EQ(keeper.route(), Route::Relay);
  keeper.on_direct_restored(now + seconds(30));
  EXPECT_EQ(keeper.route(), Route::Direct);
  EXPECT_EQ(keeper.state(), PathState::Alive);
  EXPECT_EQ(keeper.next_deadline(), now + seconds(30) + keeper.keepalive_interval());
}

TEST(SessionKeeperTest, AReplyAfterAMissResetsTheCount) {
  SessionKeeper keeper(kpn(), kStart);
  const TimePoint first = kStart + keeper.keepalive_interval();
  EXPECT_EQ(keeper.on_timer(first), KeeperAction::SendKeepalive);
  EXPECT_EQ(keeper.on_timer(first + seconds(2)), KeeperAction::SendKeepalive);  // miss 1, retry
  EXPECT_EQ(keeper.misses(), 1);
  keeper.on_received_direct(first + seconds(3));
  EXPECT_EQ(keeper.misses(), 0);
  EXPECT_EQ(keeper.state(), PathState::Alive);
}

}  // namespace
}  // namespace natpunch::punch

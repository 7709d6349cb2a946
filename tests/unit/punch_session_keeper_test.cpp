// Keepalive timing, path-death detection and route state after a punch,
// in virtual time (punch/session_keeper.hpp).
#include "punch/session_keeper.hpp"

#include <gtest/gtest.h>

#include <optional>
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
  // Data both ways refreshes the mapping and proves the path: no keepalive needed yet.
  const TimePoint t = kStart + interval * 5 + seconds(10);
  keeper.on_received_direct(t);
  keeper.on_sent_direct(t);
  EXPECT_EQ(keeper.next_deadline(), t + interval);
  EXPECT_FALSE(keeper.on_timer(t + interval - milliseconds(1)));
}

TEST(SessionKeeperTest, SendingAloneDoesNotPostponeTheLivenessCheck) {
  // A one-way stream into a dead path must still be noticed.
  SessionKeeper keeper(kpn(), kStart);
  const Duration interval = keeper.keepalive_interval();
  for (int i = 1; i < 100; ++i) keeper.on_sent_direct(kStart + interval * i / 50);
  EXPECT_EQ(keeper.next_deadline(), kStart + interval);
  EXPECT_EQ(keeper.on_timer(kStart + interval), KeeperAction::SendKeepalive);
}

TEST(SessionKeeperTest, APeerReportOfDeathSwitchesToTheRelayWithoutARepunchRequest) {
  SessionKeeper keeper(kpn(), kStart);
  keeper.on_peer_reported_dead();
  EXPECT_EQ(keeper.route(), Route::Relay);
  EXPECT_EQ(keeper.state(), PathState::Dead);
  EXPECT_FALSE(keeper.next_deadline());
  EXPECT_FALSE(keeper.on_timer(kStart + seconds(1000)));
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

// Regression (found in the lab): a 3 s idle timeout gives a 1.5 s interval,
// shorter than the 2 s reply timeout. Each new keepalive used to push the
// previous one's deadline out, so a sender that kept sending data over a
// dead path never noticed. One keepalive is in flight at a time now.
TEST(SessionKeeperTest, IntervalShorterThanTheReplyTimeoutStillDetectsADeadPath) {
  KeepaliveConfig c;
  c.idle_timeout = seconds(3);
  SessionKeeper keeper(c, kStart);
  ASSERT_LT(keeper.keepalive_interval(), c.reply_timeout);
  std::optional<TimePoint> dead_at;
  for (int ms = 0; ms <= 20000 && !dead_at; ms += 50) {
    const TimePoint now = kStart + milliseconds(ms);
    while (auto action = keeper.on_timer(now)) {
      if (*action == KeeperAction::RequestRepunch) {
        dead_at = now;
      } else {
        keeper.on_sent_direct(now);
      }
    }
    if (ms % 200 == 0) keeper.on_sent_direct(now);  // application data every 200 ms, never answered
    if (auto due = keeper.next_deadline()) {
      ASSERT_GT(*due, now) << "a deadline in the past would spin the driver";
    }
  }
  ASSERT_TRUE(dead_at.has_value()) << "the path was never declared dead";
  // First keepalive after one interval, then three unanswered 2 s waits.
  EXPECT_EQ(*dead_at, kStart + keeper.keepalive_interval() + 3 * c.reply_timeout);
  EXPECT_EQ(keeper.route(), Route::Relay);
}

}  // namespace
}  // namespace natpunch::punch

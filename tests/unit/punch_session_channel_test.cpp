// Two ends of a session (punch/session_channel.hpp) wired back to back in
// virtual time: data on the direct path, keepalives answered, a dead path
// detected and replaced by the relay at once, the re-punch both sides agree
// on, the way back to direct, loss counted and nothing delivered twice.
#include "punch/session_channel.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace natpunch::punch {
namespace {

constexpr TimePoint kStart = kTimeZero + seconds(1000);

SessionChannelConfig config(bool caller) {
  SessionChannelConfig c;
  c.session_id = 77;
  c.key.fill(9);
  c.direct = true;
  c.caller = caller;
  c.keepalive_config.idle_timeout = seconds(4);  // keepalive every 2 s
  c.keepalive_config.reply_timeout = seconds(1);
  c.keepalive_config.misses_for_dead = 3;
  c.repunch_lead = milliseconds(500);
  c.repunch_retry = seconds(5);
  return c;
}

std::vector<std::uint8_t> bytes(const std::string& text) { return {text.begin(), text.end()}; }

// Moves datagrams between the two channels; the direct path can be cut.
struct Pair {
  SessionChannel a{config(true), kStart};
  SessionChannel b{config(false), kStart};
  TimePoint now = kStart;
  bool direct_up = true;
  std::vector<RepunchOrder> a_orders, b_orders;
  std::vector<std::string> a_got, b_got;

  void deliver() {
    for (int round = 0; round < 10; ++round) {
      bool moved = false;
      for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
        while (auto t = from->poll_transmit()) {
          moved = true;
          if (t->path == ChannelPath::Relay)
            to->on_relay(now, t->bytes);
          else if (direct_up)
            to->on_direct(now, t->bytes);
        }
      }
      if (!moved) break;
    }
    while (auto d = a.poll_received()) a_got.emplace_back(d->begin(), d->end());
    while (auto d = b.poll_received()) b_got.emplace_back(d->begin(), d->end());
    if (auto o = a.poll_repunch()) a_orders.push_back(*o);
    if (auto o = b.poll_repunch()) b_orders.push_back(*o);
  }
  // Advances virtual time to `until`, firing timers in order.
  void run_until(TimePoint until) {
    for (;;) {
      std::optional<TimePoint> next;
      for (auto* c : {&a, &b})
        if (auto d = c->next_deadline(); d && (!next || *d < *next)) next = d;
      if (!next || *next > until) break;
      now = std::max(now, *next);
      a.on_timer(now);
      b.on_timer(now);
      deliver();
    }
    now = until;
  }
};

TEST(SessionChannelTest, DataGoesDirectAndKeepalivesAreAnsweredWhileIdle) {
  Pair p;
  ASSERT_TRUE(p.a.send(p.now, bytes("hello")));
  p.deliver();
  ASSERT_EQ(p.b_got, std::vector<std::string>{"hello"});
  EXPECT_EQ(p.a.keepalive_interval(), seconds(2));
  p.run_until(kStart + seconds(60));  // a minute of silence from the application
  EXPECT_GE(p.a.counters().keepalives_sent, 25u);
  EXPECT_EQ(p.a.counters().keepalive_replies, p.a.counters().keepalives_sent);
  EXPECT_EQ(p.a.route(), Route::Direct);
  EXPECT_EQ(p.b.route(), Route::Direct);
  EXPECT_EQ(p.a.counters().path_deaths, 0u);
  ASSERT_TRUE(p.a.counters().rtt.has_value());
  EXPECT_EQ(*p.a.counters().rtt, Duration::zero()) << "virtual time: instant replies";
  EXPECT_EQ(p.a.counters().sent_direct, 1u);
  EXPECT_EQ(p.b.counters().received_direct, 1u);
}

TEST(SessionChannelTest, ADeadPathFallsBackToTheRelayThenARepunchRestoresDirect) {
  Pair p;
  p.run_until(kStart + seconds(3));  // one keepalive round done
  p.direct_up = false;
  // Application data keeps flowing; the first ones vanish on the dead path.
  int sent = 0;
  TimePoint t = p.now;
  std::optional<TimePoint> relay_since;
  while (t < kStart + seconds(12)) {
    t += milliseconds(250);
    p.run_until(t);
    const bool was_direct = p.a.route() == Route::Direct;
    p.a.send(p.now, bytes("d" + std::to_string(sent++)));
    if (!was_direct && !relay_since) relay_since = p.now;
    p.deliver();
  }
  ASSERT_TRUE(relay_since.has_value()) << "the path death was noticed";
  // 2 s interval + 3 x 1 s replies: noticed within ~5 s of the cut at +3 s.
  EXPECT_LE(*relay_since, kStart + seconds(9));
  EXPECT_EQ(p.a.counters().path_deaths, 1u);
  EXPECT_EQ(p.b.counters().path_deaths, 1u);
  // Both ordered the same re-punch (epoch 1): the caller's timing.
  ASSERT_EQ(p.a_orders.size(), 1u);
  ASSERT_GE(p.b_orders.size(), 1u);
  EXPECT_EQ(p.a_orders[0].epoch, 1u);
  EXPECT_EQ(p.b_orders.back().epoch, 1u);
  // Everything sent after the switch arrived over the relay, exactly once.
  const auto& c = p.a.counters();
  EXPECT_EQ(c.datagrams_sent, static_cast<std::uint64_t>(sent));
  EXPECT_EQ(c.sent_direct + c.sent_relay, c.datagrams_sent);
  EXPECT_GT(c.sent_relay, 8u);
  EXPECT_EQ(p.b.counters().received_relay, c.sent_relay);
  EXPECT_EQ(p.b_got.size(), c.sent_relay);
  // What went into the dead path is written off, and the receiver saw the gap.
  EXPECT_EQ(c.sent_lost, c.sent_direct);
  EXPECT_EQ(p.b.counters().received_lost, c.sent_direct);
  EXPECT_EQ(p.b.counters().duplicates_dropped, 0u);

  // The driver's punch connects on both sides: direct again, keepalives resume.
  p.direct_up = true;
  p.a.on_repunch_finished(p.now, 1, true);
  p.b.on_repunch_finished(p.now, p.b_orders.back().epoch, true);
  EXPECT_EQ(p.a.route(), Route::Direct);
  p.a.send(p.now, bytes("back"));
  p.deliver();
  EXPECT_EQ(p.b_got.back(), "back");
  EXPECT_EQ(p.b.counters().received_direct, 1u + 0u) << "only 'back' came directly after the cut";
  p.run_until(p.now + seconds(30));
  EXPECT_EQ(p.a.route(), Route::Direct);
  EXPECT_EQ(p.a.counters().path_deaths, 1u);
  EXPECT_EQ(p.a.counters().repunches_succeeded, 1u);
}

TEST(SessionChannelTest, AFailedRepunchIsRetriedWithANewEpochAndBackoff) {
  Pair p;
  p.direct_up = false;
  p.run_until(kStart + seconds(8));
  ASSERT_EQ(p.a_orders.size(), 1u);
  p.a.on_repunch_finished(p.now, p.a_orders[0].epoch, false);
  p.b.on_repunch_finished(p.now, p.b_orders.back().epoch, false);
  p.run_until(p.now + seconds(5));
  ASSERT_EQ(p.a_orders.size(), 2u);
  EXPECT_EQ(p.a_orders[1].epoch, 2u);
  EXPECT_EQ(p.b_orders.back().epoch, 2u) << "the peer follows the newer epoch";
  p.a.on_repunch_finished(p.now, 2, false);
  p.b.on_repunch_finished(p.now, 2, false);
  p.run_until(p.now + seconds(9));
  EXPECT_EQ(p.a_orders.size(), 2u) << "the second retry waits twice as long";
  p.run_until(p.now + seconds(2));
  EXPECT_EQ(p.a_orders.size(), 3u);
}

TEST(SessionChannelTest, ForgedReplayedAndRelayedDuplicatesAreNotDelivered) {
  Pair p;
  ASSERT_TRUE(p.a.send(p.now, bytes("once")));
  auto t = p.a.poll_transmit();
  ASSERT_TRUE(t);
  EXPECT_TRUE(p.b.on_direct(p.now, t->bytes));
  EXPECT_TRUE(p.b.on_relay(p.now, t->bytes));   // the same datagram by the other route
  EXPECT_TRUE(p.b.on_direct(p.now, t->bytes));  // replayed
  auto forged = t->bytes;
  forged[forged.size() / 2] ^= 1;
  EXPECT_FALSE(p.b.on_direct(p.now, forged));
  p.deliver();
  EXPECT_EQ(p.b_got, std::vector<std::string>{"once"});
  EXPECT_EQ(p.b.counters().duplicates_dropped, 2u);
  EXPECT_EQ(p.b.counters().rejected, 1u);
  EXPECT_FALSE(p.a.send(p.now, std::vector<std::uint8_t>(1161, 0))) << "over the relay's limit";
}

TEST(SessionChannelTest, ClosingTellsThePeerAndStopsKeepalives) {
  Pair p;
  p.a.close(p.now);
  p.deliver();
  EXPECT_TRUE(p.b.counters().peer_closed);
  EXPECT_FALSE(p.a.send(p.now, bytes("late")));
  EXPECT_FALSE(p.a.next_deadline());
  EXPECT_FALSE(p.b.next_deadline()) << "no keepalives towards a closed peer";
}

}  // namespace
}  // namespace natpunch::punch

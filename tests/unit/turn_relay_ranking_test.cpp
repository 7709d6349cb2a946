// Picking the nearest TURN relay: Binding requests to all at once, ordered
// by round trip, the silent ones last in the order offered.
#include "turn/relay_ranking.hpp"

#include <gtest/gtest.h>

#include <map>

#include "stun/message.hpp"
#include "stun/turn_attributes.hpp"

namespace natpunch::turn {
namespace {

Endpoint relay(std::uint8_t last) { return Endpoint{IpAddress::v4({203, 0, 113, last}), 3478}; }

std::vector<std::uint8_t> binding_success(std::span<const std::uint8_t> request) {
  auto m = stun::MessageView::decode(request);
  std::vector<std::uint8_t> out(128);
  stun::MessageBuilder b(out, stun::Method::Binding, stun::MessageClass::SuccessResponse, m->transaction_id());
  b.add_xor_address(stun::attr::kXorMappedAddress, Endpoint{IpAddress::v4({198, 51, 100, 7}), 40000});
  out.resize(b.size());
  return out;
}

// Relays answer after their delay (absent: never); virtual time.
std::vector<RankedRelay> rank(const std::vector<Endpoint>& relays, const std::map<Endpoint, Duration>& delay,
                              TimePoint* finished = nullptr) {
  Rng rng(3);
  RelayRanking ranking(relays, stun::RetransmitPolicy{milliseconds(100), 3, 4}, rng, kTimeZero);
  std::multimap<TimePoint, std::pair<Endpoint, std::vector<std::uint8_t>>> in_flight;
  TimePoint now = kTimeZero;
  std::optional<ranking_event::Done> done;
  for (int step = 0; step < 1000 && !done; ++step) {
    while (auto t = ranking.poll_transmit(now))
      if (auto d = delay.find(t->to); d != delay.end()) in_flight.emplace(now + d->second, std::pair{t->to, binding_success(t->bytes)});
    if (auto e = ranking.poll_event()) {
      done = std::get<ranking_event::Done>(*e);
      break;
    }
    std::optional<TimePoint> next = ranking.next_deadline();
    if (!in_flight.empty() && (!next || in_flight.begin()->first < *next)) next = in_flight.begin()->first;
    if (!next) break;
    now = std::max(now, *next);
    while (!in_flight.empty() && in_flight.begin()->first <= now) {
      auto [from, bytes] = in_flight.begin()->second;
      in_flight.erase(in_flight.begin());
      ranking.on_datagram(now, 0, from, bytes);
    }
    ranking.on_timer(now);
  }
  if (finished) *finished = now;
  return done ? done->ranking : std::vector<RankedRelay>{};
}

TEST(RelayRanking, FastestFirstSilentLastInOfferedOrder) {
  const std::vector<Endpoint> relays = {relay(1), relay(2), relay(3), relay(4)};
  TimePoint finished{};
  const auto ranked = rank(relays, {{relay(2), milliseconds(40)}, {relay(4), milliseconds(12)}}, &finished);
  ASSERT_EQ(ranked.size(), 4u);
  EXPECT_EQ(ranked[0].server, relay(4));
  EXPECT_EQ(ranked[0].round_trip, milliseconds(12));
  EXPECT_EQ(ranked[1].server, relay(2));
  EXPECT_EQ(ranked[1].round_trip, milliseconds(40));
  EXPECT_EQ(ranked[2].server, relay(1));
  EXPECT_FALSE(ranked[2].round_trip);
  EXPECT_EQ(ranked[3].server, relay(3));
  EXPECT_EQ(ranked[3].index, 2u);
  // The silent ones end the probe after their retransmissions: 300 + 4 x 100 ms.
  EXPECT_EQ(finished, kTimeZero + milliseconds(700));
}

TEST(RelayRanking, AnswersFromElsewhereDoNotCount) {
  Rng rng(4);
  RelayRanking ranking({relay(1)}, stun::RetransmitPolicy{milliseconds(100), 1, 2}, rng, kTimeZero);
  const auto request = ranking.poll_transmit(kTimeZero);
  ASSERT_TRUE(request);
  ranking.on_datagram(kTimeZero + milliseconds(5), 0, relay(9), binding_success(request->bytes));
  ranking.on_timer(kTimeZero + milliseconds(200));
  ASSERT_TRUE(ranking.done());
  EXPECT_FALSE(ranking.ranking()[0].round_trip);
}

TEST(RelayRanking, NothingToRankIsDoneAtOnce) {
  Rng rng(5);
  RelayRanking ranking({}, stun::RetransmitPolicy{}, rng, kTimeZero);
  EXPECT_TRUE(ranking.done());
  EXPECT_TRUE(ranking.poll_event());
  EXPECT_FALSE(ranking.poll_event());
}

}  // namespace
}  // namespace natpunch::turn

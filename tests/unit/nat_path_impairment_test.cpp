#include "nat/path_impairment.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace natpunch::nat {
namespace {

using std::chrono::microseconds;

TEST(ParseImpairment, AcceptsTheDocumentedSpellings) {
  auto c = parse_impairment("delay=50ms,jitter=10ms,loss=0.05,duplicate=0.01,reorder=0.02");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->delay, milliseconds(50));
  EXPECT_EQ(c->jitter, milliseconds(10));
  EXPECT_DOUBLE_EQ(c->loss, 0.05);
  EXPECT_DOUBLE_EQ(c->duplicate, 0.01);
  EXPECT_DOUBLE_EQ(c->reorder, 0.02);
  EXPECT_EQ(to_string(*c), "delay=50ms,jitter=10ms,loss=0.05,duplicate=0.01,reorder=0.02");
  auto d = parse_impairment("loss=5%,delay=1.5s");
  ASSERT_TRUE(d) << d.error();
  EXPECT_DOUBLE_EQ(d->loss, 0.05);
  EXPECT_EQ(d->delay, milliseconds(1500));
  EXPECT_EQ(to_string(*parse_impairment("delay=250us")), "delay=250us");
  EXPECT_FALSE(parse_impairment("loss=0")->active());
}

TEST(ParseImpairment, RejectsBadInputWithAReason) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case c : {Case{"", "empty"}, Case{"delay", "KEY=VALUE"}, Case{"delay=50", "duration"},
                       Case{"delay=-5ms", "duration"}, Case{"delay=2h", "duration"}, Case{"loss=1.5", "probability"},
                       Case{"loss=abc", "probability"}, Case{"loss=0.1,loss=0.2", "twice"},
                       Case{"latency=5ms", "unknown impairment 'latency'"}, Case{"delay=5ms,", "trailing comma"},
                       Case{"delay=5ms,jitter=6ms", "jitter must not exceed delay"},
                       Case{"reorder=0.1", "reorder needs a delay"}, Case{"loss=nan", "probability"}}) {
    auto result = parse_impairment(c.text);
    ASSERT_FALSE(result) << c.text;
    EXPECT_NE(result.error().find(c.says), std::string::npos) << c.text << " -> " << result.error();
  }
}

struct Departure {
  TimePoint at;
  std::uint32_t sequence;
};

// Sends `count` packets, one every `spacing`, each carrying its sequence
// number, and collects what leaves when.
std::vector<Departure> run(const ImpairmentConfig& config, std::uint32_t count, Duration spacing,
                           std::uint64_t seed = 1, PathImpairment* keep = nullptr) {
  PathImpairment local(config, seed);
  PathImpairment& impairment = keep ? *keep : local;
  std::vector<Departure> out;
  TimePoint now = kTimeZero;
  const auto collect = [&](std::span<const std::uint8_t> p) {
    std::uint32_t seq = 0;
    for (std::size_t i = 0; i < 4; ++i) seq = (seq << 8) | p[i];
    out.push_back({now, seq});
  };
  for (std::uint32_t i = 0; i < count; ++i) {
    now = kTimeZero + spacing * i;
    // Deadlines before this send first, at their own time (virtual clock).
    while (auto next = impairment.next_deadline()) {
      if (*next > now) break;
      const TimePoint send_time = now;
      now = *next;
      impairment.pop_due(now, collect);
      now = send_time;
    }
    const std::uint8_t packet[4] = {static_cast<std::uint8_t>(i >> 24), static_cast<std::uint8_t>(i >> 16),
                                    static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
    impairment.push(now, packet);
    impairment.pop_due(now, collect);
  }
  while (auto next = impairment.next_deadline()) {
    now = *next;
    impairment.pop_due(now, collect);
  }
  return out;
}

TEST(PathImpairment, LossRateMatchesWithinTolerance) {
  ImpairmentConfig config;
  config.loss = 0.05;
  PathImpairment impairment(config, 3);
  const auto out = run(config, 100000, milliseconds(1), 3, &impairment);
  const double lost = 1.0 - static_cast<double>(out.size()) / 100000;
  // Binomial sd = sqrt(0.05 * 0.95 / 1e5) = 0.0007: 5 sd.
  EXPECT_NEAR(lost, 0.05, 0.0035);
  EXPECT_EQ(impairment.counters().lost + out.size(), 100000U);
  for (std::size_t i = 1; i < out.size(); ++i) ASSERT_LT(out[i - 1].sequence, out[i].sequence) << "order kept";
}

TEST(PathImpairment, DelayAndJitterStayInBoundsAndKeepOrder) {
  ImpairmentConfig config;
  config.delay = milliseconds(50);
  config.jitter = milliseconds(10);
  const auto out = run(config, 20000, microseconds(100));
  ASSERT_EQ(out.size(), 20000U);
  double total_delay = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    ASSERT_EQ(out[i].sequence, i) << "jitter alone never reorders";
    const Duration delay = out[i].at - (kTimeZero + microseconds(100) * out[i].sequence);
    ASSERT_GE(delay, milliseconds(40));
    ASSERT_LE(delay, milliseconds(60));
    total_delay += std::chrono::duration<double>(delay).count();
  }
  // Mean above 50 ms (order keeping only ever adds), well below the maximum.
  EXPECT_GT(total_delay / out.size(), 0.050);
  EXPECT_LT(total_delay / out.size(), 0.060);
}

TEST(PathImpairment, WithoutJitterEveryPacketTakesExactlyTheDelay) {
  ImpairmentConfig config;
  config.delay = milliseconds(30);
  const auto out = run(config, 1000, milliseconds(1));
  ASSERT_EQ(out.size(), 1000U);
  for (const auto& d : out) ASSERT_EQ(d.at - (kTimeZero + milliseconds(1) * d.sequence), milliseconds(30));
}

TEST(PathImpairment, DuplicatesAndReorderingHappenAtTheirRates) {
  ImpairmentConfig config;
  config.delay = milliseconds(20);
  config.duplicate = 0.02;
  config.reorder = 0.05;
  PathImpairment impairment(config, 11);
  const auto out = run(config, 50000, milliseconds(1), 11, &impairment);
  std::map<std::uint32_t, int> copies;
  for (const auto& d : out) ++copies[d.sequence];
  std::size_t duplicated = 0;
  for (const auto& [seq, n] : copies) {
    ASSERT_LE(n, 2);
    duplicated += n == 2;
  }
  EXPECT_EQ(copies.size(), 50000U) << "nothing lost";
  EXPECT_NEAR(static_cast<double>(duplicated) / 50000, 0.02, 0.004);
  // A reordered packet leaves at once, ahead of the ~20 in flight.
  std::size_t overtaking = 0;
  for (std::size_t i = 1; i < out.size(); ++i) overtaking += out[i].sequence < out[i - 1].sequence;
  const double reordered = static_cast<double>(impairment.counters().reordered) / (50000 * 1.02);
  EXPECT_NEAR(reordered, 0.05, 0.006);
  EXPECT_GT(overtaking, 50000 * 0.04);
}

TEST(PathImpairment, QueueLimitDropsInsteadOfGrowing) {
  ImpairmentConfig config;
  config.delay = seconds(1);
  config.queue_limit_bytes = 40;  // ten 4-byte packets
  PathImpairment impairment(config, 1);
  const auto out = run(config, 100, microseconds(1), 1, &impairment);
  EXPECT_EQ(out.size(), 10U);
  EXPECT_EQ(impairment.counters().overflowed, 90U);
}

}  // namespace
}  // namespace natpunch::nat

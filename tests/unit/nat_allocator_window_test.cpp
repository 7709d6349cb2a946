// Windows with locality (nat::WindowSpec) and trace replay (nat::TraceSpec):
// the allocators natd and the simulator build from the real carriers'
// profiles and logs.
#include "nat/allocator_window.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <vector>

#include "core/rng.hpp"
#include "nat/allocator_trace.hpp"
#include "nat/trace_text.hpp"

namespace natpunch::nat {
namespace {

WindowSpec vodafone_like() {
  WindowSpec spec;
  spec.placement = BetaSpec{13.2, 7.4, 1024, 20000};
  spec.size = 32;
  spec.offset = 31;
  spec.order = WindowOrder::Random;
  spec.hold = seconds(60);
  spec.mappings.reset();
  return spec;
}

WindowSpec lebara_like() {
  WindowSpec spec;
  spec.placement = UniformSpec{1024, 65535};
  spec.size = 256;
  spec.order = WindowOrder::InOrder;
  spec.mappings = 256;
  return spec;
}

std::uint32_t window_index(const WindowSpec& spec, std::uint16_t port) { return (port + spec.size - spec.offset) / spec.size; }

// Vodafone NL's real logs: a stay of 60 s in one 32-port window at offset
// 31, any port of it at random, then a new window.
TEST(WindowAllocatorTest, RandomOrderStaysInItsWindowUntilTheHoldEnds) {
  const WindowSpec spec = vodafone_like();
  ASSERT_FALSE(validate(AllocatorSpec{spec}));
  WindowAllocator allocator(spec);
  Rng rng(7);
  TimePoint now = kTimeZero;
  std::map<std::uint32_t, std::size_t> per_window;
  std::uint32_t previous = 0;
  std::size_t jumps = 0;
  for (int i = 0; i < 1400; ++i) {  // one mapping per 0.43 s: ~10 stays
    auto port = allocator.allocate(now, PortRequest{0, 40000}, rng);
    ASSERT_TRUE(port);
    const std::uint32_t window = window_index(spec, *port);
    if (i > 0 && window != previous) ++jumps;
    previous = window;
    ++per_window[window];
    allocator.release(now, *port);  // the mapping times out before the next: ports come back
    now += milliseconds(430);
  }
  // 1400 x 0.43 s = 602 s: a jump every 60 s.
  EXPECT_GE(jumps, 9u);
  EXPECT_LE(jumps, 10u);
  for (const auto& [window, count] : per_window) EXPECT_GE(count, 139u);  // 60 s / 0.43 s
}

TEST(WindowAllocatorTest, InOrderUsesTheWindowUpThenMovesOn) {
  const WindowSpec spec = lebara_like();
  WindowAllocator allocator(spec);
  Rng rng(3);
  std::set<std::uint32_t> windows;
  for (int stay = 0; stay < 5; ++stay) {
    auto first = allocator.allocate(kTimeZero, PortRequest{0, 40000}, rng);
    ASSERT_TRUE(first);
    EXPECT_EQ(*first % 256, 0u) << "a stay in order starts at its window's first port";
    EXPECT_TRUE(windows.insert(*first / 256).second);
    for (std::uint32_t i = 1; i < 256; ++i) ASSERT_EQ(allocator.allocate(kTimeZero, PortRequest{0, 40000}, rng), *first + i);
  }
}

TEST(WindowAllocatorTest, PortsInUseAreSkippedAndAFullWindowEndsTheStay) {
  WindowSpec spec = vodafone_like();
  spec.hold = seconds(1000);
  WindowAllocator allocator(spec);
  Rng rng(11);
  std::set<std::uint16_t> held;
  std::map<std::uint32_t, std::size_t> per_window;
  for (int i = 0; i < 96; ++i) {
    auto port = allocator.allocate(kTimeZero, PortRequest{0, 40000}, rng);
    ASSERT_TRUE(port);
    EXPECT_TRUE(held.insert(*port).second) << "a port still mapped was handed out again";
    ++per_window[window_index(spec, *port)];
  }
  // Nothing released: each window fills (32 ports) before the next.
  EXPECT_EQ(per_window.size(), 3u);
  for (const auto& [window, count] : per_window) EXPECT_EQ(count, 32u);
}

TEST(WindowAllocatorTest, BetaPlacementPutsWindowsWhereTheLawHasItsMass) {
  const WindowSpec spec = vodafone_like();
  WindowAllocator allocator(spec);
  Rng rng(5);
  // Mass of Beta(13.2, 7.4) on [1024, 21024]: 5 % .. 95 % ~ 9,300 .. 16,700.
  std::size_t inside = 0;
  const int stays = 400;
  TimePoint now = kTimeZero;
  for (int i = 0; i < stays; ++i) {
    auto port = allocator.allocate(now, PortRequest{0, 40000}, rng);
    ASSERT_TRUE(port);
    if (*port >= 9000 && *port <= 17000) ++inside;
    allocator.release(now, *port);
    now += seconds(61);  // every mapping starts a new stay
  }
  EXPECT_GT(inside, static_cast<std::size_t>(stays * 0.85));
}

TEST(WindowAllocatorTest, ValidationRefusesLocalityThatContradictsTheRange) {
  WindowSpec spec = lebara_like();
  spec.placement = UniformSpec{2048, 2200};
  auto error = validate(AllocatorSpec{spec});
  ASSERT_TRUE(error);
  EXPECT_EQ(error->field, "locality.window");
  EXPECT_NE(error->message.find("2048-2200"), std::string::npos) << error->message;
  spec = lebara_like();
  spec.hold = seconds(5);  // and mappings: two resets
  EXPECT_EQ(validate(AllocatorSpec{spec})->field, "locality");
  spec = lebara_like();
  spec.offset = 256;
  EXPECT_EQ(validate(AllocatorSpec{spec})->field, "locality.offset");
}

TraceSpec trace_of(std::vector<std::uint16_t> ports) {
  return TraceSpec{"test", std::make_shared<const std::vector<std::uint16_t>>(std::move(ports))};
}

TEST(TraceAllocatorTest, ReplaysFromASeededOffsetAndLoops) {
  const TraceSpec spec = trace_of({5000, 5001, 5002, 6000, 6001});
  ASSERT_FALSE(validate(AllocatorSpec{spec}));
  std::set<std::uint16_t> firsts;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    TraceAllocator allocator(spec);
    Rng rng(seed);
    std::vector<std::uint16_t> got;
    for (int i = 0; i < 7; ++i) {
      auto port = allocator.allocate(kTimeZero, PortRequest{}, rng);
      ASSERT_TRUE(port);
      got.push_back(*port);
      allocator.release(kTimeZero, *port);
    }
    // The trace's order, from wherever it started, round and round.
    const auto& ports = *spec.ports;
    const auto start = static_cast<std::size_t>(std::find(ports.begin(), ports.end(), got[0]) - ports.begin());
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], ports[(start + i) % ports.size()]);
    firsts.insert(got[0]);
    // The same seed replays the same sequence.
    TraceAllocator again(spec);
    Rng same(seed);
    EXPECT_EQ(again.allocate(kTimeZero, PortRequest{}, same), got[0]);
  }
  EXPECT_EQ(firsts.size(), 5u) << "the offset is drawn, not fixed";
}

TEST(TraceAllocatorTest, SkipsPortsStillInUseAndSaysNoWhenAllAre) {
  TraceAllocator allocator(trace_of({7000, 7000, 7001}));
  Rng rng(1);
  std::set<std::uint16_t> held;
  for (int i = 0; i < 2; ++i) {
    auto port = allocator.allocate(kTimeZero, PortRequest{}, rng);
    ASSERT_TRUE(port);
    EXPECT_TRUE(held.insert(*port).second);
  }
  EXPECT_FALSE(allocator.allocate(kTimeZero, PortRequest{}, rng));
}

TEST(TraceSpecTest, FewerThanTwoPortsIsNoTrace) {
  EXPECT_TRUE(validate(AllocatorSpec{trace_of({5000})}));
  EXPECT_TRUE(validate(AllocatorSpec{trace_of({})}));
  EXPECT_TRUE(validate(AllocatorSpec{TraceSpec{"unread.txt", nullptr}}));
}

TEST(TraceTextTest, ParsesPortsCommentsAndBlankLinesAndNamesTheBadLine) {
  auto ports = parse_trace_text("# a comment\n15084\r\n\n 15091 \n# more\n1\n65535");
  ASSERT_TRUE(ports) << ports.error();
  EXPECT_EQ(*ports, (std::vector<std::uint16_t>{15084, 15091, 1, 65535}));
  for (const auto& [text, line] : {std::pair{"1\n0\n", "line 2"}, {"1\n2\n65536\n", "line 3"}, {"x\n", "line 1"},
                                   {"12 13\n", "line 1"}, {"-5\n", "line 1"}}) {
    auto bad = parse_trace_text(text);
    ASSERT_FALSE(bad) << text;
    EXPECT_EQ(bad.error().rfind(line, 0), 0u) << bad.error();
  }
  const std::vector<std::uint16_t> written{5, 6, 65535};
  EXPECT_EQ(parse_trace_text(trace_text(written, "two\nlines")).value(), written);
}

}  // namespace
}  // namespace natpunch::nat

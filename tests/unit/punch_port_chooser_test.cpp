// Property tests of the port orders (src/punch/port_chooser_*): in range,
// no repeats where promised, and the order each one promises.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "punch/port_chooser_beta.hpp"
#include "punch/port_chooser_block.hpp"
#include "punch/port_chooser_chain.hpp"
#include "punch/port_chooser_factory.hpp"
#include "punch/port_chooser_prediction.hpp"
#include "punch/port_chooser_uniform.hpp"
#include "punch/port_chooser_window.hpp"

namespace natpunch::punch {
namespace {

std::vector<std::uint16_t> drain(PortChooser& chooser, Rng& rng, std::size_t limit = 1 << 20) {
  std::vector<std::uint16_t> ports;
  while (ports.size() < limit) {
    auto port = chooser.next(rng);
    if (!port) break;
    ports.push_back(*port);
  }
  return ports;
}

bool no_repeats(const std::vector<std::uint16_t>& ports) {
  return std::set<std::uint16_t>(ports.begin(), ports.end()).size() == ports.size();
}

TEST(UniformPortChooserTest, WithoutRepeatsCoversTheRangeExactlyOnce) {
  Rng rng(1);
  UniformPortChooser chooser(2048, 65535, Repeats::Never);
  const auto ports = drain(chooser, rng);
  ASSERT_EQ(ports.size(), 65535u - 2048 + 1);
  EXPECT_TRUE(no_repeats(ports));
  EXPECT_EQ(*std::min_element(ports.begin(), ports.end()), 2048);
  EXPECT_EQ(*std::max_element(ports.begin(), ports.end()), 65535);
  // Random order, not ascending.
  EXPECT_FALSE(std::is_sorted(ports.begin(), ports.end()));
}

TEST(UniformPortChooserTest, WithRepeatsStaysInRangeAndIsRoughlyUniform) {
  Rng rng(2);
  UniformPortChooser chooser(5000, 5009, Repeats::Allowed);
  std::vector<int> counts(10);
  for (int i = 0; i < 100000; ++i) {
    const auto port = chooser.next(rng);
    ASSERT_TRUE(port);
    ASSERT_GE(*port, 5000);
    ASSERT_LE(*port, 5009);
    ++counts[*port - 5000];
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);  // ~5 sigma
}

TEST(BlockPortChooserTest, AllBlockStartsFirstThenEachOffsetInTheSameBlockOrder) {
  Rng rng(3);
  BlockPortChooser chooser(256, 1024, 65535);
  const auto ports = drain(chooser, rng);
  constexpr std::size_t kBlocks = 252;  // blocks 4..255
  ASSERT_EQ(ports.size(), kBlocks * 256);
  EXPECT_TRUE(no_repeats(ports));
  for (std::size_t i = 0; i < ports.size(); ++i) {
    ASSERT_EQ(ports[i] % 256, i / kBlocks) << i;               // offset-major
    ASSERT_EQ(ports[i] / 256, ports[i % kBlocks] / 256) << i;  // same block order every round
    ASSERT_GE(ports[i], 1024);
  }
  // The block order itself is shuffled.
  std::vector<std::uint16_t> first(ports.begin(), ports.begin() + kBlocks);
  EXPECT_FALSE(std::is_sorted(first.begin(), first.end()));
}

TEST(BetaPortChooserTest, DensestPortsFirstThenTheRestWithoutRepeats) {
  Rng rng(4);
  const nat::BetaSpec spec;  // Vodafone NL
  BetaPortChooser chooser(spec);
  const auto& support = chooser.densest_first();
  ASSERT_EQ(support.size(), 13937u);
  // The mode of Beta(2.242, 5.008) is (a-1)/(a+b-2) = 0.2365: port ~7926.
  const double mode = spec.loc + spec.scale * (spec.alpha - 1) / (spec.alpha + spec.beta - 2);
  EXPECT_NEAR(support.front(), mode, 2);
  // Density falls with distance from the mode: the first 1000 ports are a
  // contiguous window around it.
  std::vector<std::uint16_t> top(support.begin(), support.begin() + 1000);
  std::sort(top.begin(), top.end());
  EXPECT_EQ(top.back() - top.front(), 999);
  const auto ports = drain(chooser, rng);
  EXPECT_EQ(ports.size(), 65535u - 1024 + 1);
  EXPECT_TRUE(no_repeats(ports));
  EXPECT_TRUE(std::equal(support.begin(), support.end(), ports.begin()));
}

TEST(PredictionPortChooserTest, LockstepThroughTheWindowThenOddOffsetsAgain) {
  Rng rng(5);
  PredictionPortChooser chooser(25600 + 250, PredictionPortChooser::rest_of_block(25600 + 250, 256));
  const auto ports = drain(chooser, rng);
  EXPECT_EQ(ports, (std::vector<std::uint16_t>{25851, 25852, 25853, 25854, 25855, 25852, 25854}));
  EXPECT_EQ(PredictionPortChooser::rest_of_block(25600, 256), 255u);
  EXPECT_EQ(PredictionPortChooser::rest_of_block(25855, 256), 0u);
  PredictionPortChooser at_top(65534, 10);
  EXPECT_EQ(drain(at_top, rng), (std::vector<std::uint16_t>{65535}));
}

TEST(ChainPortChooserTest, SecondOrderSkipsWhatTheFirstTried) {
  Rng rng(6);
  ChainPortChooser chain(std::make_unique<PredictionPortChooser>(5000, 3),
                         std::make_unique<UniformPortChooser>(5000, 5005, Repeats::Never));
  const auto ports = drain(chain, rng);
  ASSERT_EQ(ports.size(), 7u);
  EXPECT_EQ(std::vector<std::uint16_t>(ports.begin(), ports.begin() + 4), (std::vector<std::uint16_t>{5001, 5002, 5003, 5002}));
  EXPECT_EQ(std::set<std::uint16_t>(ports.begin() + 4, ports.end()), (std::set<std::uint16_t>{5000, 5004, 5005}));
}

struct FactoryRow {
  const char* name;
  PeerPortKnowledge peer;
  std::vector<std::uint16_t> first_ports;  // exact start of the order; empty: check range only
  std::uint16_t min;
  std::uint16_t max;
};

TEST(PortChooserFactoryTest, PicksTheOrderFromThePeersAllocatorAndObservedPort) {
  using M = nat::MappingBehavior;
  const FactoryRow rows[] = {
      {"eim peer: its observed port first", {nat::UniformSpec{2048, 65535}, M::EndpointIndependent, 3000, true, 256},
       {3000}, 2048, 65535},
      {"block peer: rest of its block in lockstep", {nat::BlockSpec{}, M::AddressAndPortDependent, 25853, true, 256},
       {25854, 25855, 25855}, 1024, 65535},
      {"sequential peer: the window", {nat::SequentialSpec{}, M::AddressAndPortDependent, 9000, true, 4},
       {9001, 9002, 9003, 9004, 9002, 9004}, 1024, 65535},
      {"prediction off: carrier order only", {nat::UniformSpec{2048, 4000}, M::EndpointIndependent, 3000, false, 256},
       {}, 2048, 4000},
      {"unknown allocator: uniform", {std::nullopt, M::Unknown, std::nullopt, true, 256}, {}, 1024, 65535},
  };
  for (const auto& row : rows) {
    Rng rng(7);
    auto chooser = make_port_chooser(row.peer);
    std::vector<std::uint16_t> ports = drain(*chooser, rng, 70000);
    ASSERT_FALSE(ports.empty()) << row.name;
    if (!row.first_ports.empty()) {
      EXPECT_TRUE(std::equal(row.first_ports.begin(), row.first_ports.end(), ports.begin())) << row.name;
    }
    // After the predicted ports, the carrier order never repeats a port.
    std::vector<std::uint16_t> rest(ports.begin() + static_cast<std::ptrdiff_t>(row.first_ports.size()), ports.end());
    EXPECT_TRUE(no_repeats(rest)) << row.name;
    for (auto p : rest) {
      ASSERT_GE(p, row.min) << row.name;
      ASSERT_LE(p, row.max) << row.name;
    }
  }
}

// Uniform without repeats is uniform from the first draw on (the sparse
// phase before the shuffle): the first port is any port of the range alike.
TEST(UniformPortChooserTest, FirstDrawsAreUniformToo) {
  Rng rng(9);
  std::vector<int> counts(10, 0);
  for (int attack = 0; attack < 20000; ++attack) {
    UniformPortChooser chooser(5000, 5009, Repeats::Never);
    chooser.next(rng);
    ++counts[*chooser.next(rng) - 5000];
  }
  for (int count : counts) EXPECT_NEAR(count, 2000, 200);
}

TEST(BlockPortChooserTest, BlocksAtAnOffset) {
  Rng rng(2);
  BlockPortChooser chooser(32, 1024, 2047, 31);
  const auto ports = drain(chooser, rng);
  // Whole windows [32k + 31, 32k + 62] inside 1024..2047: starts 1055 .. 2015.
  ASSERT_EQ(ports.size(), 31u * 32);
  EXPECT_TRUE(no_repeats(ports));
  for (std::size_t i = 0; i < 31; ++i) EXPECT_EQ(ports[i] % 32, 31u) << ports[i];
  EXPECT_EQ(*std::min_element(ports.begin(), ports.end()), 1055);
  EXPECT_EQ(*std::max_element(ports.begin(), ports.end()), 2046);
}

nat::WindowSpec window_spec(nat::WindowOrder order, std::uint32_t size, std::uint32_t offset) {
  nat::WindowSpec spec;
  spec.placement = nat::UniformSpec{1024, 65535};
  spec.size = size;
  spec.offset = offset;
  spec.order = order;
  return spec;
}

TEST(WindowPortChooserTest, InOrderTheNextPortsWrappingInsideTheWindow) {
  Rng rng(1);
  WindowPortChooser chooser(window_spec(nat::WindowOrder::InOrder, 256, 0), 43775 - 2);
  const auto ports = drain(chooser, rng);
  ASSERT_EQ(ports.size(), 256u);
  EXPECT_EQ(ports[0], 43774);
  EXPECT_EQ(ports[1], 43775);
  EXPECT_EQ(ports[2], 43520);  // the window's first port after its last
  EXPECT_EQ(ports.back(), 43773);
}

TEST(WindowPortChooserTest, RandomOrderTheWholeWindowOnceInAnyOrder) {
  Rng rng(1);
  WindowPortChooser chooser(window_spec(nat::WindowOrder::Random, 32, 31), 15080);
  const auto ports = drain(chooser, rng);
  ASSERT_EQ(ports.size(), 32u);
  EXPECT_TRUE(no_repeats(ports));
  EXPECT_EQ(*std::min_element(ports.begin(), ports.end()), 15071);
  EXPECT_EQ(*std::max_element(ports.begin(), ports.end()), 15102);
  EXPECT_FALSE(std::is_sorted(ports.begin(), ports.end()));
}

// A peer whose allocator has locality and whose current port is known:
// its window first, then where a new window would land, never a port twice.
TEST(PortChooserFactoryTest, WindowPeerPredictionThenPlacement) {
  Rng rng(4);
  PeerPortKnowledge peer;
  auto spec = window_spec(nat::WindowOrder::Random, 32, 31);
  spec.placement = nat::BetaSpec{13.2, 7.4, 1024, 20000};
  spec.hold = seconds(61);
  spec.mappings.reset();
  peer.allocator = spec;
  peer.mapping = nat::MappingBehavior::AddressAndPortDependent;
  peer.observed_port = 15080;
  auto chooser = make_port_chooser(peer);
  const auto ports = drain(*chooser, rng, 5000);
  ASSERT_EQ(ports.size(), 5000u);
  EXPECT_TRUE(no_repeats(ports));
  for (std::size_t i = 0; i < 32; ++i) EXPECT_TRUE(ports[i] >= 15071 && ports[i] <= 15102) << i << ": " << ports[i];
  // Then the Beta placement's densest ports: its mode ~ 1024 + 20000 * 12.2 / 18.6 ~ 14,140.
  for (std::size_t i = 32; i < 100; ++i) EXPECT_NEAR(ports[i], 14140, 400) << i;
  // The same from a model built once.
  PeerPortModel model(peer);
  Rng again(4);
  auto from_model = model.make(15080);
  EXPECT_EQ(drain(*from_model, again, 5000), ports);
}

}  // namespace
}  // namespace natpunch::punch

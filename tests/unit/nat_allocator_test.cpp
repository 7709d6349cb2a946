// Properties every allocator keeps, and the simple allocators' rules.
// The block and Beta allocators have their own files.
#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "core/rng.hpp"
#include "nat/allocator_spec.hpp"

namespace natpunch::nat {
namespace {

struct SmallRange {
  std::string name;
  AllocatorSpec spec;
  std::uint16_t min;  // every port the spec can produce lies in [min, max]
  std::uint16_t max;
};

// Small ranges, so tests can fill them completely.
std::vector<SmallRange> small_ranges() {
  return {
      {"Preserving", PreservingSpec{5000, 5063}, 5000, 5063},
      {"Sequential", SequentialSpec{5000, 5063}, 5000, 5063},
      {"Uniform", UniformSpec{5000, 5063}, 5000, 5063},
      {"Block", BlockSpec{16, 5000, 5087}, 5008, 5087},  // whole blocks only: 5008..5087
      {"Beta", BetaSpec{2.242, 5.008, 5000, 64}, 5000, 5063},
  };
}

void PrintTo(const SmallRange& row, std::ostream* os) { *os << row.name; }

class AllocatorContractTest : public ::testing::TestWithParam<SmallRange> {};

TEST_P(AllocatorContractTest, FillsItsRangeWithDistinctPortsThenFails) {
  const auto& row = GetParam();
  auto allocator = make_allocator(row.spec);
  Rng rng(1);
  std::set<std::uint16_t> handed_out;
  for (int i = 0; i < 1000; ++i) {
    auto port = allocator->allocate(kTimeZero, PortRequest{0, 5030}, rng);
    if (!port) break;
    EXPECT_TRUE(handed_out.insert(*port).second) << "port " << *port << " handed out twice";
    EXPECT_GE(*port, row.min);
    EXPECT_LE(*port, row.max);
    EXPECT_TRUE(allocator->in_use(*port));
  }
  EXPECT_EQ(handed_out.size(), std::size_t{row.max} - row.min + 1u);
  EXPECT_FALSE(allocator->allocate(kTimeZero, PortRequest{0, 5030}, rng));
}

// Random churn against a model of what is mapped: no port still mapped is
// ever handed out again, and (except for blocks, which can strand free
// ports in partly used blocks) allocation fails only when the range is full.
TEST_P(AllocatorContractTest, NeverHandsOutAPortThatIsStillMapped) {
  const auto& row = GetParam();
  auto allocator = make_allocator(row.spec);
  Rng rng(2);
  Rng churn(3);
  std::vector<std::uint16_t> mapped;
  const std::size_t range_size = std::size_t{row.max} - row.min + 1u;
  const bool blocks = std::holds_alternative<BlockSpec>(row.spec);
  for (int step = 0; step < 20000; ++step) {
    const bool release = !mapped.empty() && churn.uniform(0, 99) < 45;
    if (release) {
      const auto i = static_cast<std::size_t>(churn.uniform(0, mapped.size() - 1));
      allocator->release(kTimeZero, mapped[i]);
      EXPECT_FALSE(allocator->in_use(mapped[i]));
      mapped[i] = mapped.back();
      mapped.pop_back();
      continue;
    }
    const auto internal_port = static_cast<std::uint16_t>(churn.uniform(4990, 5070));
    auto port = allocator->allocate(kTimeZero, PortRequest{0, internal_port}, rng);
    if (!port) {
      if (!blocks) {
        ASSERT_EQ(mapped.size(), range_size) << "failed with free ports at step " << step;
      }
      continue;
    }
    ASSERT_EQ(std::count(mapped.begin(), mapped.end(), *port), 0) << "port " << *port << " still mapped";
    mapped.push_back(*port);
  }
}

TEST_P(AllocatorContractTest, ReleasingAPortNotInUseChangesNothing) {
  auto allocator = make_allocator(GetParam().spec);
  Rng rng(4);
  auto port = allocator->allocate(kTimeZero, PortRequest{0, 5030}, rng);
  ASSERT_TRUE(port);
  allocator->release(kTimeZero, static_cast<std::uint16_t>(*port + 1));
  allocator->release(kTimeZero, 80);
  EXPECT_TRUE(allocator->in_use(*port));
}

INSTANTIATE_TEST_SUITE_P(AllKinds, AllocatorContractTest, ::testing::ValuesIn(small_ranges()),
                         [](const auto& info) { return info.param.name; });

TEST(PreservingAllocatorTest, KeepsTheInternalPortWhenFree) {
  auto allocator = make_allocator(PreservingSpec{});
  Rng rng(5);
  EXPECT_EQ(allocator->allocate(kTimeZero, PortRequest{0, 40000}, rng), 40000);
  EXPECT_EQ(allocator->allocate(kTimeZero, PortRequest{1, 40001}, rng), 40001);
}

TEST(PreservingAllocatorTest, FallsBackToTheNextFreePortAboveWhenTaken) {
  auto allocator = make_allocator(PreservingSpec{1024, 40002});
  Rng rng(5);
  EXPECT_EQ(allocator->allocate(kTimeZero, PortRequest{0, 40000}, rng), 40000);
  EXPECT_EQ(allocator->allocate(kTimeZero, PortRequest{1, 40000}, rng), 40001);
  EXPECT_EQ(allocator->allocate(kTimeZero, PortRequest{2, 40000}, rng), 40002);
  EXPECT_EQ(allocator->allocate(kTimeZero, PortRequest{3, 40000}, rng), 1024);  // wrapped within the range
  allocator->release(kTimeZero, 40000);
  EXPECT_EQ(allocator->allocate(kTimeZero, PortRequest{4, 40000}, rng), 40000);  // free again: preserved
}

TEST(PreservingAllocatorTest, AnInternalPortOutsideTheRangeGetsOneInside) {
  auto allocator = make_allocator(PreservingSpec{});
  Rng rng(5);
  EXPECT_EQ(allocator->allocate(kTimeZero, PortRequest{0, 53}, rng), kFirstUsablePort);
}

TEST(SequentialAllocatorTest, IncrementsSkipsPortsInUseAndWraps) {
  auto allocator = make_allocator(SequentialSpec{6000, 6004});
  Rng rng(6);
  const PortRequest request{0, 1};
  EXPECT_EQ(allocator->allocate(kTimeZero, request, rng), 6000);
  EXPECT_EQ(allocator->allocate(kTimeZero, request, rng), 6001);
  EXPECT_EQ(allocator->allocate(kTimeZero, request, rng), 6002);
  allocator->release(kTimeZero, 6000);  // freed behind the cursor: not reused until the wrap
  EXPECT_EQ(allocator->allocate(kTimeZero, request, rng), 6003);
  EXPECT_EQ(allocator->allocate(kTimeZero, request, rng), 6004);
  EXPECT_EQ(allocator->allocate(kTimeZero, request, rng), 6000);
  EXPECT_FALSE(allocator->allocate(kTimeZero, request, rng));
  allocator->release(kTimeZero, 6002);
  EXPECT_EQ(allocator->allocate(kTimeZero, request, rng), 6002);
}

TEST(UniformAllocatorTest, LycaMobileRangeStaysInsideAndReachesBothEnds) {
  auto allocator = make_allocator(UniformSpec{2048, 65535});
  Rng rng(7);
  std::uint16_t lowest = 65535;
  std::uint16_t highest = 0;
  for (int i = 0; i < 50000; ++i) {
    auto port = allocator->allocate(kTimeZero, PortRequest{}, rng);
    ASSERT_TRUE(port);
    ASSERT_GE(*port, 2048);
    lowest = std::min(lowest, *port);
    highest = std::max(highest, *port);
    allocator->release(kTimeZero, *port);
  }
  // 50,000 draws over 63,488 ports: the extremes land within ~0.1 % of the ends.
  EXPECT_LT(lowest, 2048 + 200);
  EXPECT_GT(highest, 65535 - 200);
}

TEST(UniformAllocatorTest, CoversEveryPortOfASmallRangeEvenWhenCrowded) {
  auto allocator = make_allocator(UniformSpec{3000, 3099});
  Rng rng(8);
  // Occupy 90 of the 100 ports; the remaining 10 must each come up.
  std::vector<std::uint16_t> held;
  for (int i = 0; i < 90; ++i) held.push_back(*allocator->allocate(kTimeZero, PortRequest{}, rng));
  std::set<std::uint16_t> free_ports;
  for (std::uint16_t p = 3000; p <= 3099; ++p)
    if (!allocator->in_use(p)) free_ports.insert(p);
  ASSERT_EQ(free_ports.size(), 10u);
  std::set<std::uint16_t> seen;
  for (int i = 0; i < 2000; ++i) {
    auto port = allocator->allocate(kTimeZero, PortRequest{}, rng);
    ASSERT_TRUE(port);
    ASSERT_TRUE(free_ports.count(*port)) << *port;
    seen.insert(*port);
    allocator->release(kTimeZero, *port);
  }
  EXPECT_EQ(seen, free_ports);
}

TEST(UniformAllocatorTest, RandomFullyUsesTheWholeUsableRange) {
  auto allocator = make_allocator(RandomFullySpec{});
  Rng rng(9);
  std::uint16_t lowest = 65535;
  std::uint16_t highest = 0;
  for (int i = 0; i < 50000; ++i) {
    auto port = *allocator->allocate(kTimeZero, PortRequest{}, rng);
    ASSERT_GE(port, kFirstUsablePort);
    lowest = std::min(lowest, port);
    highest = std::max(highest, port);
    allocator->release(kTimeZero, port);
  }
  EXPECT_LT(lowest, kFirstUsablePort + 200);
  EXPECT_GT(highest, 65535 - 200);
}

TEST(AllocatorSpecTest, KindNamesAreTheProfileSpellings) {
  EXPECT_EQ(kind_name(PreservingSpec{}), "preserving");
  EXPECT_EQ(kind_name(SequentialSpec{}), "sequential");
  EXPECT_EQ(kind_name(UniformSpec{}), "uniform");
  EXPECT_EQ(kind_name(RandomFullySpec{}), "random");
  EXPECT_EQ(kind_name(BlockSpec{}), "block");
  EXPECT_EQ(kind_name(BetaSpec{}), "beta");
}

struct BadSpec {
  std::string name;
  AllocatorSpec spec;
  std::string field;
};

void PrintTo(const BadSpec& row, std::ostream* os) { *os << row.name; }

class AllocatorSpecValidationTest : public ::testing::TestWithParam<BadSpec> {};

TEST_P(AllocatorSpecValidationTest, NamesTheFaultyField) {
  auto error = validate(GetParam().spec);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->field, GetParam().field) << error->message;
  EXPECT_FALSE(error->message.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Table, AllocatorSpecValidationTest,
    ::testing::Values(BadSpec{"UniformPortZero", UniformSpec{0, 100}, "min"},
                      BadSpec{"UniformMinAboveMax", UniformSpec{200, 100}, "min"},
                      BadSpec{"SequentialMinAboveMax", SequentialSpec{2, 1}, "min"},
                      BadSpec{"BlockNotPowerOfTwo", BlockSpec{100}, "block_size"},
                      BadSpec{"BlockTooSmall", BlockSpec{1}, "block_size"},
                      BadSpec{"BlockTooLarge", BlockSpec{65536}, "block_size"},
                      BadSpec{"BlockNoWholeBlock", BlockSpec{256, 1025, 1300}, "max"},
                      BadSpec{"BlockBackgroundWithoutHold", BlockSpec{256, 1024, 65535, 3, Duration::zero()},
                              "background_hold"},
                      BadSpec{"BetaAlpha", BetaSpec{0, 5, 4630, 13937}, "alpha"},
                      BadSpec{"BetaBeta", BetaSpec{2, -1, 4630, 13937}, "beta"},
                      BadSpec{"BetaLoc", BetaSpec{2, 5, 0, 13937}, "loc"},
                      BadSpec{"BetaScaleBeyondPortSpace", BetaSpec{2, 5, 60000, 6000}, "scale"},
                      BadSpec{"BetaScaleNaN", BetaSpec{2, 5, 4630, std::numeric_limits<double>::quiet_NaN()},
                              "scale"}),
    [](const auto& info) { return info.param.name; });

TEST(AllocatorSpecValidationTest, ThesisPresetsAreValid) {
  EXPECT_FALSE(validate(BlockSpec{}));
  EXPECT_FALSE(validate(UniformSpec{2048, 65535}));
  EXPECT_FALSE(validate(BetaSpec{}));
  EXPECT_FALSE(validate(RandomFullySpec{}));
  EXPECT_FALSE(validate(BlockSpec{32768}));  // one block: 32768..65535
}

}  // namespace
}  // namespace natpunch::nat

// The allocator-sample classifier (measure/allocator_sample.hpp) on
// hand-made samples: one row per rule and per edge of a rule, then samples
// drawn from the NAT model's own allocators (the same code the simulator
// and natd run), many draws each.
#include "measure/allocator_sample.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "nat/allocator_spec.hpp"
#include "nat/port_allocator.hpp"

namespace natpunch::measure {
namespace {

using A = nat::AllocatorClass;
using M = nat::MappingBehavior;

std::vector<ProbeMapping> ports(std::initializer_list<int> mapped, std::optional<int> first_local = std::nullopt) {
  std::vector<ProbeMapping> out;
  int local = first_local.value_or(0);
  for (int p : mapped) {
    ProbeMapping m;
    if (first_local) m.local_port = static_cast<std::uint16_t>(local++ * 7 + 30000);  // kernel-chosen, unrelated
    m.mapped_port = static_cast<std::uint16_t>(p);
    out.push_back(m);
  }
  return out;
}

std::vector<ProbeMapping> kept(std::initializer_list<int> local_ports, int changed = 0) {
  std::vector<ProbeMapping> out;
  int i = 0;
  for (int p : local_ports) {
    const bool moved = i++ < changed;
    out.push_back(ProbeMapping{static_cast<std::uint16_t>(p), static_cast<std::uint16_t>(moved ? p + 1000 : p)});
  }
  return out;
}

struct Row {
  const char* name;
  std::vector<ProbeMapping> sample;
  M mapping;
  A expected;
  std::optional<nat::AllocatorSpec> spec;  // checked when set
};

std::vector<Row> rows() {
  return {
      {"NoNat", kept({40000, 40001, 40002}), M::None, A::NotTranslated, std::nullopt},
      {"TooFew", ports({1000, 1001}), M::EndpointIndependent, A::Unknown, std::nullopt},
      {"AllKept", kept({33001, 41234, 52000, 60001, 35555, 47000, 39999, 58000, 40200}), M::EndpointIndependent,
       A::Preserving, nat::PreservingSpec{}},
      {"ThreeQuartersKept", kept({33001, 41234, 52000, 60001, 35555, 47000, 39999, 58000}, 2),
       M::EndpointIndependent, A::Preserving, nat::PreservingSpec{}},
      {"TooFewKept", kept({33001, 41234, 52000, 60001, 35555, 47000, 39999, 58000}, 3), M::EndpointIndependent,
       A::Random, std::nullopt},
      {"PlusOneSteps", ports({20480, 20481, 20482, 20483, 20484, 20485, 20486, 20487, 20488, 20489, 20490}, 0),
       M::AddressAndPortDependent, A::InOrder, nat::SequentialSpec{}},
      {"StepsWithGaps", ports({9000, 9003, 9004, 9010, 9011, 9020, 9021, 9022, 9030}, 0), M::EndpointIndependent,
       A::InOrder, nat::SequentialSpec{}},
      // 0x53fe, 0x53ff, then a new block at 0x9100: blocks of 256.
      {"BlockRunsOut", ports({0x53fd, 0x53fe, 0x53ff, 0x9100, 0x9101, 0x9102, 0x9103, 0x9104, 0x9105}, 0),
       M::AddressAndPortDependent, A::InOrder, nat::BlockSpec{256}},
      // A jump that starts mid-block says nothing about blocks.
      {"JumpMidBlock", ports({0x53f0, 0x53f1, 0x53f2, 0x9100, 0x9101, 0x9102, 0x9103, 0x9104, 0x9105}, 0),
       M::AddressAndPortDependent, A::InOrder, nat::SequentialSpec{}},
      {"GoingDownIsNotSequential", ports({9000, 8999, 8998, 8997, 8996, 8995, 8994, 8993, 8992}, 0), M::EndpointIndependent,
       A::Clustered, std::nullopt},
      {"RandomOrderInOneWindow", ports({5031, 5050, 5040, 5062, 5033, 5045, 5059, 5037, 5041}, 0),
       M::EndpointIndependent, A::Clustered, std::nullopt},
      // Random order in a 32-port window: small steps up, but back as often.
      {"MostlyUpButBackAndForth", ports({5031, 5040, 5033, 5045, 5050, 5043, 5052, 5058, 5061, 5047, 5062}, 0),
       M::EndpointIndependent, A::Clustered, std::nullopt},
      // An in-order window wrapping once inside itself is still in order.
      {"InOrderWrapsInsideItsWindow", ports({5057, 5058, 5060, 5061, 5062, 5031, 5032, 5033, 5035}, 0),
       M::EndpointIndependent, A::InOrder, nat::SequentialSpec{}},
      {"Spread", ports({3120, 61000, 20000, 45555, 8001, 33333, 59000, 12345, 40000}, 0), M::AddressAndPortDependent,
       A::Random, nat::RandomFullySpec{}},
      // Ports 5000-18000 (Vodafone's Beta law): a narrower uniform.
      {"SpreadInARange", ports({5200, 9000, 12000, 7400, 16000, 10100, 6100, 13500, 8800}, 0),
       M::EndpointIndependent, A::Random, nat::UniformSpec{3850, 17350}},
  };
}

class AllocatorSampleTable : public ::testing::TestWithParam<Row> {};

TEST_P(AllocatorSampleTable, Classifies) {
  const Row& row = GetParam();
  const auto guess = classify_allocator_sample(row.sample, row.mapping);
  SCOPED_TRACE(guess.why);
  EXPECT_EQ(guess.kind, row.expected);
  EXPECT_EQ(guess.mappings, row.sample.size());
  EXPECT_FALSE(guess.why.empty());
  if (row.spec) {
    EXPECT_EQ(guess.spec, row.spec);
  }
  if (guess.spec) {
    EXPECT_FALSE(nat::validate(*guess.spec));
    // What the peer is told shows the class that was seen.
    EXPECT_EQ(nat::sample_class(*guess.spec), row.expected == A::Clustered ? A::Random : row.expected);
  }
}

INSTANTIATE_TEST_SUITE_P(Rules, AllocatorSampleTable, ::testing::ValuesIn(rows()),
                         [](const ::testing::TestParamInfo<Row>& info) { return std::string(info.param.name); });

// Samples from the NAT model's allocators: every draw of 9 fresh mappings
// (kernel-chosen local ports) must show the allocator's class.
struct ModelRow {
  const char* name;
  nat::AllocatorSpec spec;
};

class AllocatorSampleFromModel : public ::testing::TestWithParam<ModelRow> {};

TEST_P(AllocatorSampleFromModel, ShowsTheAllocatorsClass) {
  const auto& spec = GetParam().spec;
  const A expected = nat::sample_class(spec);
  Rng rng(11);
  for (int draw = 0; draw < 200; ++draw) {
    auto allocator = nat::make_allocator(spec);
    std::vector<ProbeMapping> sample;
    std::set<std::uint16_t> locals;
    while (sample.size() < 9) {
      const auto local = static_cast<std::uint16_t>(32768 + rng.next_u64() % 28232);  // Linux's ephemeral range
      if (!locals.insert(local).second) continue;
      const auto port = allocator->allocate(kTimeZero, nat::PortRequest{0, local}, rng);
      ASSERT_TRUE(port);
      sample.push_back(ProbeMapping{local, *port});
    }
    const auto guess = classify_allocator_sample(sample, M::AddressAndPortDependent);
    ASSERT_EQ(guess.kind, expected) << "draw " << draw << ": " << guess.why;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Allocators, AllocatorSampleFromModel,
    ::testing::Values(ModelRow{"Preserving", nat::PreservingSpec{}}, ModelRow{"Sequential", nat::SequentialSpec{}},
                      ModelRow{"Block256", nat::BlockSpec{}}, ModelRow{"Uniform", nat::UniformSpec{2048, 65535}},
                      ModelRow{"RandomFully", nat::RandomFullySpec{}}, ModelRow{"Beta", nat::BetaSpec{}},
                      // Vodafone NL's real allocator (profiles/vodafone-nl.json) and an in-order window.
                      ModelRow{"RandomOrderWindow32Held",
                               nat::WindowSpec{nat::BetaSpec{}, 32, 31, nat::WindowOrder::Random, seconds(61), {}}},
                      ModelRow{"InOrderWindow64", nat::WindowSpec{nat::UniformSpec{2048, 65535}, 64, 0,
                                                                  nat::WindowOrder::InOrder, {}, 64}},
                      ModelRow{"RandomOrderWindow256", nat::WindowSpec{nat::UniformSpec{2048, 65535}, 256, 0,
                                                                       nat::WindowOrder::Random, seconds(61), {}}}),
    [](const ::testing::TestParamInfo<ModelRow>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace natpunch::measure

namespace natpunch::measure {
namespace {

// A STUN answer naming port 0 (fuzz_nat_knowledge found it: six mappings
// all to port 0 came back as a "clustered" uniform:1-0, an invalid
// allocator told to the peer). Such a sample is unusable, never a guess.
TEST(AllocatorSample, AMappingToPortZeroMakesTheSampleUnusable) {
  const std::vector<ProbeMapping> zeros(6, ProbeMapping{std::nullopt, 0});
  const auto guess = classify_allocator_sample(zeros, nat::MappingBehavior::AddressAndPortDependent);
  EXPECT_FALSE(guess.spec.has_value()) << guess.why;
  EXPECT_EQ(guess.mappings, 6u);
  EXPECT_NE(guess.why.find("port 0"), std::string::npos) << guess.why;
  std::vector<ProbeMapping> one{{40000, 40001}, {40002, 40003}, {40004, 0}, {40006, 40007}, {40008, 40009}};
  EXPECT_FALSE(classify_allocator_sample(one, nat::MappingBehavior::AddressAndPortDependent).spec.has_value());
}

}  // namespace
}  // namespace natpunch::measure

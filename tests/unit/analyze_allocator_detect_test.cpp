// The analyzer recovers each of the NAT model's allocators, and its
// parameters, from logs the model produced.
#include "analyze/allocator_detect.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "analyze/mapping_join.hpp"
#include "analyze/mapping_log.hpp"
#include "analyze_synthetic_logs.hpp"

namespace natpunch::analyze {
namespace {

using testing::make_logs;

struct Case {
  std::string name;
  nat::AllocatorSpec spec;
  std::size_t rows;
  std::size_t live_mappings;
  AllocatorKind expected;
};

DetectedAllocator analyze_logs(const testing::SyntheticLogs& logs) {
  const auto client = parse_mapping_log(logs.client, LogSide::Client);
  const auto server = parse_mapping_log(logs.server, LogSide::Server);
  EXPECT_EQ(client.malformed_total(), 0U);
  EXPECT_EQ(server.malformed_total(), 0U);
  const auto joined = join_mappings(client, server);
  EXPECT_EQ(joined.rows.size(), client.records.size());
  return detect_allocator(joined.rows);
}

class DetectKind : public ::testing::TestWithParam<Case> {};

TEST_P(DetectKind, RecoversKind) {
  const Case& c = GetParam();
  for (std::uint64_t seed : {1U, 2U}) {
    const auto detected = analyze_logs(make_logs(c.spec, c.rows, seed, c.live_mappings));
    EXPECT_EQ(detected.kind, c.expected) << c.name << " seed " << seed << ": " << detected.evidence.reason;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Allocators, DetectKind,
    ::testing::Values(Case{"block256", nat::BlockSpec{}, 20000, 0, AllocatorKind::Block},
                      Case{"block64", nat::BlockSpec{64, 1024, 65535, 0, seconds(120)}, 5000, 0, AllocatorKind::Block},
                      Case{"uniform", nat::UniformSpec{2048, 65535}, 20000, 64, AllocatorKind::Uniform},
                      Case{"beta", nat::BetaSpec{}, 20000, 64, AllocatorKind::Beta},
                      Case{"sequential", nat::SequentialSpec{}, 5000, 64, AllocatorKind::Sequential},
                      Case{"preserving", nat::PreservingSpec{}, 5000, 64, AllocatorKind::Preserving}),
    [](const auto& info) { return info.param.name; });

TEST(DetectAllocator, BlockSizeAndEvidence) {
  for (std::uint32_t size : {256U, 1024U}) {
    nat::BlockSpec spec;
    spec.block_size = size;
    const auto detected = analyze_logs(make_logs(spec, 20000, 7, 0));
    ASSERT_EQ(detected.kind, AllocatorKind::Block);
    EXPECT_EQ(detected.block_size, size);
    ASSERT_TRUE(detected.evidence.block);
    // One subscriber alone on the NAT takes whole free blocks from their
    // first port; only the last visit is cut short by the end of the log.
    EXPECT_GT(detected.evidence.block->start_aligned_fraction, 0.95);
    EXPECT_GT(detected.evidence.block->consumed_whole_fraction, 0.9);
    EXPECT_EQ(detected.evidence.run_lengths.count(size), 1U);
  }
}

TEST(DetectAllocator, UniformRange) {
  const auto detected = analyze_logs(make_logs(nat::UniformSpec{2048, 65535}, 20000, 3, 64));
  ASSERT_EQ(detected.kind, AllocatorKind::Uniform);
  EXPECT_LE(std::abs(*detected.min - 2048), 16);
  EXPECT_LE(std::abs(*detected.max - 65535), 16);
  EXPECT_GT(detected.evidence.uniform->ks_p, 0.001);
}

TEST(DetectAllocator, BetaParametersWithinTenPercent) {
  const nat::BetaSpec truth{2.242, 5.008, 4630, 13937};
  const auto detected = analyze_logs(make_logs(truth, 30000, 11, 64));
  ASSERT_EQ(detected.kind, AllocatorKind::Beta) << detected.evidence.reason;
  EXPECT_NEAR(*detected.alpha, truth.alpha, 0.1 * truth.alpha);
  EXPECT_NEAR(*detected.beta, truth.beta, 0.1 * truth.beta);
  EXPECT_NEAR(*detected.loc, truth.loc, 0.05 * truth.scale);
  EXPECT_NEAR(*detected.scale, truth.scale, 0.1 * truth.scale);
  EXPECT_LT(detected.evidence.beta->ks_d, 0.02);
}

TEST(DetectAllocator, ThesisDialectWithJunkRows) {
  auto logs = make_logs(nat::BlockSpec{}, 5000, 9, 0, testing::SyntheticDialect::Thesis);
  logs.client.insert(logs.client.find('\n') + 1, std::string("\x00\xff\x13garbage\n", 11) + "junk, row\n");
  logs.server += "half a row, 12\n";
  const auto client = parse_mapping_log(logs.client, LogSide::Client);
  const auto server = parse_mapping_log(logs.server, LogSide::Server);
  EXPECT_EQ(client.dialect, LogDialect::Thesis);
  EXPECT_EQ(client.malformed_total(), 2U);
  EXPECT_EQ(server.malformed_total(), 1U);
  const auto joined = join_mappings(client, server);
  EXPECT_EQ(joined.rows.size(), 5000U);
  const auto detected = detect_allocator(joined.rows);
  EXPECT_EQ(detected.kind, AllocatorKind::Block);
  EXPECT_EQ(detected.block_size, 256U);
}

TEST(DetectAllocator, ShortBlockLogSaysItCannotRuleOutBlocks) {
  // 600 ordered rows make ~2 crossings of a multiple of 256 expected under
  // a sequential allocator: too few to tell 256-port blocks from it.
  const auto detected = analyze_logs(make_logs(nat::BlockSpec{}, 600, 4, 0));
  EXPECT_EQ(detected.kind, AllocatorKind::Sequential);
  EXPECT_NE(detected.evidence.reason.find("too few rows"), std::string_view::npos);
}

TEST(DetectAllocator, TooFewRowsIsUnknown) {
  const auto detected = analyze_logs(make_logs(nat::UniformSpec{}, kMinRowsForDetection - 1, 1, 64));
  EXPECT_EQ(detected.kind, AllocatorKind::Unknown);
}

TEST(DetectAllocator, MixtureIsUnknown) {
  // Half the ports from a narrow range, half from the whole space: neither
  // uniform nor one Beta hump.
  std::vector<MappingRow> rows;
  Rng rng(5);
  for (int i = 0; i < 4000; ++i) {
    const auto port = static_cast<std::uint16_t>(i % 2 ? rng.uniform(1024, 65535) : rng.uniform(30000, 30500));
    rows.push_back(MappingRow{static_cast<double>(i), 1, port, 2000});
  }
  EXPECT_EQ(detect_allocator(rows).kind, AllocatorKind::Unknown);
}

}  // namespace
}  // namespace natpunch::analyze

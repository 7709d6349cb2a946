// The analyzer recovers each of the NAT model's allocators, and its
// parameters, from logs the model produced.
#include "analyze/allocator_detect.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "analyze/mapping_join.hpp"
#include "analyze/mapping_log.hpp"
#include "analyze/synthetic_log.hpp"
#include "core/rng.hpp"

namespace natpunch::analyze {
namespace {

SyntheticLogs make_logs(const nat::AllocatorSpec& spec, std::size_t rows, std::uint64_t seed,
                        std::size_t live_mappings, SyntheticDialect dialect = SyntheticDialect::Natpunch,
                        BlockOrder order = BlockOrder::InOrder) {
  SyntheticLogOptions o;
  o.rows = rows;
  o.seed = seed;
  o.live_mappings = live_mappings;
  o.dialect = dialect;
  o.block_order = order;
  return make_synthetic_logs(spec, o);
}

struct Case {
  std::string name;
  nat::AllocatorSpec spec;
  std::size_t rows;
  std::size_t live_mappings;
  AllocatorKind expected;
  BlockOrder order = BlockOrder::InOrder;
};

DetectedAllocator analyze_logs(const SyntheticLogs& logs, const DetectOptions& options = {}) {
  const auto client = parse_mapping_log(logs.client, LogSide::Client);
  const auto server = parse_mapping_log(logs.server, LogSide::Server);
  EXPECT_EQ(client.malformed_total(), 0U);
  EXPECT_EQ(server.malformed_total(), 0U);
  const auto joined = join_mappings(client, server);
  EXPECT_EQ(joined.rows.size(), client.records.size());
  return detect_allocator(joined.rows, options);
}

class DetectKind : public ::testing::TestWithParam<Case> {};

TEST_P(DetectKind, RecoversKind) {
  const Case& c = GetParam();
  for (std::uint64_t seed : {1U, 2U}) {
    const auto detected =
        analyze_logs(make_logs(c.spec, c.rows, seed, c.live_mappings, SyntheticDialect::Natpunch, c.order));
    EXPECT_EQ(detected.kind, c.expected) << c.name << " seed " << seed << ": " << detected.evidence.reason;
    if (c.expected == AllocatorKind::Block) {
      EXPECT_EQ(detected.block_order, c.order) << c.name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Allocators, DetectKind,
    ::testing::Values(Case{"block256", nat::BlockSpec{}, 20000, 0, AllocatorKind::Block},
                      Case{"block64", nat::BlockSpec{64, 1024, 65535, 0, seconds(120)}, 5000, 0, AllocatorKind::Block},
                      Case{"uniform", nat::UniformSpec{2048, 65535}, 20000, 64, AllocatorKind::Uniform},
                      Case{"beta", nat::BetaSpec{}, 20000, 64, AllocatorKind::Beta},
                      Case{"sequential", nat::SequentialSpec{}, 5000, 64, AllocatorKind::Sequential},
                      Case{"preserving", nat::PreservingSpec{}, 5000, 64, AllocatorKind::Preserving},
                      Case{"block256_random_order", nat::BlockSpec{}, 20000, 0, AllocatorKind::Block,
                           BlockOrder::Random},
                      Case{"block256_random_order_timeouts", nat::BlockSpec{}, 20000, 64, AllocatorKind::Block,
                           BlockOrder::Random},
                      Case{"block64_random_order", nat::BlockSpec{64, 1024, 65535, 0, seconds(120)}, 5000, 0,
                           AllocatorKind::Block, BlockOrder::Random}),
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
    EXPECT_EQ(detected.block_order, BlockOrder::InOrder);
    EXPECT_GT(detected.evidence.block->in_visit_step_fraction, 0.99);
  }
}

TEST(DetectAllocator, UniformRange) {
  const auto detected = analyze_logs(make_logs(nat::UniformSpec{2048, 65535}, 20000, 3, 64));
  ASSERT_EQ(detected.kind, AllocatorKind::Uniform);
  EXPECT_LE(std::abs(*detected.min - 2048), 16);
  EXPECT_LE(std::abs(*detected.max - 65535), 16);
  EXPECT_GT(detected.evidence.uniform->ks_p, 0.001);
  // The binned test agrees: equal-width bins, 2 estimated ends.
  EXPECT_GT(detected.evidence.uniform->chi_square.p, 0.001);
  EXPECT_GE(detected.evidence.uniform->chi_square.dof, 100U);
}

TEST(DetectAllocator, BetaPortsFailTheUniformityTests) {
  const auto detected = analyze_logs(make_logs(nat::BetaSpec{}, 8000, 3, 64));
  ASSERT_EQ(detected.kind, AllocatorKind::Beta);
  ASSERT_TRUE(detected.evidence.uniform);
  EXPECT_LT(detected.evidence.uniform->ks_p, 1e-6);
  EXPECT_LT(detected.evidence.uniform->chi_square.p, 1e-6);
  // ... and the fitted Beta law passes its own.
  ASSERT_TRUE(detected.evidence.beta);
  EXPECT_GT(detected.evidence.beta->ks_p, 0.01);
  EXPECT_GT(detected.evidence.beta->chi_square.p, 1e-4);
  EXPECT_GT(detected.evidence.beta->chi_square.dof, 50U);
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
  auto logs = make_logs(nat::BlockSpec{}, 5000, 9, 0, SyntheticDialect::Thesis);
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

TEST(DetectAllocator, RandomOrderBlocksSizeAndEvidence) {
  for (std::uint32_t size : {64U, 256U, 1024U}) {
    nat::BlockSpec spec;
    spec.block_size = size;
    const auto detected =
        analyze_logs(make_logs(spec, 20000, 13, 0, SyntheticDialect::Natpunch, BlockOrder::Random));
    ASSERT_EQ(detected.kind, AllocatorKind::Block) << size << ": " << detected.evidence.reason;
    EXPECT_EQ(detected.block_size, size);
    EXPECT_EQ(detected.block_order, BlockOrder::Random);
    const auto& block = *detected.evidence.block;
    // Every hold still uses the whole block, one port at a time, but the
    // first port is a multiple of 256 only by chance, and +1 steps are rare.
    EXPECT_GT(block.consumed_whole_fraction, 0.9) << size;
    EXPECT_LT(block.start_aligned_fraction, 0.1) << size;
    EXPECT_LT(block.in_visit_step_fraction, 0.05) << size;
    EXPECT_GT(block.same_block_fraction, 0.95) << size;
    EXPECT_LT(block.same_block_by_chance, 0.1 * block.same_block_fraction) << size;
    EXPECT_GT(detected.evidence.run_lengths.at(1), detected.evidence.rows / 2) << size;
  }
}

TEST(DetectAllocator, SessionsSplitRunsAndVisits) {
  SyntheticLogOptions o;
  o.rows = 12000;
  o.seed = 21;
  o.live_mappings = 0;
  o.session_rows = 1000;  // a 10-minute pause every 1000 rows; every mapping times out meanwhile
  const auto detected = analyze_logs(make_synthetic_logs(nat::BlockSpec{}, o));
  ASSERT_EQ(detected.kind, AllocatorKind::Block) << detected.evidence.reason;
  EXPECT_EQ(detected.evidence.sessions, 12U);
  // Each session starts a fresh block at its first port and uses 1000 ports:
  // 3 whole blocks and a partial one of 232 ports.
  const auto& block = *detected.evidence.block;
  EXPECT_EQ(block.visits, 12U * 4);
  EXPECT_NEAR(block.consumed_whole_fraction, 0.75, 1e-9);
  EXPECT_NEAR(block.start_aligned_fraction, 1.0, 1e-9);
  EXPECT_EQ(detected.evidence.run_lengths.at(256), 12U * 3);
  EXPECT_EQ(detected.evidence.run_lengths.at(1000 - 3 * 256), 12U);
  // A longer session gap joins them again; the pause is 600 s.
  DetectOptions one_session;
  one_session.session_gap_ms = 700'000;
  EXPECT_EQ(analyze_logs(make_synthetic_logs(nat::BlockSpec{}, o), one_session).evidence.sessions, 1U);
}

// Hand-made in-order block visits whose fractions are known exactly.
std::vector<MappingRow> visits_rows(const std::vector<std::pair<std::uint16_t, std::size_t>>& visits,
                                    std::vector<double> session_starts = {}) {
  std::vector<MappingRow> rows;
  double t = 0;
  std::size_t visit = 0;
  for (const auto& [first, length] : visits) {
    if (std::find(session_starts.begin(), session_starts.end(), static_cast<double>(visit)) != session_starts.end())
      t += 3'600'000;  // an hour's pause: a new session
    for (std::size_t i = 0; i < length; ++i) {
      rows.push_back(MappingRow{t, 1, static_cast<std::uint16_t>(first + i), 2000});
      t += 15;
    }
    ++visit;
  }
  return rows;
}

TEST(DetectAllocator, KpnStyleFractionsFromKnownVisits) {
  // 20 visits to distinct, non-adjacent blocks: 8 start at the block's first
  // port (6 of them use all 256 ports, 2 only 200); 12 start 16 ports in and
  // run to the block's end (240 ports, not whole).
  std::vector<std::pair<std::uint16_t, std::size_t>> visits;
  for (std::uint16_t v = 0; v < 20; ++v) {
    const auto base = static_cast<std::uint16_t>(2560 * (v + 1));  // blocks 10, 20, ... (multiples of 256)
    if (v < 6) visits.emplace_back(base, 256);
    else if (v < 8) visits.emplace_back(base, 200);
    else visits.emplace_back(static_cast<std::uint16_t>(base + 16), 240);
  }
  const auto detected = detect_allocator(visits_rows(visits));
  ASSERT_EQ(detected.kind, AllocatorKind::Block) << detected.evidence.reason;
  EXPECT_EQ(detected.block_size, 256U);
  const auto& block = *detected.evidence.block;
  EXPECT_EQ(block.visits, 20U);
  EXPECT_DOUBLE_EQ(block.start_aligned_fraction, 8.0 / 20);
  EXPECT_DOUBLE_EQ(block.consumed_whole_fraction, 6.0 / 20);
  EXPECT_EQ(detected.evidence.run_lengths.at(256), 6U);
  EXPECT_EQ(detected.evidence.run_lengths.at(200), 2U);
  EXPECT_EQ(detected.evidence.run_lengths.at(240), 12U);
  EXPECT_EQ(block.reused_start_fraction, 0.0);  // one session: nothing to reuse
}

TEST(DetectAllocator, ReusedBlockStartsAcrossSessions) {
  // Three sessions. Each starts at 12800 (the thesis's Lebara example), then
  // moves on; the second and third also revisit the first's second block.
  const std::vector<std::pair<std::uint16_t, std::size_t>> visits{
      {12800, 256}, {5120, 256}, {30720, 256},                   // session 0
      {12800, 256}, {5120 + 40, 100}, {40960, 256},              // session 1
      {12800, 256}, {51200, 256}, {5120, 256}, {20480, 256}};    // session 2
  const auto detected = detect_allocator(visits_rows(visits, {3, 6}));
  ASSERT_EQ(detected.kind, AllocatorKind::Block) << detected.evidence.reason;
  EXPECT_EQ(detected.evidence.sessions, 3U);
  const auto& block = *detected.evidence.block;
  EXPECT_EQ(block.visits, 10U);
  // Start ports seen in an earlier session: 12800 twice, 5120 once (5160 is not a start seen before).
  EXPECT_DOUBLE_EQ(block.reused_start_fraction, 3.0 / 10);
  // Blocks seen in an earlier session: 12800 twice, block 20 (5120..5375) twice.
  EXPECT_DOUBLE_EQ(block.reused_block_fraction, 4.0 / 10);
  ASSERT_GE(block.repeated_starts.size(), 2U);
  EXPECT_EQ(block.repeated_starts[0], (std::pair<std::uint16_t, std::size_t>{12800, 3}));
  EXPECT_EQ(block.repeated_starts[1], (std::pair<std::uint16_t, std::size_t>{5120, 2}));
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

// Locality as the real carriers show it, from the NAT model's window
// allocator: the analyzer finds the window, its offset, its order, what
// ends a stay and where windows sit.
TEST(DetectLocality, RandomOrderWindowsAtAnOffsetHeldForATime) {
  nat::WindowSpec spec;
  spec.placement = nat::UniformSpec{4096, 60000};
  spec.size = 32;
  spec.offset = 31;
  spec.order = nat::WindowOrder::Random;
  spec.hold = seconds(3);
  spec.mappings.reset();
  // Four sessions at 15, 25, 35 and 45 ms per mapping: 200 to 67 mappings a
  // stay, but always 3 s (a single send rate could not tell the two apart).
  SyntheticLogOptions o;
  o.rows = 24'000;
  o.seed = 3;
  o.live_mappings = 8;
  o.session_rows = 6'000;
  o.session_interval_step_ms = 10;
  const auto d = analyze_logs(make_synthetic_logs(spec, o));
  ASSERT_EQ(d.kind, AllocatorKind::Block) << d.evidence.reason;
  EXPECT_EQ(d.block_size, 32u);
  EXPECT_EQ(d.block_offset, 31u);
  EXPECT_EQ(d.block_order, BlockOrder::Random);
  ASSERT_TRUE(d.block_reset);
  EXPECT_EQ(d.block_reset->rule, ResetRule::Hold);
  EXPECT_NEAR(d.block_reset->hold_s, 3.0, 0.1);
  EXPECT_FALSE(d.alpha) << "placed uniformly";
  EXPECT_FALSE(d.plain_block());
  ASSERT_TRUE(d.min && d.max);
  EXPECT_NEAR(*d.min, 4096, 2000);
  EXPECT_NEAR(*d.max, 60000, 2000);
}

TEST(DetectLocality, InOrderWindowsAtAnOffsetAndBetaPlacement) {
  nat::WindowSpec spec;
  spec.placement = nat::BetaSpec{4, 6, 5000, 30000};
  spec.size = 64;
  spec.offset = 16;
  spec.order = nat::WindowOrder::InOrder;
  spec.mappings = 64;
  const auto d = analyze_logs(make_logs(spec, 60'000, 5, 64));
  ASSERT_EQ(d.kind, AllocatorKind::Block) << d.evidence.reason;
  EXPECT_EQ(d.block_size, 64u);
  EXPECT_EQ(d.block_offset, 16u);
  EXPECT_EQ(d.block_order, BlockOrder::InOrder);
  ASSERT_TRUE(d.block_reset);
  EXPECT_EQ(d.block_reset->rule, ResetRule::Mappings);
  EXPECT_EQ(d.block_reset->mappings, 64u);
  ASSERT_TRUE(d.alpha) << d.evidence.block->placement_why;
  // ~940 windows: the fit's mean lands near the law's (5000 + 30000 * 0.4 = 17,000).
  EXPECT_NEAR(*d.loc + *d.scale * *d.alpha / (*d.alpha + *d.beta), 17000, 1500);
}

}  // namespace
}  // namespace natpunch::analyze

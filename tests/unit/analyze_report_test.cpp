// The analyzer's statistics helpers (histogram, chi-square), the data behind
// its figures, the Markdown report and the random-order block in profiles.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "analyze/allocator_detect.hpp"
#include "analyze/analysis_summary.hpp"
#include "analyze/goodness_of_fit.hpp"
#include "analyze/mapping_join.hpp"
#include "analyze/mapping_log.hpp"
#include "analyze/markdown_report.hpp"
#include "analyze/plot_data.hpp"
#include "analyze/profile_export.hpp"
#include "analyze/synthetic_log.hpp"
#include "nat/profile.hpp"

namespace natpunch::analyze {
namespace {

TEST(PortHistogram, EqualWidthBinsCoverTheRange) {
  const std::vector<std::uint16_t> ports{1000, 1001, 1002, 1003, 1005, 1006, 1009, 1009, 999, 1010};
  const auto h = make_port_histogram(ports, 1000, 1009, 3);
  // 10 ports in 3 bins: 1000-1002, 1003-1005, 1006-1009; 999 and 1010 are outside.
  EXPECT_EQ(h.edges, (std::vector<double>{1000, 1003, 1006, 1010}));
  EXPECT_EQ(h.counts, (std::vector<std::size_t>{3, 2, 3}));
  EXPECT_EQ(h.total, 8U);
  // Uniform on [1000, 1009]: 3, 3 and 4 ports of 10.
  const auto expected =
      expected_counts(h, [](double p) { return std::clamp((std::floor(p) + 1 - 1000) / 10.0, 0.0, 1.0); });
  ASSERT_EQ(expected.size(), 3U);
  EXPECT_DOUBLE_EQ(expected[0], 8 * 0.3);
  EXPECT_DOUBLE_EQ(expected[1], 8 * 0.3);
  EXPECT_DOUBLE_EQ(expected[2], 8 * 0.4);
}

// KS distance of a sample with ties (ports repeat): each distinct value's
// CDF is asked once, and the distance is the one the textbook formula gives.
TEST(KsStatistic, TiesAskTheCdfOncePerValueAndGiveTheSameDistance) {
  const std::vector<double> sorted{1, 1, 1, 2, 5, 5, 7, 7, 7, 7};
  const auto law = [](double x) { return std::clamp(x / 8.0, 0.0, 1.0); };
  double expected = 0;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const double f = law(sorted[i]), n = static_cast<double>(sorted.size());
    expected = std::max({expected, (static_cast<double>(i) + 1) / n - f, f - static_cast<double>(i) / n});
  }
  int calls = 0;
  const double d = ks_statistic(sorted, [&](double x) {
    ++calls;
    return law(x);
  });
  EXPECT_DOUBLE_EQ(d, expected);
  EXPECT_NEAR(d, 0.275, 1e-12);  // just before the first 7: F(7) = 0.875 against 6 of 10 samples below it
  EXPECT_EQ(calls, 4);
}

TEST(ChiSquare, KnownValues) {
  struct Row {
    std::vector<std::size_t> observed;
    std::vector<double> expected;
    std::size_t estimated;
    double statistic;
    std::size_t bins, dof;
    double p;
  };
  const Row rows[] = {
      {{10, 10, 10, 10}, {10, 10, 10, 10}, 0, 0.0, 4, 3, 1.0},
      // 20 vs 0 against 10 / 10: chi2 = 20 on 1 dof, p = 7.74e-6.
      {{20, 0}, {10, 10}, 0, 20.0, 2, 1, 7.7442e-6},
      // Five bins expecting 1 merge into one expecting 5; the last stands.
      {{1, 1, 1, 1, 1, 5}, {1, 1, 1, 1, 1, 5}, 0, 0.0, 2, 1, 1.0},
      // A thin tail (expects 2) joins the last full bin: (12 - 12)^2 / 12.
      {{10, 10, 2}, {10, 10, 2}, 0, 0.0, 2, 1, 1.0},
      // Estimated parameters eat the degrees of freedom.
      {{12, 8, 10}, {10, 10, 10}, 2, 0.8, 3, 0, 1.0},
  };
  for (const auto& row : rows) {
    const auto t = chi_square_test(row.observed, row.expected, row.estimated);
    EXPECT_NEAR(t.statistic, row.statistic, 1e-9);
    EXPECT_EQ(t.bins, row.bins);
    EXPECT_EQ(t.dof, row.dof);
    EXPECT_NEAR(t.p, row.p, 1e-3 * row.p);
  }
}

struct Analyzed {
  ParsedLog client, server;
  JoinedMappings joined;
  DetectedAllocator detected;
};

Analyzed analyze(const nat::AllocatorSpec& spec, std::size_t rows, std::size_t live,
                 BlockOrder order = BlockOrder::InOrder) {
  SyntheticLogOptions o;
  o.rows = rows;
  o.live_mappings = live;
  o.block_order = order;
  o.dialect = SyntheticDialect::Thesis;
  auto logs = make_synthetic_logs(spec, o);
  logs.client += "not, a, row\n";
  Analyzed a{parse_mapping_log(logs.client, LogSide::Client), parse_mapping_log(logs.server, LogSide::Server), {}, {}};
  a.joined = join_mappings(a.client, a.server);
  a.detected = detect_allocator(a.joined.rows);
  return a;
}

std::size_t lines(const std::string& text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')); }

TEST(PlotData, CsvShapes) {
  const auto a = analyze(nat::UniformSpec{2048, 65535}, 5000, 64);
  ASSERT_EQ(a.detected.kind, AllocatorKind::Uniform);
  const auto mappings = mappings_csv(a.joined.rows, 30'000);
  EXPECT_EQ(lines(mappings), 5001U);
  EXPECT_EQ(mappings.rfind("row,time_s,session,local_port,mapped_port,server_port\n0,0.000,0,", 0), 0U);
  const auto runs = run_lengths_csv(a.detected.evidence);
  EXPECT_EQ(runs.rfind("length,runs\n1,", 0), 0U);
  // 100 bins with the counts the uniform law expects, which sum to the rows.
  const auto histogram = histogram_csv(a.joined.rows, a.detected);
  EXPECT_EQ(lines(histogram), 101U);
  std::istringstream in(histogram);
  std::string line;
  std::getline(in, line);
  double observed = 0, expected = 0;
  while (std::getline(in, line)) {
    unsigned lo = 0, hi = 0;
    double count = 0, e = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), "%u,%u,%lf,%lf", &lo, &hi, &count, &e), 4) << line;
    EXPECT_LE(lo, hi);
    observed += count;
    expected += e;
  }
  EXPECT_EQ(observed, 5000);
  EXPECT_NEAR(expected, 5000, 0.1);  // printed to 3 decimals
  // No fitted law for blocks: the expected column is empty.
  const auto blocks = analyze(nat::BlockSpec{}, 5000, 0);
  ASSERT_EQ(blocks.detected.kind, AllocatorKind::Block);
  const auto block_histogram = histogram_csv(blocks.joined.rows, blocks.detected);
  EXPECT_NE(block_histogram.find(",\n"), std::string::npos);
}

TEST(MarkdownReport, SaysWhatWasFoundAndWhy) {
  const auto a = analyze(nat::BlockSpec{}, 5000, 0, BlockOrder::Random);
  ASSERT_EQ(a.detected.kind, AllocatorKind::Block);
  const std::vector<CollectionRun> runs{CollectionRun{"phone.csv", "server.csv", a.client, a.server, a.joined}};
  const Analysis analysis{runs, a.joined.rows, a.detected, {}};
  const std::vector<ReportFigure> figures{{"figs/ports_over_time.png", "Mapped port through time"}};
  const auto md = markdown_report(analysis, figures, allocator_object_json(a.detected));
  for (const char* needle : {"# Mapping analysis: block allocator", "`phone.csv`", "| wrong number of fields | 1 | 0 |",
                             "**5000 rows**", "block_size 256, ports taken in random order",
                             "visits that consumed the whole block", "![Mapped port through time](figs/ports_over_time.png)",
                             "\"locality\":{\"window\":256,\"offset\":0,\"order\":\"random\""})
    EXPECT_NE(md.find(needle), std::string::npos) << needle << "\n" << md;
  // The JSON summary carries the same evidence.
  const auto j = nlohmann::json::parse(analysis_json(analysis));
  EXPECT_EQ(j["allocator"]["locality"]["order"], "random");
  EXPECT_EQ(j["allocator"]["evidence"]["block"]["order"], "random");
  EXPECT_EQ(j["client"]["malformed"]["wrong number of fields"], 1);
}

// A block taken in random order is no thesis block: the profile says so
// with its locality, and loads as a window allocator.
TEST(ProfileExport, RandomOrderBlockIsAWindowWithLocality) {
  DetectedAllocator d;
  d.kind = AllocatorKind::Block;
  d.block_size = 256;
  d.block_order = BlockOrder::Random;
  d.block_offset = 0;
  d.block_reset = ResetDecision{ResetRule::Mappings, 256, 0, "used up"};
  d.min = 1024;
  d.max = 65535;
  d.evidence.rows = 1000;
  d.evidence.reason = "test";
  d.evidence.block = BlockEvidence{};
  d.evidence.block->order = BlockOrder::Random;
  const auto text = profile_json(d, ProfileIdentity{"Test", "NL", false, "unit test", {}, ""});
  const auto profile = nat::parse_profile(text, "analyzed.json");
  ASSERT_TRUE(profile) << profile.error().to_string() << "\n" << text;
  ASSERT_TRUE(profile->allocator);
  const auto& window = std::get<nat::WindowSpec>(*profile->allocator);
  EXPECT_EQ(window.size, 256U);
  EXPECT_EQ(window.order, nat::WindowOrder::Random);
  EXPECT_EQ(window.mappings, 256U);
  EXPECT_NE(nlohmann::json::parse(text)["notes"].get<std::string>().find("in random order"), std::string::npos);
}

}  // namespace
}  // namespace natpunch::analyze

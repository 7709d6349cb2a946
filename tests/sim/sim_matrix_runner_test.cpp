// The Monte-Carlo matrix: shape, reproducibility and independence from
// threads and from which other carriers are in the matrix.
#include "sim/matrix_runner.hpp"

#include <gtest/gtest.h>

namespace natpunch::sim {
namespace {

MatrixConfig small_matrix(std::vector<std::string> names, unsigned threads) {
  MatrixConfig c;
  for (const auto& name : names) c.carriers.push_back(*carrier_preset(name));
  c.runs = 3;
  c.probes = 3000;
  c.seed = 11;
  c.threads = threads;
  return c;
}

std::vector<std::pair<bool, std::uint64_t>> fingerprint(const MatrixCell& cell) {
  std::vector<std::pair<bool, std::uint64_t>> out;
  for (const auto& r : cell.runs) out.emplace_back(r.connected, r.events);
  return out;
}

TEST(CarrierPresetTest, TheThesisCarriersExistAndAreValid) {
  ASSERT_EQ(carrier_preset_names().size(), 5u);
  for (const auto& name : carrier_preset_names()) {
    const auto carrier = carrier_preset(name);
    ASSERT_TRUE(carrier) << name;
    nat::NatConfig config = carrier->nat;
    config.public_addresses = {IpAddress::v4({203, 0, 113, 1})};
    EXPECT_FALSE(nat::validate(config)) << name;
    EXPECT_EQ(carrier->assumed, name == "odido") << name;
  }
  EXPECT_FALSE(carrier_preset("t-mobile"));
  EXPECT_EQ(carrier_preset("kpn")->nat.pending_timeout, seconds(120));
  EXPECT_EQ(carrier_preset("vodafone")->nat.established_timeout, seconds(299));
}

TEST(MatrixRunnerTest, LowerTriangleLikeTableIOrFullGrid) {
  auto config = small_matrix({"kpn", "vodafone", "lycamobile"}, 1);
  config.runs = 1;
  config.probes = 10;
  const auto triangle = run_matrix(config);
  ASSERT_TRUE(triangle);
  EXPECT_EQ(triangle->cells.size(), 6u);
  for (const auto& cell : triangle->cells) EXPECT_LE(cell.column, cell.row);
  config.full_grid = true;
  const auto grid = run_matrix(config);
  ASSERT_TRUE(grid);
  EXPECT_EQ(grid->cells.size(), 9u);
}

TEST(MatrixRunnerTest, SameSeedSameTableWhateverTheThreadCount) {
  std::size_t calls = 0;
  const auto one = run_matrix(small_matrix({"kpn", "vodafone"}, 1), [&](std::size_t done, std::size_t total) {
    ++calls;
    EXPECT_LE(done, total);
    EXPECT_EQ(total, 9u);
  });
  const auto two = run_matrix(small_matrix({"kpn", "vodafone"}, 2));
  ASSERT_TRUE(one && two);
  EXPECT_EQ(calls, 9u);
  ASSERT_EQ(one->cells.size(), two->cells.size());
  for (std::size_t i = 0; i < one->cells.size(); ++i) EXPECT_EQ(fingerprint(one->cells[i]), fingerprint(two->cells[i]));
  EXPECT_EQ(one->events, two->events);
  EXPECT_GT(one->probes, 0u);
}

// Ctrl-C in `simulate`: once stop holds no run starts; the cells keep the
// finished runs, each the same as in an uninterrupted matrix.
TEST(MatrixRunnerTest, AStopKeepsOnlyTheFinishedRuns) {
  const auto full = run_matrix(small_matrix({"kpn", "vodafone"}, 1));
  ASSERT_TRUE(full);
  EXPECT_FALSE(full->interrupted);
  auto config = small_matrix({"kpn", "vodafone"}, 1);
  std::size_t asked = 0;
  config.stop = [&] { return ++asked > 4; };  // four runs start, then stop
  const auto part = run_matrix(config);
  ASSERT_TRUE(part);
  EXPECT_TRUE(part->interrupted);
  ASSERT_EQ(part->cells.size(), full->cells.size());
  std::size_t runs = 0;
  for (std::size_t i = 0; i < part->cells.size(); ++i) {
    const auto got = fingerprint(part->cells[i]);
    auto want = fingerprint(full->cells[i]);
    want.resize(got.size());
    EXPECT_EQ(got, want) << i;
    runs += got.size();
  }
  EXPECT_EQ(runs, 4u);
  EXPECT_EQ(part->cells[0].runs.size(), 3u);
  EXPECT_EQ(part->cells[1].runs.size(), 1u);
  EXPECT_TRUE(part->cells[2].runs.empty());
  config.stop = [] { return false; };
  const auto never = run_matrix(config);
  ASSERT_TRUE(never);
  EXPECT_FALSE(never->interrupted);
}

TEST(MatrixRunnerTest, ACellDoesNotDependOnTheOtherCarriers) {
  const auto pair = run_matrix(small_matrix({"vodafone", "lebara"}, 1));
  const auto more = run_matrix(small_matrix({"kpn", "vodafone", "lebara"}, 1));
  ASSERT_TRUE(pair && more);
  // vodafone x lebara: pair's cell (1, 0) is more's cell (2, 1).
  const auto find = [](const MatrixResult& r, std::size_t row, std::size_t column) {
    for (const auto& cell : r.cells)
      if (cell.row == row && cell.column == column) return fingerprint(cell);
    return std::vector<std::pair<bool, std::uint64_t>>{};
  };
  EXPECT_EQ(find(*pair, 1, 0), find(*more, 2, 1));
  EXPECT_FALSE(find(*pair, 1, 0).empty());
}

TEST(MatrixRunnerTest, MediansCountOnlySuccessfulRuns) {
  MatrixCell cell;
  cell.runs = {RunRecord{true, 100, seconds(3), 0}, RunRecord{false, 170000, {}, 0}, RunRecord{true, 300, seconds(5), 0}};
  EXPECT_EQ(cell.successes(), 2u);
  EXPECT_EQ(cell.median_probes(), 200.0);
  EXPECT_EQ(cell.median_seconds(), 4.0);
  cell.runs = {RunRecord{false, 170000, {}, 0}};
  EXPECT_FALSE(cell.median_probes());
}

TEST(MatrixRunnerTest, InvalidCarrierConfigNamesTheCarrier) {
  auto config = small_matrix({"kpn"}, 1);
  config.carriers[0].nat.established_timeout = Duration::zero();
  const auto result = run_matrix(config);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().find("kpn"), std::string::npos);
  EXPECT_NE(result.error().find("established_timeout"), std::string::npos);
}

}  // namespace
}  // namespace natpunch::sim

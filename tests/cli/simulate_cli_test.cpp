// `natpunch simulate matrix` with the strategies of issue 5: improved,
// auto and the naive-vs-improved comparison, as a user (or script) runs it.
#include <gtest/gtest.h>

#include <map>

#include <nlohmann/json.hpp>
#include <string>

#include "../support/run_command.hpp"

namespace {

natpunch::test_support::CommandResult natpunch_cmd(const std::string& args) {
  return natpunch::test_support::run_command(std::string(NATPUNCH_BINARY) + " " + args + " 2>/dev/null");
}

nlohmann::json json_of(const std::string& args) {
  const auto r = natpunch_cmd(args);
  EXPECT_EQ(r.exit_code, 0) << args;
  return nlohmann::json::parse(r.output, nullptr, false);
}

TEST(CliSimulateStrategies, ImprovedMatrixConnectsEveryKpnAndLebaraRun) {
  const auto j = json_of("simulate matrix --strategy improved --runs 3 --probes 2000 --carriers kpn,lebara --json --quiet");
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["strategy"], "improved");
  EXPECT_EQ(j["prediction"], true);
  ASSERT_EQ(j["cells"].size(), 3u);
  for (const auto& cell : j["cells"]) {
    EXPECT_EQ(cell["successes"], 3) << cell.dump();
    EXPECT_LT(cell["median_probes_per_side"].get<double>(), 100.0) << cell.dump();
  }
}

TEST(CliSimulateStrategies, AutoNamesTheChosenStrategyPerPair) {
  const auto j = json_of("simulate matrix --strategy auto --runs 1 --probes 2000 --carriers kpn,lebara,lycamobile --json --quiet");
  ASSERT_FALSE(j.is_discarded());
  std::map<std::string, std::string> chosen;
  for (const auto& cell : j["cells"]) chosen[cell["a"].get<std::string>() + "x" + cell["b"].get<std::string>()] = cell["strategy"];
  EXPECT_EQ(chosen["kpnxkpn"], "improved");
  EXPECT_EQ(chosen["lebaraxkpn"], "one-hard-side");
  EXPECT_EQ(chosen["lebaraxlebara"], "hole-punch");
  EXPECT_EQ(chosen["lycamobilexkpn"], "direct");
}

TEST(CliSimulateStrategies, CompareReportsBothSidesAndTheRatio) {
  const auto j = json_of("simulate matrix --strategy compare --runs 2 --probes 3000 --carriers kpn --json --quiet");
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["strategy"], "compare");
  ASSERT_EQ(j["pairs"].size(), 1u);
  const auto& pair = j["pairs"][0];
  EXPECT_EQ(pair["improved"]["successes"], 2);
  // KPN x KPN naive with 3,000 probes almost never connects, so the ratio is
  // a lower bound (the budget over the improved figure).
  ASSERT_TRUE(pair["ratio_99"].is_number());
  EXPECT_GT(pair["ratio_99"].get<double>(), 50.0);
  EXPECT_EQ(pair["ratio_99_is_lower_bound"], pair["naive"]["probes_for_99_percent"].is_null());
  const auto text = natpunch_cmd("simulate matrix --strategy compare --runs 2 --probes 3000 --carriers kpn --quiet");
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.output.find("KPN x KPN"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("ratio 99 %"), std::string::npos) << text.output;
}

TEST(CliSimulateStrategies, CarrierLoadIsAppliedAndReported) {
  // KPN x KPN naive with the mapping quota at 1: each side gets one probe
  // out per 120 s, so 300 probes never connect; the JSON says what was set.
  const auto j = json_of(
      "simulate matrix --runs 3 --probes 300 --carriers kpn --max-mappings 1 --background-subscribers 100 --json --quiet");
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["load"]["block_background_subscribers"], 100);
  EXPECT_EQ(j["load"]["max_mappings_per_subscriber"], 1);
  EXPECT_TRUE(j["load"]["background_hold_s"].is_null());
  ASSERT_EQ(j["cells"].size(), 1u);
  EXPECT_EQ(j["cells"][0]["successes"], 0);
  const auto text = natpunch_cmd("simulate matrix --runs 1 --probes 10 --carriers kpn --background-subscribers 10 --quiet");
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.output.find("10 other subscribers holding blocks"), std::string::npos) << text.output;
  EXPECT_EQ(natpunch_cmd("simulate matrix --max-mappings 0").exit_code, 2);
  EXPECT_EQ(natpunch_cmd("simulate matrix --background-subscribers -3").exit_code, 2);
}

TEST(CliSimulateStrategies, RejectsUnknownStrategyAndBadSocketCount) {
  EXPECT_EQ(natpunch_cmd("simulate matrix --strategy fastest").exit_code, 2);
  EXPECT_EQ(natpunch_cmd("simulate matrix --strategy improved --sockets 0").exit_code, 2);
}

}  // namespace

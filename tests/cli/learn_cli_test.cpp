// `natpunch learn --simulate` as a user (or script) runs it: the JSON
// report, the CSV for the plot, and usage errors with exit code 2.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "../support/run_command.hpp"

namespace {

natpunch::test_support::CommandResult learn(const std::string& args) {
  return natpunch::test_support::run_command(std::string(NATPUNCH_BINARY) + " learn " + args + " 2>/dev/null");
}

TEST(CliLearn, JsonReportHasEveryPeerNearTheCentralModel) {
  const auto r = learn("--simulate --peers 4 --rounds 40 --loss 0.05 --seed 3 --json --quiet --expect-within 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  ASSERT_EQ(j["peers"].size(), 4u);
  EXPECT_EQ(j["central"]["accuracy"].size(), 40u);
  EXPECT_GT(j["central"]["final_accuracy"].get<double>(), 0.93);
  for (const auto& peer : j["peers"]) {
    EXPECT_EQ(peer["rounds"].size(), 40u);
    EXPECT_GT(peer["bytes_sent"].get<std::uint64_t>(), 0u);
  }
  EXPECT_LE(j["worst_gap_points"].get<double>(), 2.0);
}

TEST(CliLearn, WritesTheCsvForThePlot) {
  const std::string path = ::testing::TempDir() + "natpunch_learn_cli.csv";
  std::remove(path.c_str());
  ASSERT_EQ(learn("--simulate --peers 4 --rounds 5 --quiet --csv " + path).exit_code, 0);
  std::ifstream in(path);
  ASSERT_TRUE(in.good());
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header.rfind("round,who,accuracy,bytes_sent", 0), 0u);
  int rows = 0;
  for (std::string line; std::getline(in, line);) ++rows;
  EXPECT_EQ(rows, 5 * 5);  // central + 4 peers, 5 rounds each
  std::remove(path.c_str());
}

TEST(CliLearn, UsageErrorsExitTwo) {
  EXPECT_EQ(learn("").exit_code, 2);                                  // no mode
  EXPECT_EQ(learn("--simulate --peers 1").exit_code, 2);              // too few peers
  EXPECT_EQ(learn("--simulate --vanish 9@3").exit_code, 2);           // no such peer
  EXPECT_EQ(learn("--simulate --vanish two").exit_code, 2);
  EXPECT_EQ(learn("--simulate --mtu 20").exit_code, 2);               // smaller than a chunk header
  EXPECT_EQ(learn("--simulate --data /nonexistent.csv").exit_code, 2);
  const auto help = natpunch::test_support::run_command(std::string(NATPUNCH_BINARY) + " learn --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("--simulate"), std::string::npos);
  EXPECT_NE(help.output.find("Examples"), std::string::npos);
}

}  // namespace

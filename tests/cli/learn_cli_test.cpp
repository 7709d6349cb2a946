// `natpunch learn` as a user (or script) runs it: --simulate's JSON report
// and CSV for the plot; a real two-peer run over natpunch sessions through
// a rendezvous server on loopback; usage errors with exit code 2.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <string>

#include "../support/child_process.hpp"
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
  const std::string path = ::testing::TempDir() + "natpunch_learn_cli_" + std::to_string(getpid()) + ".csv";
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

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("natpunch-learn-cli-" + std::to_string(getpid()) + "-" + name)).string();
}

std::string keygen(const std::string& file) {
  std::remove(file.c_str());
  const auto r = natpunch::test_support::run_command(std::string(NATPUNCH_BINARY) + " keygen --identity " + file);
  return r.exit_code == 0 ? r.output.substr(0, 64) : std::string();
}

// Two processes, one rendezvous server on loopback: both open their session
// (one connects, the other listens: the keys decide), train, and report the
// same central model, their own accuracy and the link with its bytes.
TEST(CliLearn, TwoProcessesTrainOverARealSession) {
  using namespace std::chrono_literals;
  natpunch::test_support::ChildProcess server(NATPUNCH_BINARY, {"rendezvous", "--listen", "127.0.0.1:0", "--json-log"});
  ASSERT_TRUE(server.started());
  const auto ready_line = server.read_line(5000ms);
  ASSERT_TRUE(ready_line);
  const auto ready = nlohmann::json::parse(*ready_line, nullptr, false);
  ASSERT_FALSE(ready.is_discarded()) << *ready_line;
  const std::string address = ready["address"].get<std::string>();

  const std::string key_a = temp_path("a.key"), key_b = temp_path("b.key");
  const std::string list = keygen(key_a) + "," + keygen(key_b);
  ASSERT_EQ(list.size(), 129u);
  const std::string csv_a = temp_path("a.csv");
  auto run_peer = [&](const std::string& key_file, const std::string& extra) {
    return natpunch::test_support::run_command(std::string(NATPUNCH_BINARY) + " learn --rendezvous " + address +
                                               " --identity " + key_file + " --peers " + list +
                                               " --rounds 12 --wait 20 --json " + extra + " 2>/dev/null");
  };
  auto a = std::async(std::launch::async, run_peer, key_a, "--csv " + csv_a + " --expect-within 2");
  auto b = std::async(std::launch::async, run_peer, key_b, "--expect-within 2");
  const auto ra = a.get(), rb = b.get();
  ASSERT_EQ(ra.exit_code, 0) << ra.output;
  ASSERT_EQ(rb.exit_code, 0) << rb.output;
  const auto ja = nlohmann::json::parse(ra.output, nullptr, false), jb = nlohmann::json::parse(rb.output, nullptr, false);
  ASSERT_FALSE(ja.is_discarded() || jb.is_discarded());
  EXPECT_EQ(ja["mode"], "sessions");
  EXPECT_EQ(ja["central"]["accuracy"], jb["central"]["accuracy"]);  // same seed, same baseline
  EXPECT_NE(ja["self"]["index"], jb["self"]["index"]);              // different shares of the data
  for (const auto* j : {&ja, &jb}) {
    EXPECT_EQ((*j)["rounds"].size(), 12u);
    EXPECT_FALSE((*j)["interrupted"].get<bool>());
    ASSERT_EQ((*j)["links"].size(), 1u);
    const auto& link = (*j)["links"][0];
    EXPECT_EQ(link["route"], "direct");  // nothing between two sockets on loopback
    EXPECT_GT(link["bytes_sent"].get<std::uint64_t>(), 12u * 650u * 4u);  // 12 models of 650 float32 parameters
    EXPECT_GT(link["bytes_received"].get<std::uint64_t>(), 12u * 650u * 4u);
    EXPECT_LE((*j)["gap_points"].get<double>(), 2.0);
  }
  // One connects, the other listens: the lower key calls.
  EXPECT_NE(ja["links"][0]["role"], jb["links"][0]["role"]);
  std::ifstream in(csv_a);
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header.rfind("round,who,accuracy", 0), 0u);
  int rows = 0;
  for (std::string line; std::getline(in, line);) ++rows;
  EXPECT_EQ(rows, 12 * 2);  // central + this peer
  for (const auto& f : {key_a, key_b, csv_a}) std::remove(f.c_str());
}

TEST(CliLearn, RealRunUsageErrorsExitTwo) {
  const std::string key_file = temp_path("u.key");
  const std::string own = keygen(key_file);
  ASSERT_EQ(own.size(), 64u);
  const std::string other(64, 'a');
  const std::string base = "--rendezvous 127.0.0.1:9 --identity " + key_file;
  EXPECT_EQ(learn("--rendezvous 127.0.0.1:9 --peers " + own + "," + other).exit_code, 2);  // no identity
  EXPECT_EQ(learn(base + " --peers " + other + "," + std::string(64, 'b')).exit_code, 2);  // own key missing
  EXPECT_EQ(learn(base + " --peers " + own).exit_code, 2);                                   // alone
  EXPECT_EQ(learn(base + " --peers " + own + "," + own).exit_code, 2);                       // twice
  EXPECT_EQ(learn(base + " --peers " + own + ",xyz").exit_code, 2);                          // not a key
  EXPECT_EQ(learn(base + " --peers " + own + "," + other + " --simulate").exit_code, 2);     // both modes
  EXPECT_EQ(learn(base + " --peers " + own + "," + other + " --profile no-such-carrier").exit_code, 2);
  EXPECT_EQ(learn("--simulate --peers " + own + "," + other).exit_code, 2);                  // keys need --rendezvous
  std::remove(key_file.c_str());
  const auto help = natpunch::test_support::run_command(std::string(NATPUNCH_BINARY) + " learn --help");
  EXPECT_NE(help.output.find("--rendezvous"), std::string::npos);
  EXPECT_NE(help.output.find("lower key connects"), std::string::npos);
}

}  // namespace

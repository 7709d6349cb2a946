// The CLI as a user runs it: the real `natpunch` binary, its JSON output and
// its exit codes, for the subcommands that need no network.
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "../support/run_command.hpp"

namespace {

using natpunch::test_support::CommandResult;

CommandResult natpunch(const std::string& args) {
  return natpunch::test_support::run_command(std::string(NATPUNCH_BINARY) + " " + args + " 2>/dev/null");
}

nlohmann::json json_of(const CommandResult& r) { return nlohmann::json::parse(r.output, nullptr, false); }

TEST(CliBirthday, PrintsTheThesisFiguresAsJson) {
  auto half = json_of(natpunch("birthday --success 0.5 --json"));
  ASSERT_FALSE(half.is_discarded());
  ASSERT_TRUE(half.contains("models"));
  EXPECT_EQ(half["models"][0]["model"], "classic");
  EXPECT_EQ(half["models"][0]["probes"], 77162);
  auto sure = json_of(natpunch("birthday --success 0.999 --model classic --json"));
  ASSERT_FALSE(sure.is_discarded());
  EXPECT_EQ(sure["models"][0]["probes"], 243587);
}

struct BadInput {
  const char* args;
};
class CliRejects : public testing::TestWithParam<BadInput> {};

TEST_P(CliRejects, BadInputWithExitCode2) { EXPECT_EQ(natpunch(GetParam().args).exit_code, 2) << GetParam().args; }

INSTANTIATE_TEST_SUITE_P(Table, CliRejects,
                         testing::Values(BadInput{"birthday --success 1.5"}, BadInput{"birthday --probes -3"},
                                         BadInput{"simulate matrix --carriers nosuchcarrier"},
                                         BadInput{"simulate matrix --runs 0"}, BadInput{"nosuchcommand"},
                                         BadInput{"stun-server --listen 1.2.3:4"}, BadInput{""}));

// natd checks every option before it creates its TUN device, so these need no root.
#define NATD "natd --tun np0 --inside-cidr 100.64.1.0/24 --public-ip 203.0.113.111 "
INSTANTIATE_TEST_SUITE_P(Natd, CliRejects,
                         testing::Values(BadInput{NATD "--mapping endpoint-independent --filtering endpoint-independent"},
                                         BadInput{NATD "--mapping eim --filtering endpoint-independent --allocator random"},
                                         BadInput{NATD "--mapping endpoint-independent --filtering endpoint-independent "
                                                       "--allocator block:300"},
                                         BadInput{NATD "--profile /nonexistent/profile.json"},
                                         BadInput{NATD "--profile /nonexistent/p.json --mapping endpoint-independent"},
                                         BadInput{NATD "--mapping endpoint-independent --filtering endpoint-independent "
                                                       "--allocator random --idle-timeout 0"},
                                         BadInput{"natd --tun np0 --inside-cidr 100.64.1.0/33 --public-ip 203.0.113.111 "
                                                  "--mapping endpoint-independent --filtering endpoint-independent "
                                                  "--allocator random"},
                                         BadInput{"natd --tun np0 --inside-cidr 100.64.1.0/24 --public-ip 100.64.1.7 "
                                                  "--mapping endpoint-independent --filtering endpoint-independent "
                                                  "--allocator random"},
                                         BadInput{"natd --tun abcdefghijklmnop --inside-cidr 100.64.1.0/24 "
                                                  "--public-ip 203.0.113.111 --mapping endpoint-independent "
                                                  "--filtering endpoint-independent --allocator random"}));
#undef NATD

// The matrix is reproducible from its seed and reports every requested pair.
TEST(CliSimulateMatrix, SeededJsonIsReproducible) {
  const std::string args = "simulate matrix --runs 2 --probes 3000 --seed 3 --carriers kpn,lycamobile --json --quiet";
  auto first = natpunch(args);
  auto second = natpunch(args + " --threads 1");
  ASSERT_EQ(first.exit_code, 0);
  ASSERT_EQ(second.exit_code, 0);
  auto a = json_of(first);
  auto b = json_of(second);
  ASSERT_FALSE(a.is_discarded()) << first.output;
  ASSERT_TRUE(a.contains("cells"));
  EXPECT_EQ(a["cells"].size(), 3u);  // Table I's lower triangle of 2 carriers
  EXPECT_EQ(a["cells"], b["cells"]);
  for (const auto& cell : a["cells"]) EXPECT_EQ(cell["runs"].size(), 2u);
}


// analyze: the thesis's CSV format in, the detected allocator out. The logs
// are a sequential run of mapped ports (the NAT hands out 40000, 40001, ...),
// so the allocator must come out as sequential.
TEST(CliAnalyze, DetectsASequentialAllocatorFromThesisLogs) {
  const std::string dir = testing::TempDir() + "natpunch_cli_analyze_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::ofstream phone(dir + "/phone.csv");
  std::ofstream server(dir + "/server.csv");
  phone << "Message id, Time, Sender Port, Receiver Port, Success\n";
  server << "Message id, Time, Sender Port, Receiver Port\n";
  for (int i = 0; i < 400; ++i) {
    const std::string id = "id-" + std::to_string(i);
    phone << id << ", " << 1000 + i * 10 << ", " << 20000 + (i * 7919) % 30000 << ", " << 5000 + i % 50 << ", true\n";
    server << id << ", " << 99000 + i * 10 << ", " << 40000 + i << ", " << 5000 + i % 50 << "\n";
  }
  phone << "garbage line without fields\n";
  phone.close();
  server.close();
  auto r = natpunch("analyze " + dir + "/phone.csv " + dir + "/server.csv --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = json_of(r);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j.dump().find("\"sequential\"") != std::string::npos, true) << r.output;
  auto missing = natpunch("analyze " + dir + "/nope.csv " + dir + "/server.csv");
  EXPECT_EQ(missing.exit_code, 2);
  std::filesystem::remove_all(dir);
}

}  // namespace

// The CLI as a user runs it: the real `natpunch` binary, its JSON output and
// its exit codes, for the subcommands that need no network.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace {

struct Run {
  int exit_code = -1;
  std::string out;
};

Run natpunch(const std::string& args) {
  Run r;
  FILE* pipe = popen((std::string(NATPUNCH_BINARY) + " " + args + " 2>/dev/null").c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

nlohmann::json json_of(const Run& r) { return nlohmann::json::parse(r.out, nullptr, false); }

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

// The matrix is reproducible from its seed and reports every requested pair.
TEST(CliSimulateMatrix, SeededJsonIsReproducible) {
  const std::string args = "simulate matrix --runs 2 --probes 3000 --seed 3 --carriers kpn,lycamobile --json --quiet";
  auto first = natpunch(args);
  auto second = natpunch(args + " --threads 1");
  ASSERT_EQ(first.exit_code, 0);
  ASSERT_EQ(second.exit_code, 0);
  auto a = json_of(first);
  auto b = json_of(second);
  ASSERT_FALSE(a.is_discarded()) << first.out;
  ASSERT_TRUE(a.contains("cells"));
  EXPECT_EQ(a["cells"].size(), 3u);  // Table I's lower triangle of 2 carriers
  EXPECT_EQ(a["cells"], b["cells"]);
  for (const auto& cell : a["cells"]) EXPECT_EQ(cell["runs"].size(), 2u);
}

}  // namespace

// `natpunch measure-server` and `natpunch measure ...` on 127.0.0.1: no NAT
// there, so loopback's own figures are the truth: reflection shows our own
// port, delayed replies arrive, mappings are port-preserving, the collection
// logs join in `natpunch analyze`, and the MTU is loopback's 65,535 bytes.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "../support/run_command.hpp"
#include "nat/profile.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using natpunch::test_support::CommandResult;

CommandResult natpunch(const std::string& args) {
  return natpunch::test_support::run_command(std::string(NATPUNCH_BINARY) + " " + args + " 2>/dev/null");
}
nlohmann::json json_of(const CommandResult& r) { return nlohmann::json::parse(r.output, nullptr, false); }

std::string read_file(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// A measure-server on loopback for one test suite, on ports derived from
// the PID so parallel ctest runs do not collide; stopped with SIGTERM (the
// same path as Ctrl-C) by PID.
class MeasureServer {
 public:
  MeasureServer() {
    const int base = 20000 + (getpid() % 750) * 16;  // below the ephemeral range
    main_port = base;
    range_first = base + 1;
    range_last = base + 10;
    dir = fs::temp_directory_path() / ("natpunch-measure-cli-" + std::to_string(getpid()));
    fs::create_directories(dir);
    log = dir / "server.csv";
    const std::string listen = "127.0.0.1:" + std::to_string(main_port);
    const std::string ports = std::to_string(range_first) + "-" + std::to_string(range_last);
    const std::string log_path = log.string();
    std::vector<std::string> args{NATPUNCH_BINARY, "measure-server", "--listen", listen, "--ports", ports,
                                  "--log",         log_path};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&pid, NATPUNCH_BINARY, &actions, nullptr, argv.data(), environ) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&actions);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  ~MeasureServer() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      int status = 0;
      waitpid(pid, &status, 0);
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string server() const { return "127.0.0.1:" + std::to_string(main_port); }
  std::string range() const { return std::to_string(range_first) + "-" + std::to_string(range_last); }

  pid_t pid = -1;
  int main_port = 0, range_first = 0, range_last = 0;
  fs::path dir, log;
};

class MeasureCli : public testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new MeasureServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static MeasureServer* server_;
};
MeasureServer* MeasureCli::server_ = nullptr;

TEST_F(MeasureCli, TimeoutsOnLoopbackOutliveAShortSearch) {
  ASSERT_GT(server_->pid, 0);
  // No NAT: nothing expires, so both searches end "above max" after about
  // max - guard seconds (delayed replies and scheduled probes did arrive).
  const auto start = std::chrono::steady_clock::now();
  auto r = natpunch("measure timeouts " + server_->server() + " --max-timeout 3 --parallel 3 --json");
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.exit_code, 0);
  auto j = json_of(r);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_TRUE(j["server_answered"]);
  EXPECT_EQ(j["observed"].get<std::string>().rfind("127.0.0.1:", 0), 0u);
  for (const char* kind : {"pending", "idle"}) {
    EXPECT_EQ(j[kind]["lower_s"], 3) << kind;
    EXPECT_TRUE(j[kind]["above_max"]) << kind;
  }
  EXPECT_LT(took, 8.0);
}

TEST_F(MeasureCli, PaperMethodAlsoRuns) {
  auto r = natpunch("measure timeouts " + server_->server() +
                    " --method paper --which pending --pending-step 1 --max-timeout 2 --json");
  EXPECT_EQ(r.exit_code, 0);
  auto j = json_of(r);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_TRUE(j["idle"].is_null());
  EXPECT_EQ(j["pending"]["lower_s"], 2);
  EXPECT_TRUE(j["pending"]["above_max"]);
}

TEST_F(MeasureCli, MtuIsLoopbacksBothWays) {
  auto r = natpunch("measure mtu " + server_->server() + " --json");
  EXPECT_EQ(r.exit_code, 0);
  auto j = json_of(r);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  // Loopback's MTU is 65,536: the IPv4 limit (65,535) binds first.
  EXPECT_EQ(j["df"]["largest_payload"], 65507);
  EXPECT_EQ(j["fragmented"]["largest_payload"], 65507);
  EXPECT_TRUE(j["jumbo"]);
  // A smaller ceiling is searched, not assumed.
  auto capped = json_of(natpunch("measure mtu " + server_->server() + " --max 1472 --json"));
  EXPECT_EQ(capped["df"]["largest_payload"], 1472);
}

TEST_F(MeasureCli, CollectionLogsJoinInAnalyze) {
  const auto client = server_->dir / "client.csv";
  auto r = natpunch("measure mappings " + server_->server() + " --ports " + server_->range() +
                    " --count 300 --rate 1000 --json --out " + client.string());
  EXPECT_EQ(r.exit_code, 0);
  auto j = json_of(r);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j["sent"], 300);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto analyzed = json_of(natpunch("analyze " + client.string() + " " + server_->log.string() + " --json"));
  ASSERT_FALSE(analyzed.is_discarded());
  EXPECT_EQ(analyzed["client"]["dialect"], "natpunch");
  EXPECT_EQ(analyzed["server"]["dialect"], "natpunch");
  EXPECT_EQ(analyzed["joined"]["rows"], 300);
  EXPECT_EQ(analyzed["joined"]["client_only"], 0);
  // No NAT on loopback: every mapping keeps its port.
  EXPECT_EQ(analyzed["allocator"]["kind"], "preserving");
  // Every server port of the range was the target of some packet.
  const auto text = read_file(client);
  for (int p = server_->range_first; p <= server_->range_last; ++p)
    EXPECT_NE(text.find("," + std::to_string(p) + "\n"), std::string::npos) << p;
}

TEST_F(MeasureCli, AllWritesAProfileTheLoaderAccepts) {
  const auto out = server_->dir / "measured.json";
  auto r = natpunch("measure all " + server_->server() + " --max-timeout 2 --parallel 2 --name Loopback --country NL" +
                    " --ports " + server_->range() + " --sample 100 --sample-rate 500 --profile-out " + out.string() +
                    " --json");
  EXPECT_EQ(r.exit_code, 0);
  auto loaded = natpunch::nat::parse_profile(read_file(out), out.string());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->mtu, 65507u);
  EXPECT_EQ(loaded->jumbo, true);
  EXPECT_FALSE(loaded->pending_timeout.has_value());  // outlived the 2 s search: not a timeout
  EXPECT_FALSE(loaded->type.has_value());             // no --stun given
  ASSERT_TRUE(loaded->allocator.has_value());         // the reflected sample: no NAT keeps every port
  EXPECT_TRUE(std::holds_alternative<natpunch::nat::PreservingSpec>(*loaded->allocator));
  auto j = json_of(r);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["mapping_sample"]["answered"], 100);
}

TEST_F(MeasureCli, CtrlCKeepsEveryRowAlreadyCollected) {
  const auto client = server_->dir / "interrupted.csv";
  const std::string out = client.string();
  const std::string server = server_->server();
  const std::string ports = server_->range();
  std::vector<std::string> args{NATPUNCH_BINARY, "measure", "mappings", server, "--ports", ports,
                                "--count",       "100000",  "--rate",   "50",   "--out",   out};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const auto spawned = std::chrono::steady_clock::now();
  ASSERT_EQ(posix_spawn(&pid, NATPUNCH_BINARY, &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  // Collecting (rows in the file) means it watches for Ctrl-C: timed from
  // there, not from the spawn (a busy machine may take a second to start).
  const auto collected = [&] {
    const auto text = read_file(client);
    return std::count(text.begin(), text.end(), '\n') >= 3;
  };
  for (int i = 0; i < 200 && !collected(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  const double ran_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - spawned).count();
  ASSERT_TRUE(WIFEXITED(status));  // a clean exit, not death by signal
  EXPECT_EQ(WEXITSTATUS(status), 130);  // interrupted: the rows so far, then 130 like every command

  // Every row is whole, and every one the client wrote reached the server's log.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the server drains its sockets
  std::istringstream rows(read_file(client));
  const std::string server_log = read_file(server_->log);
  std::string line;
  std::getline(rows, line);
  EXPECT_EQ(line, "uuid,time_ms,local_port,server_port");
  int count = 0;
  while (std::getline(rows, line)) {
    ++count;
    EXPECT_EQ(std::count(line.begin(), line.end(), ','), 3) << line;
    EXPECT_NE(server_log.find(line.substr(0, 36)), std::string::npos) << line;
  }
  EXPECT_GE(count, 2);                         // the rows we waited for
  EXPECT_LE(count, 50 * ran_s + 2) << ran_s;   // never faster than --rate 50, and stopped early
}

struct BadMeasure {
  const char* args;
};
class MeasureCliRejects : public testing::TestWithParam<BadMeasure> {};
TEST_P(MeasureCliRejects, WithExitCode2) { EXPECT_EQ(natpunch(GetParam().args).exit_code, 2) << GetParam().args; }
INSTANTIATE_TEST_SUITE_P(
    Table, MeasureCliRejects,
    testing::Values(BadMeasure{"measure"}, BadMeasure{"measure timeouts"},
                    BadMeasure{"measure timeouts 127.0.0.1 --method guess"},
                    BadMeasure{"measure timeouts 127.0.0.1 --max-timeout 0"},
                    BadMeasure{"measure mtu 127.0.0.1 --max 20"},
                    BadMeasure{"measure mappings 127.0.0.1 --out /nonexistent-dir/x.csv --count 1"},
                    BadMeasure{"measure mappings 127.0.0.1 --ports 5-1 --out /dev/null"},
                    BadMeasure{"measure all 127.0.0.1 --country Netherlands"},
                    BadMeasure{"measure-server --listen nonsense"},
                    BadMeasure{"measure-server --listen 127.0.0.1:1 --ports 70000-70001"}));

TEST(MeasureCliNoServer, ReportsNoAnswerWithExitCode1) {
  // Port 9 (discard) on loopback: nobody answers.
  auto r = natpunch("measure timeouts 127.0.0.1:9 --max-timeout 2 --json");
  EXPECT_EQ(r.exit_code, 1);
  auto j = json_of(r);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_FALSE(j["server_answered"]);
}

}  // namespace

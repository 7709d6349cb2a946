// `natpunch predict`, trace replay (`natd --allocator trace:FILE`,
// `simulate matrix --trace`) and profiles with locality, as a user meets
// them (issue 17): results on logs the NAT model wrote, and bad input
// refused before anything starts, exit 2 with one line naming the file and
// why.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "../support/run_command.hpp"
#include "analyze/synthetic_log.hpp"

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using natpunch::test_support::CommandResult;

CommandResult natpunch(const std::string& args) {
  return natpunch::test_support::run_command(std::string(NATPUNCH_BINARY) + " " + args + " 2>&1");
}

std::size_t lines(const std::string& text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')); }

// A profile with only an allocator (what analyze --profile-out writes).
std::string profile_text(const Json& allocator) {
  return Json{{"name", "Test"},      {"country", "NL"},   {"roaming", false},     {"type", nullptr},
              {"mapping", nullptr},  {"filtering", nullptr}, {"allocator", allocator}, {"timeouts", nullptr},
              {"mtu", nullptr},      {"jumbo", nullptr},
              {"source", allocator.is_null() ? Json::object() : Json{{"allocator", "test"}}}}
      .dump(2);
}

class PredictCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("natpunch_predict_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write(const std::string& name, const std::string& text) const { std::ofstream(dir_ / name) << text; }
  // Logs of the NAT model's window allocator: 32-port windows at offset 31,
  // random order, 200 mappings a stay.
  void write_window_logs() const {
    natpunch::nat::WindowSpec spec;
    spec.placement = natpunch::nat::UniformSpec{4096, 60000};
    spec.size = 32;
    spec.offset = 31;
    spec.order = natpunch::nat::WindowOrder::Random;
    spec.mappings = 200;
    natpunch::analyze::SyntheticLogOptions o;
    o.rows = 6000;
    o.live_mappings = 8;
    const auto logs = natpunch::analyze::make_synthetic_logs(spec, o);
    write("phone.csv", logs.client);
    write("server.csv", logs.server);
  }
  fs::path dir_;
};

TEST_F(PredictCli, TheProfilesChooserPredictsItsOwnAllocator) {
  write_window_logs();
  ASSERT_EQ(natpunch("analyze " + path("phone.csv") + " " + path("server.csv") + " --profile-out " + path("p.json") +
                     " --name T --country NL")
                .exit_code,
            0);
  const auto r = natpunch("predict " + path("server.csv") + " " + path("phone.csv") + " --profile " + path("p.json") +
                          " --budget 32 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Swapped logs: a note on stderr, then one JSON line.
  const auto json_start = r.output.find('{');
  ASSERT_NE(json_start, std::string::npos) << r.output;
  const Json j = Json::parse(r.output.substr(json_start), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j["rows"], 5999);
  EXPECT_EQ(j["budget"], 32);
  // A stay lasts 200 mappings: all but one transition in 200 stays in the
  // 32-port window, so 32 proposals find ~99.5 %, one finds 1/32 of them.
  EXPECT_GT(j["hit_rate"].get<double>(), 0.98);
  EXPECT_NEAR(j["choosers"][0]["curve"][0].get<double>(), 1.0 / 32, 0.01);
  EXPECT_LT(j["best_plain"]["hit_rate"].get<double>(), 0.05);
  const auto text = natpunch("predict " + path("phone.csv") + " " + path("server.csv") + " --profile " + path("p.json"));
  ASSERT_EQ(text.exit_code, 0) << text.output;
  for (const char* needle : {"predicted 5999 mappings", "best plain chooser", "profile", "uniform", "block-starts", "1024"})
    EXPECT_NE(text.output.find(needle), std::string::npos) << needle << "\n" << text.output;
}

TEST_F(PredictCli, BadInputIsOneLineAndExit2) {
  write_window_logs();
  write("junk.csv", "not, a, log\n\x01\x02\x03\n");
  write("p.json", profile_text({{"kind", "uniform"}, {"min", 1024}, {"max", 65535}}));
  write("null.json", profile_text(nullptr));
  // Locality that contradicts the range: 256-port windows in 1,100 ports.
  write("contradicts.json",
        profile_text({{"kind", "uniform"},
                      {"min", 2048},
                      {"max", 3148},
                      {"locality", {{"window", 2048}, {"order", "in_order"}, {"mappings", 2048}}}}));
  const std::string logs = path("phone.csv") + " " + path("server.csv");
  struct Bad {
    std::string args;
    std::string says;
  };
  const Bad cases[] = {
      {"predict " + path("junk.csv") + " " + path("server.csv") + " --profile " + path("p.json"),
       path("junk.csv") + " has no usable rows"},
      {"predict " + logs + " --profile " + path("absent.json"), "absent.json: cannot be read"},
      {"predict " + logs + " --profile " + path("null.json"), "null.json: allocator: null"},
      {"predict " + logs + " --profile " + path("contradicts.json"),
       "contradicts.json: allocator.locality.window: no whole window of 2048 ports"},
      {"predict " + path("phone.csv") + " " + path("phone.csv") + " --profile " + path("p.json"), "both phone logs"},
  };
  for (const auto& bad : cases) {
    const auto r = natpunch(bad.args);
    EXPECT_EQ(r.exit_code, 2) << bad.args << "\n" << r.output;
    EXPECT_NE(r.output.find(bad.says), std::string::npos) << bad.args << "\n" << r.output;
    EXPECT_EQ(lines(r.output), 1u) << r.output;
  }
  EXPECT_EQ(natpunch("predict " + logs + " --profile " + path("p.json") + " --budget 2000").exit_code, 2);
}

#define NATD_CHECK \
  "natd --check --tun np0 --inside-cidr 100.64.1.0/24 --public-ip 203.0.113.111 "

TEST_F(PredictCli, TracesAndLocalityProfilesInNatdAndTheSimulator) {
  write("ports.trace", "# test\n40000\n40001\n40007\n");
  write("one.trace", "# one port is no sequence\n40000\n");
  write("bad.trace", "40000\nforty\n");
  write("contradicts.json",
        profile_text({{"kind", "uniform"},
                      {"min", 2048},
                      {"max", 3148},
                      {"locality", {{"window", 2048}, {"order", "random"}, {"hold_s", 60}}}}));
  const std::string policy = "--mapping endpoint-independent --filtering address-dependent ";
  auto ok = natpunch(NATD_CHECK + policy + "--allocator trace:" + path("ports.trace"));
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("trace ports"), std::string::npos) << ok.output;
  struct Bad {
    std::string args;
    std::string says;
  };
  const Bad cases[] = {
      {NATD_CHECK + policy + "--allocator trace:" + path("one.trace"), "one.trace: a trace needs at least 2 ports"},
      {NATD_CHECK + policy + "--allocator trace:" + path("bad.trace"), "bad.trace: line 2: 'forty' is not a port"},
      {NATD_CHECK + policy + "--allocator trace:" + path("absent.trace"), "absent.trace: cannot be read"},
      {NATD_CHECK + std::string("--profile ") + path("contradicts.json") + " " + policy,
       "contradicts.json: allocator.locality.window"},
      {"simulate matrix --carriers kpn,vodafone --runs 1 --quiet --trace vodafone=" + path("one.trace"),
       "one.trace: a trace needs at least 2 ports"},
      {"simulate matrix --carriers kpn --runs 1 --quiet --trace vodafone=" + path("ports.trace"), "--trace"},
  };
  for (const auto& bad : cases) {
    const auto r = natpunch(bad.args);
    EXPECT_EQ(r.exit_code, 2) << bad.args << "\n" << r.output;
    EXPECT_NE(r.output.find(bad.says), std::string::npos) << bad.args << "\n" << r.output;
    EXPECT_EQ(lines(r.output), 1u) << r.output;
  }
  // The simulator refuses a bad profile directory before it runs.
  fs::create_directories(dir_ / "profiles");
  fs::copy_file(dir_ / "contradicts.json", dir_ / "profiles" / "vodafone-nl.json");
  const auto sim = natpunch("simulate matrix --profiles " + path("profiles") + " --carriers vodafone --runs 1 --quiet");
  EXPECT_EQ(sim.exit_code, 2) << sim.output;
  EXPECT_NE(sim.output.find("allocator.locality.window"), std::string::npos) << sim.output;
}

// A trace the simulator replays: the improved attack against a real
// sequence connects, and the same seed gives the same table.
TEST_F(PredictCli, SimulatorReplaysATrace) {
  std::string ports;
  for (int i = 0; i < 300; ++i) ports += std::to_string(20000 + (i * 7919) % 5000) + "\n";
  write("ports.trace", ports);
  const std::string args = "simulate matrix --strategy improved --carriers lycamobile --runs 3 --probes 20000 --json "
                           "--quiet --no-prediction --trace lycamobile=" + path("ports.trace");
  const auto a = natpunch::test_support::run_command(std::string(NATPUNCH_BINARY) + " " + args);
  ASSERT_EQ(a.exit_code, 0) << a.output;
  const Json j = Json::parse(a.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << a.output;
  EXPECT_NE(j["carriers"][0]["source"].get<std::string>().find("ports replayed from"), std::string::npos);
  EXPECT_EQ(j["cells"][0]["runs"].size(), 3u);
  const auto b = natpunch::test_support::run_command(std::string(NATPUNCH_BINARY) + " " + args);
  EXPECT_EQ(a.output, b.output);
}

}  // namespace

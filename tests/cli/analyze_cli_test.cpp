// `natpunch analyze` end to end with figures and a report: synthetic
// thesis-format logs from the NAT model's allocators in, PNG/SVG figures,
// their data, a Markdown report and JSON out. The drawing needs
// /usr/bin/python3 with matplotlib; the tests that check figures skip
// without it, the one that checks the failure path always runs.
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>

#include "../support/run_command.hpp"
#include "analyze/synthetic_log.hpp"

namespace {

namespace fs = std::filesystem;
using natpunch::test_support::CommandResult;

CommandResult natpunch_cli(const std::string& args) {
  return natpunch::test_support::run_command(std::string(NATPUNCH_BINARY) + " " + args + " 2>/dev/null");
}

bool matplotlib_available() {
  return natpunch::test_support::run_command("/usr/bin/python3 -c 'import matplotlib' >/dev/null 2>&1").exit_code == 0;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return std::move(text).str();
}

// A fresh directory with phone.csv and server.csv of one synthetic collection.
class AnalyzeCli : public ::testing::Test {
 protected:
  void write_logs(const natpunch::nat::AllocatorSpec& spec, natpunch::analyze::SyntheticLogOptions o,
                  natpunch::analyze::SyntheticDialect dialect = natpunch::analyze::SyntheticDialect::Thesis) {
    o.dialect = dialect;
    const auto logs = natpunch::analyze::make_synthetic_logs(spec, o);
    std::ofstream(dir_ / "phone.csv") << logs.client << "junk row\n";
    std::ofstream(dir_ / "server.csv") << logs.server;
    rows_ = logs.rows;
  }
  std::string logs() const { return phone() + " " + server(); }
  std::string phone() const { return (dir_ / "phone.csv").string(); }
  std::string server() const { return (dir_ / "server.csv").string(); }

  void SetUp() override {
    // The pid too: other checkouts may run the same test at the same time.
    dir_ = fs::path(::testing::TempDir()) /
           ("natpunch_cli_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::size_t rows_ = 0;
};

TEST_F(AnalyzeCli, PlotsAndReportForInOrderBlocks) {
  if (!matplotlib_available()) GTEST_SKIP() << "/usr/bin/python3 has no matplotlib (apt-get install python3-matplotlib)";
  natpunch::analyze::SyntheticLogOptions o;
  o.rows = 6000;
  o.live_mappings = 0;
  write_logs(natpunch::nat::BlockSpec{}, o);
  const auto figs = dir_ / "figs", report = dir_ / "report.md";
  const auto r = natpunch_cli("analyze " + logs() + " --json --plots " + figs.string() + " --report " + report.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j["allocator"]["kind"], "block");
  EXPECT_EQ(j["allocator"]["block_size"], 256);

  for (const char* name : {"ports_over_time.png", "run_lengths.png", "port_histogram.png"}) {
    const std::string png = slurp(figs / name);
    EXPECT_GT(png.size(), 5000U) << name;
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << name;
  }
  // The figures' data stays next to them.
  const std::string mappings = slurp(figs / "mappings.csv");
  EXPECT_EQ(static_cast<std::size_t>(std::count(mappings.begin(), mappings.end(), '\n')), rows_ + 1);
  EXPECT_NE(slurp(figs / "run_lengths.csv").find("\n256,"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(slurp(figs / "analysis.json"))["allocator"]["kind"], "block");

  const std::string md = slurp(report);
  for (const char* needle : {"# Mapping analysis: block allocator", "block_size 256, ports taken in order",
                             "| wrong number of fields | 1 | 0 |", "(figs/ports_over_time.png)",
                             "(figs/port_histogram.png)", "\"kind\": \"block\""})
    EXPECT_NE(md.find(needle), std::string::npos) << needle << "\n" << md;
}

TEST_F(AnalyzeCli, SvgFiguresForRandomOrderBlocks) {
  if (!matplotlib_available()) GTEST_SKIP() << "/usr/bin/python3 has no matplotlib (apt-get install python3-matplotlib)";
  natpunch::analyze::SyntheticLogOptions o;
  o.rows = 4000;
  o.live_mappings = 0;
  o.block_order = natpunch::analyze::BlockOrder::Random;
  write_logs(natpunch::nat::BlockSpec{}, o);
  const auto figs = dir_ / "figs";
  const auto r = natpunch_cli("analyze " + logs() + " --json --plots " + figs.string() + " --plot-format svg");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  // A block taken in random order is a window with locality, not the thesis's block.
  EXPECT_EQ(j["allocator"]["kind"], "uniform");
  EXPECT_EQ(j["allocator"]["locality"]["window"], 256);
  EXPECT_EQ(j["allocator"]["locality"]["order"], "random");
  for (const char* name : {"ports_over_time.svg", "run_lengths.svg", "port_histogram.svg"}) {
    const std::string svg = slurp(figs / name);
    EXPECT_GT(svg.size(), 5000U) << name;
    EXPECT_NE(svg.find("<svg"), std::string::npos) << name;
  }
}

TEST_F(AnalyzeCli, WithoutMatplotlibEverythingElseIsStillWritten) {
  natpunch::analyze::SyntheticLogOptions o;
  o.rows = 3000;
  write_logs(natpunch::nat::UniformSpec{2048, 65535}, o);
  const auto figs = dir_ / "figs", report = dir_ / "report.md", profile = dir_ / "profile.json";
  const auto r = natpunch_cli("analyze " + logs() + " --json --python /nonexistent/python3 --plots " + figs.string() +
                              " --report " + report.string() + " --profile-out " + profile.string() +
                              " --name Test --country NL");
  EXPECT_EQ(r.exit_code, 1) << r.output;  // figures could not be drawn
  const auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j["allocator"]["kind"], "uniform");
  for (const char* name : {"mappings.csv", "run_lengths.csv", "histogram.csv", "analysis.json"})
    EXPECT_TRUE(fs::is_regular_file(figs / name)) << name;
  EXPECT_FALSE(fs::exists(figs / "ports_over_time.png"));
  const std::string md = slurp(report);
  EXPECT_NE(md.find("# Mapping analysis: uniform allocator"), std::string::npos) << md;
  EXPECT_NE(md.find("Not drawn: cannot run /nonexistent/python3"), std::string::npos) << md;
  EXPECT_EQ(nlohmann::json::parse(slurp(profile))["allocator"]["kind"], "uniform");
}

TEST_F(AnalyzeCli, BadPlotFormatIsAUsageError) {
  natpunch::analyze::SyntheticLogOptions o;
  o.rows = 100;
  write_logs(natpunch::nat::UniformSpec{}, o);
  EXPECT_EQ(natpunch_cli("analyze " + logs() + " --plots " + (dir_ / "f").string() + " --plot-format gif").exit_code, 2);
  EXPECT_EQ(natpunch_cli("analyze " + logs() + " --session-gap -1").exit_code, 2);
}

// Issue 22 item 11: the sides are told apart from the content (headers,
// the phone's Success column), not from the order they are given in.
TEST_F(AnalyzeCli, SwappedLogsAreReadTheRightWayRound) {
  natpunch::analyze::SyntheticLogOptions o;
  o.rows = 3000;
  o.live_mappings = 0;
  for (const auto dialect : {natpunch::analyze::SyntheticDialect::Natpunch, natpunch::analyze::SyntheticDialect::Thesis}) {
    write_logs(natpunch::nat::BlockSpec{}, o, dialect);
    const auto r = natpunch_cli("analyze " + server() + " " + phone() + " --json");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto j = nlohmann::json::parse(r.output, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.output;
    EXPECT_EQ(j["allocator"]["kind"], "block");
    EXPECT_EQ(j["client"]["path"], phone());
    EXPECT_EQ(j["server"]["path"], server());
    const auto text = natpunch::test_support::run_command(std::string(NATPUNCH_BINARY) + " analyze " + server() + " " +
                                                          phone() + " 2>&1");
    EXPECT_NE(text.output.find("is the server's log and " + phone() + " the phone's"), std::string::npos)
        << text.output;
  }
}

TEST_F(AnalyzeCli, TwoLogsOfOneSideAreRefused) {
  natpunch::analyze::SyntheticLogOptions o;
  o.rows = 500;
  for (const auto dialect : {natpunch::analyze::SyntheticDialect::Natpunch, natpunch::analyze::SyntheticDialect::Thesis}) {
    write_logs(natpunch::nat::UniformSpec{}, o, dialect);
    for (const auto& [pair, side] : {std::pair{phone() + " " + phone(), "phone"}, {server() + " " + server(), "server"}}) {
      const auto r = natpunch::test_support::run_command(std::string(NATPUNCH_BINARY) + " analyze " + pair + " 2>&1");
      EXPECT_EQ(r.exit_code, 2) << pair << "\n" << r.output;
      EXPECT_NE(r.output.find(std::string("both ") + side + " logs"), std::string::npos) << r.output;
      EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    }
  }
  // Without headers or a Success column the content cannot tell the sides,
  // but one file given twice is still no collection.
  std::ofstream(dir_ / "bare.csv") << "a,1,40000,2000\nb,2,40001,2001\nc,3,40002,2002\n";
  const auto bare = (dir_ / "bare.csv").string();
  const auto r = natpunch::test_support::run_command(std::string(NATPUNCH_BINARY) + " analyze " + bare + " " + bare + " 2>&1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("the same rows"), std::string::npos) << r.output;
}

}  // namespace

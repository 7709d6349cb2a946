// The measure-server's --log: appended line by line, never larger than its
// limit, rotated to PATH.1 (one old file kept), header on every new file.
#include "io/rotating_log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "../support/scratch_dir.hpp"

namespace natpunch::io {
namespace {

namespace fs = std::filesystem;

struct TempDir : natpunch::test_support::ScratchDir {
  TempDir()
      : ScratchDir("natpunch-rotating-log-" + std::to_string(getpid()) + "-" +
                   ::testing::UnitTest::GetInstance()->current_test_info()->name()),
        path(ScratchDir::path()) {}
  fs::path path;
};

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(RotatingLog, NeverGrowsPastItsLimitAndKeepsOneOldFile) {
  TempDir dir;
  const auto path = dir.path / "log.csv";
  auto log = RotatingLog::open(path.string(), "a,b", 100);
  ASSERT_TRUE(log) << log.error();
  const std::string line = "0123456789,0123456789";  // 22 bytes with the newline
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(log->write_line(line));
  EXPECT_LE(fs::file_size(path), 100u);
  ASSERT_TRUE(fs::exists(dir.path / "log.csv.1"));
  EXPECT_LE(fs::file_size(dir.path / "log.csv.1"), 100u);
  EXPECT_FALSE(fs::exists(dir.path / "log.csv.2"));
  EXPECT_EQ(read(path).rfind("a,b\n", 0), 0u) << "every file starts with the header";
  EXPECT_EQ(read(dir.path / "log.csv.1").rfind("a,b\n", 0), 0u);
  // Header 4 bytes + 4 lines of 22 = 92 <= 100: four lines per file.
  EXPECT_EQ(log->rotations(), 12u);
}

TEST(RotatingLog, AppendsToAnExistingLogWithoutASecondHeader) {
  TempDir dir;
  const auto path = dir.path / "log.csv";
  {
    auto log = RotatingLog::open(path.string(), "h", 1000);
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->write_line("first"));
  }
  auto log = RotatingLog::open(path.string(), "h", 1000);
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->write_line("second"));
  EXPECT_EQ(read(path), "h\nfirst\nsecond\n");
}

TEST(RotatingLog, RefusesWhatCannotFit) {
  TempDir dir;
  EXPECT_FALSE(RotatingLog::open((dir.path / "a").string(), std::string(200, 'h'), 100));
  EXPECT_FALSE(RotatingLog::open((dir.path / "missing" / "a").string(), "h", 100));
  auto log = RotatingLog::open((dir.path / "b").string(), "h", 100);
  ASSERT_TRUE(log);
  EXPECT_FALSE(log->write_line(std::string(200, 'x'))) << "a line longer than the limit is not written";
  EXPECT_LE(fs::file_size(dir.path / "b"), 100u);
}

}  // namespace
}  // namespace natpunch::io

// `natpunch natd` options added for issue 4 (ICMP, MTU, impairment,
// background load): every one is checked, with exit code 2 and a message
// that names it, before natd touches the kernel; --check describes them.
#include <gtest/gtest.h>

#include <string>

#include "../support/run_command.hpp"

namespace {

using natpunch::test_support::CommandResult;

#define NATD_BASE                                                                       \
  "natd --tun np0 --inside-cidr 100.64.1.0/24 --public-ip 203.0.113.111 --mapping "     \
  "endpoint-independent --filtering endpoint-independent --allocator sequential "

CommandResult natd(const std::string& args) {
  return natpunch::test_support::run_command(std::string(NATPUNCH_BINARY) + " " NATD_BASE + args + " 2>&1");
}

struct Rejected {
  const char* args;
  const char* says;
};
class NatdCliRejects : public testing::TestWithParam<Rejected> {};

TEST_P(NatdCliRejects, WithExitCode2AndAReason) {
  const auto r = natd(GetParam().args);
  EXPECT_EQ(r.exit_code, 2) << GetParam().args << "\n" << r.output;
  EXPECT_NE(r.output.find(GetParam().says), std::string::npos) << GetParam().args << "\n" << r.output;
}

INSTANTIATE_TEST_SUITE_P(
    Table, NatdCliRejects,
    testing::Values(Rejected{"--mtu 67", "--mtu 67 must be between 68 and 65535"},
                    Rejected{"--mtu 70000", "must be between 68 and 65535"},
                    Rejected{"--link-mtu 10", "--link-mtu 10"},
                    Rejected{"--inside-gateway 203.0.113.1", "--inside-gateway"},
                    Rejected{"--impair-out loss=2", "--impair-out 'loss=2': loss='2' is not a probability"},
                    Rejected{"--impair-in delay=5", "--impair-in 'delay=5': delay='5' is not a duration"},
                    Rejected{"--impair-out latency=5ms", "unknown impairment 'latency'"},
                    Rejected{"--impair-out reorder=0.1", "reorder needs a delay"},
                    Rejected{"--background-subscribers 10", "go together"},
                    Rejected{"--background-subscribers 0 --background-rate 5", "between 1 and 65534"},
                    Rejected{"--background-subscribers 5 --background-rate 0", "positive number"},
                    Rejected{"--background-blocks 10", "need a block allocator"},
                    Rejected{"--background-hold 0", "positive number of seconds"},
                    // No natpunch option takes a negative number (apps/cli_checks.hpp).
                    Rejected{"--background-hold -1", "--background-hold: must not be negative"}));

TEST(NatdCli, CheckDescribesTheNewOptionsAndCreatesNothing) {
  const auto r = natd(
      "--check --mtu 1400 --impair-out delay=50ms,jitter=10ms,loss=5% --impair-in duplicate=0.01 "
      "--background-subscribers 200 --background-rate 50");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("natd config ok: endpoint-independent mapping"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("path mtu: 1400"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("impair out: delay=50ms,jitter=10ms,loss=0.05"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("impair in: duplicate=0.01"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("background: 200 subscribers, 50 new mappings/s"), std::string::npos) << r.output;
}

TEST(NatdCli, BlockBackgroundIsAcceptedForBlockAllocators) {
  const auto r = natpunch::test_support::run_command(
      std::string(NATPUNCH_BINARY) +
      " natd --tun np0 --inside-cidr 100.64.1.0/24 --public-ip 203.0.113.111 --mapping endpoint-independent "
      "--filtering endpoint-independent --allocator block --background-blocks 100 --background-hold 30 --check 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("block ports"), std::string::npos) << r.output;
}

}  // namespace

// A profile with unknown (null) values: natd says which one is missing and
// how to give it; the explicit options then fill the gaps, while measured
// values stay the profile's.
TEST(NatdProfileGaps, MissingValuesComeFromTheOptions) {
  const std::string base = std::string(NATPUNCH_BINARY) +
                           " natd --check --tun np0 --inside-cidr 100.64.1.0/24 --public-ip 203.0.113.111 "
                           "--profile " NATPUNCH_PROFILES_DIR "/orange-be.json";
  auto missing = natpunch::test_support::run_command(base + " 2>&1");
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("--allocator"), std::string::npos) << missing.output;
  auto filled = natpunch::test_support::run_command(
      base + " --allocator random --pending-timeout 60 --idle-timeout 60 --mapping endpoint-independent 2>&1");
  EXPECT_EQ(filled.exit_code, 0) << filled.output;
  // Orange BE is symmetric in Table III: the profile's mapping wins over --mapping.
  EXPECT_NE(filled.output.find("address-and-port-dependent mapping"), std::string::npos) << filled.output;
  EXPECT_NE(filled.output.find("random ports"), std::string::npos) << filled.output;
}

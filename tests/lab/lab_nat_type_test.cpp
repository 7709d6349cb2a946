// Lab tests: the real `natpunch` binary classifies real kernel NATs built in
// network namespaces, and interoperates with Debian's classic RFC 3489 STUN
// server (stund) and client (stun). Needs root; CI runs it as root.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "lab_harness.hpp"

namespace natpunch::lab {
namespace {

constexpr const char* kPrimary = "203.0.113.10:3478";
// A quick retransmission schedule keeps negative tests (filtered responses) short.
constexpr const char* kQuickRetransmit = "--rto 200 --rc 3 --rm 4";

struct NatKindCase {
  std::string kind;  // lab.sh NAT kind for client a
  std::string classic_type;
  std::string mapping;
  std::string filtering;
  int exit_code;
};

std::string case_name(const testing::TestParamInfo<NatKindCase>& info) { return info.param.kind; }

class NatTypeInLab : public testing::TestWithParam<NatKindCase> {};

// For every NAT kind the lab can build, `natpunch nat-type` run behind it
// reports the classic type and the RFC 5780 behaviour of that NAT.
TEST_P(NatTypeInLab, NatTypeReportsTheKernelNatBehaviour) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  const auto& c = GetParam();
  Lab lab("t" + c.kind, "--a " + c.kind + " --b none");
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  auto server = lab.start_natpunch_stun_server();
  ASSERT_TRUE(server) << "stun-server did not start";

  auto r = lab.exec("a", natpunch_binary() + " nat-type " + kPrimary + " --json " + kQuickRetransmit);
  ASSERT_EQ(r.exit_code, c.exit_code) << r.output;
  auto report = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << "not JSON: " << r.output;
  EXPECT_EQ(report.value("classic_type", ""), c.classic_type) << r.output;
  EXPECT_EQ(report.value("mapping", ""), c.mapping) << r.output;
  EXPECT_EQ(report.value("filtering", ""), c.filtering) << r.output;
  if (c.classic_type != "udp blocked") {
    // The mapped address is the NAT's outside address (or our own when public).
    auto mapped = report.value("mapped_address", "");
    EXPECT_EQ(mapped.rfind("203.0.113.", 0), 0u) << r.output;
  }
  EXPECT_TRUE(server->running()) << "server died during the test";
}

INSTANTIATE_TEST_SUITE_P(
    KernelNats, NatTypeInLab,
    testing::Values(NatKindCase{"none", "open internet", "none", "none", 0},
                    NatKindCase{"prc", "port-restricted cone", "endpoint-independent", "address-and-port-dependent", 0},
                    NatKindCase{"sym", "symmetric", "address-and-port-dependent", "address-and-port-dependent", 0},
                    NatKindCase{"block", "udp blocked", "unknown", "unknown", 1},
                    NatKindCase{"fc", "full cone", "endpoint-independent", "endpoint-independent", 0},
                    NatKindCase{"rc", "restricted cone", "endpoint-independent", "address-dependent", 0},
                    NatKindCase{"fw", "symmetric udp firewall", "none", "address-and-port-dependent", 0}),
    case_name);

// Two clients behind different NATs in one lab, as in the demo.
TEST(NatTypeInLab, BothClientsClassifiedInOneLab) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  Lab lab("tboth", "--a prc --b sym");
  ASSERT_TRUE(lab.up());
  auto server = lab.start_natpunch_stun_server();
  ASSERT_TRUE(server) << "stun-server did not start";
  auto a = nlohmann::json::parse(
      lab.exec("a", natpunch_binary() + " nat-type " + kPrimary + " --json " + kQuickRetransmit).output, nullptr, false);
  auto b = nlohmann::json::parse(
      lab.exec("b", natpunch_binary() + " nat-type " + kPrimary + " --json " + kQuickRetransmit).output, nullptr, false);
  ASSERT_FALSE(a.is_discarded());
  ASSERT_FALSE(b.is_discarded());
  EXPECT_EQ(a.value("classic_type", ""), "port-restricted cone");
  EXPECT_EQ(b.value("classic_type", ""), "symmetric");
  EXPECT_NE(a.value("mapped_address", ""), b.value("mapped_address", ""));
}

// The thesis's Algorithm 6 falls back to other servers: with the first
// server silent, nat-type classifies against the second and says so.
TEST(NatTypeInLab, FallsBackToTheNextServerWhenOneIsSilent) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  Lab lab("tfallback", "--a prc --b none");
  ASSERT_TRUE(lab.up());
  auto server = lab.start_natpunch_stun_server();
  ASSERT_TRUE(server) << "stun-server did not start";
  // Nothing listens on port 3999 of the server host.
  auto r = lab.exec("a", natpunch_binary() + " nat-type 203.0.113.10:3999 " + kPrimary + " --json " + kQuickRetransmit);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j.value("classic_type", ""), "port-restricted cone") << r.output;
  EXPECT_EQ(j.value("server", ""), kPrimary) << r.output;
  EXPECT_NE(j.value("note", "").find("203.0.113.10:3999"), std::string::npos) << r.output;
}

// `natpunch stun` prints the mapped address: behind the port-restricted NAT
// that is the router's outside address.
TEST(NatTypeInLab, StunPrintsMappedAddress) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  Lab lab("tstun", "--a prc --b none");
  ASSERT_TRUE(lab.up());
  auto server = lab.start_natpunch_stun_server();
  ASSERT_TRUE(server) << "stun-server did not start";
  auto r = lab.exec("a", natpunch_binary() + " stun " + kPrimary + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  auto mapped = j.value("mapped_address", "");
  EXPECT_EQ(mapped.rfind("203.0.113.", 0), 0u) << r.output;
  EXPECT_EQ(j.value("local_address", "").rfind("100.64.1.2:", 0), 0u) << r.output;
}

// User errors get one clear line on stderr and a distinct exit code. Run in a
// namespace so that the DNS lookup cannot leave the lab (no route out).
TEST(CliErrorsInLab, UnreachableUnresolvableAndMalformedServers) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  Lab lab("terr", "--a prc --b none");
  ASSERT_TRUE(lab.up());
  // Nothing listens on the server: no response after the retransmissions.
  auto silent = lab.exec("a", natpunch_binary() + " stun 203.0.113.10:3478 --rto 100 --rc 2 --rm 2 2>&1");
  EXPECT_EQ(silent.exit_code, 1) << silent.output;
  EXPECT_NE(silent.output.find("no STUN response"), std::string::npos) << silent.output;
  EXPECT_EQ(std::count(silent.output.begin(), silent.output.end(), '\n'), 1) << silent.output;

  auto unresolvable = lab.exec("a", natpunch_binary() + " stun no-such-host.invalid 2>&1");
  EXPECT_EQ(unresolvable.exit_code, 2) << unresolvable.output;
  EXPECT_NE(unresolvable.output.find("cannot resolve"), std::string::npos) << unresolvable.output;

  auto malformed = lab.exec("a", natpunch_binary() + " nat-type 203.0.113.10:99999 2>&1");
  EXPECT_EQ(malformed.exit_code, 2) << malformed.output;
  EXPECT_NE(malformed.output.find("port"), std::string::npos) << malformed.output;
}

}  // namespace
}  // namespace natpunch::lab

// Interoperability in the lab, both ways, with independent STUN
// implementations from Debian, across real kernel NATs:
//   - our classifier against stund (classic RFC 3489 server: CHANGED-ADDRESS)
//     and coturn's turnserver (RFC 5780 server: OTHER-ADDRESS);
//   - stund's client `stun` (RFC 3489) and coturn's turnutils_natdiscovery
//     (RFC 5780) against our stun-server.
// Each lab has client a behind a port-restricted cone NAT and client b behind
// a symmetric NAT, so each tool must tell the two apart.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "lab_harness.hpp"

namespace natpunch::lab {
namespace {

constexpr const char* kQuickRetransmit = "--rto 200 --rc 3 --rm 4";

bool have(const std::string& tool) { return run("command -v " + tool + " >/dev/null").exit_code == 0; }

std::string classic_type_from(const Lab& lab, const std::string& host) {
  auto r = lab.exec(host, natpunch_binary() + " nat-type 203.0.113.10:3478 --json " + kQuickRetransmit);
  auto j = nlohmann::json::parse(r.output, nullptr, false);
  if (j.is_discarded()) return "unparseable output: " + r.output;
  return j.value("classic_type", "missing") + " / " + j.value("mapping", "missing") + " / " +
         j.value("filtering", "missing");
}

struct ForeignServer {
  std::string name;
  std::string package_binary;
  std::vector<std::string> argv;  // run in the server namespace
};

class OurClientAgainst : public testing::TestWithParam<ForeignServer> {};

TEST_P(OurClientAgainst, ClassifiesBothNats) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  const auto& server = GetParam();
  if (!have(server.package_binary)) GTEST_SKIP() << server.package_binary << " not installed";
  Lab lab("ti" + server.name, "--a prc --b sym");
  ASSERT_TRUE(lab.up());
  auto argv = lab.in("server");
  argv.insert(argv.end(), server.argv.begin(), server.argv.end());
  BackgroundProcess process(argv);
  ASSERT_TRUE(lab.wait_for_udp_listener("203.0.113.11:3479")) << server.name << " did not start";
  EXPECT_EQ(classic_type_from(lab, "a"),
            "port-restricted cone / endpoint-independent / address-and-port-dependent");
  EXPECT_EQ(classic_type_from(lab, "b"), "symmetric / address-and-port-dependent / address-and-port-dependent");
}

INSTANTIATE_TEST_SUITE_P(
    Servers, OurClientAgainst,
    testing::Values(ForeignServer{"stund", "stund", {"stund", "-h", "203.0.113.10", "-a", "203.0.113.11"}},
                    ForeignServer{"coturn",
                                  "turnserver",
                                  {"turnserver", "-n", "--stun-only", "--no-cli", "--no-tls", "--no-dtls", "-L",
                                   "203.0.113.10", "-L", "203.0.113.11", "-p", "3478", "--alt-listening-port", "3479",
                                   "--log-file", "stdout", "--simple-log", "--userdb", "/dev/null"}}),
    [](const testing::TestParamInfo<ForeignServer>& info) { return info.param.name; });

struct ForeignClient {
  std::string name;
  std::string binary;
  std::string command;      // run in the client namespace
  std::string expect_prc;   // substring of its output behind the port-restricted NAT
  std::string expect_sym;   // ... behind the symmetric NAT
};

class ForeignClientAgainstOurServer : public testing::TestWithParam<ForeignClient> {};

TEST_P(ForeignClientAgainstOurServer, ClassifiesBothNats) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  const auto& client = GetParam();
  if (!have(client.binary)) GTEST_SKIP() << client.binary << " not installed";
  Lab lab("tc" + client.name, "--a prc --b sym");
  ASSERT_TRUE(lab.up());
  auto server = lab.start_natpunch_stun_server();
  ASSERT_TRUE(server) << "stun-server did not start";
  auto a = lab.exec("a", "timeout 60 " + client.command + " 2>&1");
  auto b = lab.exec("b", "timeout 60 " + client.command + " 2>&1");
  EXPECT_NE(a.output.find(client.expect_prc), std::string::npos) << a.output;
  EXPECT_NE(b.output.find(client.expect_sym), std::string::npos) << b.output;
  EXPECT_TRUE(server->running());
}

INSTANTIATE_TEST_SUITE_P(
    Clients, ForeignClientAgainstOurServer,
    testing::Values(
        // stund's RFC 3489 client prints e.g. "Primary: Independent Mapping, Port Dependent Filter, ...".
        ForeignClient{"stunclient", "stun", "stun 203.0.113.10 -v", "Primary: Independent Mapping, Port Dependent Filter",
                      "Primary: Dependent Mapping"},
        // coturn's RFC 5780 client.
        ForeignClient{"natdisc", "turnutils_natdiscovery", "turnutils_natdiscovery -m -f 203.0.113.10",
                      "NAT with Endpoint Independent Mapping!", "NAT with Address and Port Dependent Mapping!"}),
    [](const testing::TestParamInfo<ForeignClient>& info) { return info.param.name; });

// The symmetric side's filtering is checked too: a full cone would pass the
// mapping assertion above but must not claim port-dependent filtering.
TEST(ForeignClientAgainstOurServerDetail, NatDiscoveryFilteringMatchesOurs) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  if (!have("turnutils_natdiscovery")) GTEST_SKIP() << "coturn not installed";
  Lab lab("tcfilter", "--a prc --b none");
  ASSERT_TRUE(lab.up());
  auto server = lab.start_natpunch_stun_server();
  ASSERT_TRUE(server) << "stun-server did not start";
  auto a = lab.exec("a", "timeout 60 turnutils_natdiscovery -f 203.0.113.10 2>&1");
  EXPECT_NE(a.output.find("NAT with Address and Port Dependent Filtering!"), std::string::npos) << a.output;
  auto b = lab.exec("b", "timeout 60 turnutils_natdiscovery -f 203.0.113.10 2>&1");
  EXPECT_NE(b.output.find("NAT with Endpoint Independent Filtering!"), std::string::npos) << b.output;
}

}  // namespace
}  // namespace natpunch::lab

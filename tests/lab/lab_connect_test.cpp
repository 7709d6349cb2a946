// Lab test for `natpunch listen` / `natpunch connect` (issue 5): two peers
// behind real NATs (kernel and natd carrier profiles) meet at `natpunch
// rendezvous` on the public segment, pick a strategy from their NAT
// behaviour and end on the route the pair allows, proven by a test datagram
// authenticated with the session key (direct) or carried by the relay.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "lab_harness.hpp"

namespace natpunch::lab {
namespace {

constexpr const char* kRendezvous = "203.0.113.10:7000";
constexpr const char* kApdm = "address-and-port-dependent";
constexpr const char* kEim = "endpoint-independent";
constexpr const char* kAdf = "address-dependent";
constexpr const char* kEif = "endpoint-independent";

struct ConnectCase {
  std::string name;
  std::string kind_a, kind_b;
  // What `natpunch nat-type` reports behind each kind (the peers pass it on).
  std::string mapping_a, filtering_a, mapping_b, filtering_b;
  std::string route;     // "direct" or "relay"
  std::string strategy;  // strategy the connecting side reports
};

// Last JSON line of a command's stdout with "event":"result".
nlohmann::json result_of(const std::string& output) {
  std::istringstream lines(output);
  nlohmann::json result;
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("event", "") == "result") result = j;
  }
  return result;
}

class ConnectInLab : public testing::TestWithParam<ConnectCase> {};

TEST_P(ConnectInLab, PeersEndOnTheRouteTheirNatsAllow) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  const auto& c = GetParam();
  Lab lab("tc" + c.name, "--a " + c.kind_a + " --b " + c.kind_b);
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  auto server_argv = lab.in("server");
  server_argv.insert(server_argv.end(), {natpunch_binary(), "rendezvous", "--listen", kRendezvous});
  BackgroundProcess server(server_argv);
  ASSERT_TRUE(server.started());
  ASSERT_TRUE(lab.wait_for_udp_listener(kRendezvous)) << "rendezvous did not start";

  // Short budgets: pairs that cannot punch fall back to the relay in ~2 s
  // (1,000 probes at 1 ms: a both-symmetric birthday hit has odds ~2e-4).
  const std::string common = std::string(" --rendezvous ") + kRendezvous +
                             " --json --punch-timeout-ms 1000 --hole-punch-ms 1000 --send-interval-us 1000 "
                             "--test-timeout-ms 3000";
  // The listener writes its identity first, then its result, to a file.
  const std::string listen_out = "/tmp/natpunch-lab-" + lab.id() + "-listen.out";
  std::remove(listen_out.c_str());
  BackgroundProcess listener({"sh", "-c",
                              "exec ip netns exec " + lab.netns("b") + " " + natpunch_binary() +
                                  " listen --accept-any --mapping " + c.mapping_b + " --filtering " + c.filtering_b +
                                  common + " >" + listen_out + " 2>/dev/null"});
  ASSERT_TRUE(listener.started());
  std::string identity;
  for (int i = 0; i < 100 && identity.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto line = run("head -n1 " + listen_out + " 2>/dev/null").output;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) identity = j.value("identity", "");
  }
  ASSERT_EQ(identity.size(), 64u) << "listener printed no identity";

  auto connect = lab.exec("a", natpunch_binary() + " connect --peer " + identity + " --mapping " + c.mapping_a +
                                   " --filtering " + c.filtering_a + common + " 2>/dev/null");
  auto a = result_of(connect.output);
  for (int i = 0; i < 100 && listener.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto b = result_of(run("cat " + listen_out).output);
  std::remove(listen_out.c_str());

  ASSERT_FALSE(a.is_null()) << "connect printed no result: " << connect.output;
  ASSERT_FALSE(b.is_null()) << "listen printed no result";
  EXPECT_EQ(connect.exit_code, 0) << connect.output;
  EXPECT_EQ(a.value("route", ""), c.route) << a.dump();
  EXPECT_EQ(b.value("route", ""), c.route) << b.dump();
  EXPECT_EQ(a.value("strategy", ""), c.strategy) << a.dump();
  EXPECT_TRUE(a.value("test_datagram", false)) << a.dump();
  EXPECT_TRUE(b.value("test_datagram", false)) << b.dump();
  EXPECT_EQ(a.value("session_id", 0ull), b.value("session_id", 1ull));
  if (c.route == "direct") {
    // Each side reached the other at the public endpoint the rendezvous saw.
    EXPECT_EQ(a.value("peer_endpoint", "").rfind("203.0.113.102:", 0), 0u) << a.dump();
    EXPECT_EQ(b.value("peer_endpoint", "").rfind("203.0.113.101:", 0), 0u) << b.dump();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Pairs, ConnectInLab,
    testing::Values(
        // Both endpoint-independent: classic simultaneous hole punch.
        ConnectCase{"prcprc", "prc", "prc", kEim, kApdm, kEim, kApdm, "direct", "hole-punch"},
        ConnectCase{"lebvoda", "profile:lebara-nl", "profile:vodafone-nl", kEim, kAdf, kEim, kAdf, "direct",
                    "hole-punch"},
        // A full-cone side is reachable at its public endpoint: direct.
        ConnectCase{"fcprc", "model:eim/eif/sequential", "prc", kEim, kEif, kEim, kApdm, "direct", "direct"},
        // One endpoint-dependent side (KPN's symmetric NAT, kernel sym):
        // many sockets against the easy side's one endpoint.
        ConnectCase{"kpnvoda", "profile:kpn-nl", "profile:vodafone-nl", kApdm, kApdm, kEim, kAdf, "direct",
                    "one-hard-side"},
        ConnectCase{"symprc", "sym", "prc", kApdm, kApdm, kEim, kApdm, "direct", "one-hard-side"},
        // Both symmetric with random ports and a tiny budget: the relay.
        ConnectCase{"symsym", "sym", "sym", kApdm, kApdm, kApdm, kApdm, "relay", "improved"}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace natpunch::lab

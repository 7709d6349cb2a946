// Lab fault test (issue 8): punching through natd NATs whose paths are
// impaired, all faults at once -- 5 % loss, 5 % duplication, 5 % reordering
// and 200 ms jitter -- still ends on the direct route with the
// authenticated test datagram delivered both ways.
//
// Why combined and outbound-only: the faults interact (a duplicated probe
// may overtake a lost one's retransmission; jitter stretches the punch
// window on both sides at once), and a punch that survives each fault alone
// can still fail when they meet. Each natd impairs what leaves its
// subscriber (--impair-out), so every path between the peers crosses
// exactly one impaired hop: A->B through natd-a, B->A through natd-b, and
// the signalling to the rendezvous server too. The stated numbers are then
// the numbers each path sees (impairing both directions of both natds
// would double them: ~10 % loss and 400 ms jitter per path).
//
// delay=200ms,jitter=200ms gives each packet a delay drawn from 0-400 ms
// (netem's 200ms +-200ms); reorder=5% lets a packet skip the delay and
// overtake those in flight (jitter alone keeps order, as in netem).
#include <signal.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
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
constexpr const char* kImpairment = "delay=200ms,jitter=200ms,loss=0.05,duplicate=0.05,reorder=0.05";

struct FaultCase {
  std::string name;  // lab id: "tz" + name, at most 12 characters
  std::string kind_a, kind_b;
  std::string mapping_a, filtering_a, mapping_b, filtering_b;
  std::string strategy;
};

nlohmann::json result_of(const std::string& output) {
  std::istringstream lines(output);
  nlohmann::json result;
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("event", "") == "result") result = j;
  }
  return result;
}

// Stops the lab's natd for `side` (SIGTERM: it prints its counters) and
// returns the "impair_out.KEY=N" counters of its last line, e.g. "lost".
std::map<std::string, long long> stop_natd_and_read_impairment(const Lab& lab, const std::string& side) {
  const std::string state = "/run/natpunch-lab/" + lab.id() + "/natd-" + side;
  std::ifstream pid_file(state + ".pid");
  pid_t pid = 0;
  std::map<std::string, long long> counters;
  if (!(pid_file >> pid) || pid <= 0) return counters;
  // Only this lab's natd: the pid file is the lab's own.
  kill(pid, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    std::ifstream log(state + ".log");
    std::string line, last;
    while (std::getline(log, line))
      if (line.rfind("stopped:", 0) == 0) last = line;
    if (!last.empty()) {
      std::istringstream words(last);
      for (std::string word; words >> word;) {
        const std::string prefix = "impair_out.";
        const auto eq = word.find('=');
        if (word.rfind(prefix, 0) == 0 && eq != std::string::npos)
          counters[word.substr(prefix.size(), eq - prefix.size())] = std::stoll(word.substr(eq + 1));
      }
      return counters;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return counters;
}

class FaultsInLab : public testing::TestWithParam<FaultCase> {};

TEST_P(FaultsInLab, PunchingSurvivesLossDuplicationReorderingAndJitter) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  const auto& c = GetParam();
  const std::string natd_args = std::string("--impair-out ") + kImpairment;
  Lab lab("tz" + c.name, "--a " + c.kind_a + " --b " + c.kind_b + " --natd-args-a '" + natd_args +
                             "' --natd-args-b '" + natd_args + "'");
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  auto server = lab.start_rendezvous(kRendezvous);
  ASSERT_TRUE(server) << "natpunch rendezvous did not start";

  // Budgets sized for up to 400 ms one-way delay: the clean-path lab test
  // uses 1 s windows, these are 6 s (still far below a real phone's).
  const std::string common = std::string(" --rendezvous ") + kRendezvous +
                             " --json --wait 20 --punch-timeout-ms 6000 --hole-punch-ms 6000 "
                             "--send-interval-us 2000 --test-timeout-ms 8000";
  const std::string listen_out = "/tmp/natpunch-lab-" + lab.id() + "-listen.out";
  const std::string listen_err = "/tmp/natpunch-lab-" + lab.id() + "-listen.err";
  std::remove(listen_out.c_str());
  std::remove(listen_err.c_str());
  BackgroundProcess listener({"sh", "-c",
                              "exec ip netns exec " + lab.netns("b") + " " + natpunch_binary() +
                                  " listen --accept-any --mapping " + c.mapping_b + " --filtering " + c.filtering_b +
                                  common + " >" + listen_out + " 2>" + listen_err});
  ASSERT_TRUE(listener.started());
  std::string identity;
  for (int i = 0; i < 200 && identity.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto line = run("head -n1 " + listen_out + " 2>/dev/null").output;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) identity = j.value("identity", "");
  }
  ASSERT_EQ(identity.size(), 64u) << "listener printed no identity";
  // The identity comes before the registration; over the impaired path the
  // registration takes a while, and a connect that reaches the server first
  // is (rightly) refused as an unknown peer.
  bool registered = false;
  for (int i = 0; i < 200 && !registered; ++i) {
    registered = run("grep -q '^registered at' " + listen_err).exit_code == 0;
    if (!registered) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(registered) << "listener did not register over the impaired path";

  auto connect = lab.exec("a", natpunch_binary() + " connect --peer " + identity + " --mapping " + c.mapping_a +
                                   " --filtering " + c.filtering_a + common + " 2>/dev/null");
  auto a = result_of(connect.output);
  for (int i = 0; i < 200 && listener.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto b = result_of(run("cat " + listen_out).output);
  std::remove(listen_out.c_str());
  std::remove(listen_err.c_str());
  const auto impaired_a = stop_natd_and_read_impairment(lab, "a");
  const auto impaired_b = stop_natd_and_read_impairment(lab, "b");

  std::printf("[fault] %s: connect %s | listen %s\n", c.name.c_str(), a.dump().c_str(), b.dump().c_str());
  for (const auto* side : {&impaired_a, &impaired_b}) {
    std::printf("[fault] %s natd-%s impair_out:", c.name.c_str(), side == &impaired_a ? "a" : "b");
    for (const auto& [key, value] : *side) std::printf(" %s=%lld", key.c_str(), value);
    std::printf("\n");
  }

  ASSERT_FALSE(a.is_null()) << "connect printed no result: " << connect.output;
  ASSERT_FALSE(b.is_null()) << "listen printed no result";
  EXPECT_EQ(connect.exit_code, 0) << connect.output;
  EXPECT_EQ(a.value("route", ""), "direct") << a.dump();
  EXPECT_EQ(b.value("route", ""), "direct") << b.dump();
  EXPECT_EQ(a.value("strategy", ""), c.strategy) << a.dump();
  EXPECT_TRUE(a.value("test_datagram", false)) << a.dump();
  EXPECT_TRUE(b.value("test_datagram", false)) << b.dump();
  EXPECT_EQ(a.value("session_id", 0ull), b.value("session_id", 1ull));
  EXPECT_EQ(a.value("peer_endpoint", "").rfind("203.0.113.102:", 0), 0u) << a.dump();
  EXPECT_EQ(b.value("peer_endpoint", "").rfind("203.0.113.101:", 0), 0u) << b.dump();
  // The faults happened: both natds impaired traffic (a few hundred packets
  // each, so 5 % of them is a handful; zero would mean no impairment).
  for (const auto* side : {&impaired_a, &impaired_b}) {
    ASSERT_TRUE(side->count("offered")) << "natd printed no impairment counters";
    EXPECT_GT(side->at("offered"), 20);
    EXPECT_GT(side->at("lost") + side->at("duplicated") + side->at("reordered"), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Pairs, FaultsInLab,
    testing::Values(
        // Hole punch: both sides endpoint-independent (Lebara's restricted
        // cone and Vodafone's, as the carrier profiles describe them).
        FaultCase{"lebvoda", "profile:lebara-nl", "profile:vodafone-nl", kEim, kAdf, kEim, kAdf, "hole-punch"},
        // One hard side: KPN's symmetric NAT with 256-port blocks against
        // Vodafone: many sockets against the easy side's one endpoint.
        FaultCase{"kpnvoda", "profile:kpn-nl", "profile:vodafone-nl", kApdm, kApdm, kEim, kAdf, "one-hard-side"}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace natpunch::lab

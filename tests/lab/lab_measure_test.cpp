// Lab tests for the measurement tools (issue 6) against the userspace NAT
// with known settings: `natpunch measure timeouts` recovers natd's pending
// and idle timeouts with both methods, `measure mtu` the path MTU natd
// enforces (and the jumbo limit a carrier profile sets), and `measure
// mappings` + `analyze` recover each carrier allocator and its parameters.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "../support/scratch_dir.hpp"
#include "lab_harness.hpp"

namespace natpunch::lab {
namespace {

constexpr const char* kMeasureServer = "203.0.113.10:3479";
constexpr const char* kCollectionPorts = "40000-40099";

// A scratch directory per test, removed again at its end.
class TempDir : public natpunch::test_support::ScratchDir {
 public:
  TempDir() : ScratchDir("natpunch-lab-measure-" + std::to_string(getpid()) + "-" + std::to_string(counter_++)) {}

 private:
  static inline int counter_ = 0;
};

// Starts `natpunch measure-server` in the server host (no per-source rate
// limit: a collection sends thousands of packets from one NAT address).
std::unique_ptr<BackgroundProcess> start_measure_server(const Lab& lab, const std::string& log) {
  auto argv = lab.in("server");
  argv.insert(argv.end(), {natpunch_binary(), "measure-server", "--listen", kMeasureServer, "--ports",
                           kCollectionPorts, "--log", log, "--rate", "0"});
  auto process = std::make_unique<BackgroundProcess>(argv);
  if (!process->started() || !lab.wait_for_udp_listener("203.0.113.10:40099")) return nullptr;
  return process;
}

nlohmann::json json_from(const CommandResult& r) { return nlohmann::json::parse(r.output, nullptr, false); }

// ------------------------------------------------------------------ timeouts

// A lab (`lab_options`) with a measure-server, and `natpunch measure
// timeouts --json OPTIONS` run behind side a: its JSON, or why not (in
// `problem`).
nlohmann::json measure_timeouts_in_lab(const std::string& id, const std::string& lab_options,
                                       const std::string& options, std::string& problem) {
  TempDir dir;
  Lab lab(id, lab_options);
  if (!lab.up()) return problem = "lab.sh up failed", nullptr;
  auto server = start_measure_server(lab, dir.file("server.csv"));
  if (!server) return problem = "measure-server did not start", nullptr;
  auto r = lab.exec("a", natpunch_binary() + " measure timeouts " + kMeasureServer + " --json " + options);
  auto j = json_from(r);
  if (r.exit_code != 0 || !j.is_object()) problem = "exit " + std::to_string(r.exit_code) + ": " + r.output;
  return j;
}

struct TimeoutMethodCase {
  std::string name;
  std::string options;
};

class MeasureTimeoutsInLab : public testing::TestWithParam<TimeoutMethodCase> {};

// natd runs KPN's profile with its timeouts shortened to 2 s (pending) and
// 4 s (idle); both methods recover both to within a second (mixing the two
// up would be 2 s off). natd's model establishes a mapping at its first
// reply, so the idle probes' conversation is cut to 1 s here (conntrack's
// 2 s rule is MeasureTimeoutsBehindConntrack's). The paper method's steps sit just above each
// timeout (3 s, 5 s), so each search is one failed step plus a binary search
// of that step: ~20 s in all (was ~46 s with 4 s / 9 s and 5 s / 10 s
// steps), the two searches running side by side.
TEST_P(MeasureTimeoutsInLab, RecoversNatdsPendingAndIdleTimeouts) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  std::string problem;
  const auto j = measure_timeouts_in_lab("tmt" + GetParam().name,
                                         "--a profile:kpn-nl --b none --udp-timeout 2 --udp-stream-timeout 4",
                                         "--max-timeout 20 --which both --establish-ms 1000 " + GetParam().options,
                                         problem);
  ASSERT_TRUE(problem.empty()) << problem;
  for (const auto& [which, configured] : {std::pair{"pending", 2}, {"idle", 4}}) {
    const auto& t = j[which];
    ASSERT_TRUE(t.is_object()) << which << ": " << j.dump();
    ASSERT_FALSE(t["lower_s"].is_null()) << which << ": " << j.dump();
    ASSERT_FALSE(t["upper_s"].is_null()) << which << ": " << j.dump();
    // lower_s: the longest wait a mapping survived; upper_s: the shortest it
    // did not. Both within a second of natd's setting.
    EXPECT_NEAR(t["lower_s"].get<double>(), configured, 1.0) << which << ": " << j.dump();
    EXPECT_NEAR(t["upper_s"].get<double>(), configured, 1.0) << which << ": " << j.dump();
    EXPECT_LE(t["upper_s"].get<double>() - t["lower_s"].get<double>(), 1.0) << which << ": " << j.dump();
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, MeasureTimeoutsInLab,
                         testing::Values(TimeoutMethodCase{"par", ""},
                                         TimeoutMethodCase{"paper", "--method paper --pending-step 3 --idle-step 5"}),
                         [](const auto& info) { return info.param.name; });

// Behind a kernel NAT (lab kind prc: nftables masquerade, conntrack), a UDP
// flow lives by conntrack's "unreplied" timeout (--udp-timeout, 2 s here)
// until it has seen replies and is still active 2 s after its first
// packet; from then on by the stream timeout (--udp-stream-timeout, 6 s).
// A session's mapping lives by the second; a probe that saw one request
// and one reply, by the first (issue 22, item 12: it reported 7 s behind
// 7 s / 13 s). ~20 s.
TEST(MeasureTimeoutsBehindConntrack, IdleIsTheStreamTimeoutAndOneReplyTheUnrepliedOne) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  std::string problem;
  const auto j = measure_timeouts_in_lab("tmtct", "--a prc --b none --udp-timeout 2 --udp-stream-timeout 6",
                                         "--max-timeout 10", problem);
  ASSERT_TRUE(problem.empty()) << problem;
  for (const auto& [which, configured] : {std::pair{"pending", 2}, {"idle", 6}, {"idle_after_one_reply", 2}}) {
    const auto& t = j[which];
    ASSERT_TRUE(t.is_object() && t["lower_s"].is_number()) << which << ": " << j.dump();
    EXPECT_NEAR(t["lower_s"].get<double>(), configured, 1.0) << which << ": " << j.dump();
  }
}

// ----------------------------------------------------------------------- MTU

struct MtuCase {
  std::string name;
  std::string kind;
  int df_ip_mtu;               // path MTU with DF set
  int largest_fragmented;      // largest UDP payload with fragmentation allowed
  bool jumbo;
};

class MeasureMtuInLab : public testing::TestWithParam<MtuCase> {};

// natd enforces a path MTU of 1437 (lab --mtu); the MTU tool finds it
// exactly with DF set, and with fragmentation allowed reaches 65,507 through
// a NAT without a size limit, but only KPN's 1,445 through KPN's profile
// (Table V: no jumbo frames).
TEST_P(MeasureMtuInLab, RecoversThePathMtuAndTheJumboLimit) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  const auto& c = GetParam();
  TempDir dir;
  Lab lab("tmtu" + c.name, "--a " + c.kind + " --b none --mtu 1437");
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  auto server = start_measure_server(lab, dir.file("server.csv"));
  ASSERT_TRUE(server) << "measure-server did not start";
  auto r = lab.exec("a", natpunch_binary() + " measure mtu " + kMeasureServer + " --probe-timeout-ms 300 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = json_from(r);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j["df"]["ip_mtu"], c.df_ip_mtu) << r.output;
  EXPECT_EQ(j["fragmented"]["largest_payload"], c.largest_fragmented) << r.output;
  EXPECT_EQ(j["jumbo"], c.jumbo) << r.output;
}

INSTANTIATE_TEST_SUITE_P(Nats, MeasureMtuInLab,
                         testing::Values(MtuCase{"model", "model:eim/apdf/sequential", 1437, 65507, true},
                                         MtuCase{"kpn", "profile:kpn-nl", 1437, 1445, false}),
                         [](const auto& info) { return info.param.name; });

// ------------------------------------------------- mapping collection + analyze

struct CollectionCase {
  std::string name;
  std::string kind;         // lab.sh NAT kind
  std::string expected;     // allocator kind analyze must report
  std::string lab_options;  // e.g. a short pending timeout
  int count;
  int rate;
};

class MeasureMappingsInLab : public testing::TestWithParam<CollectionCase> {};

// The thesis's data gathering through natd running a carrier profile; the
// analyzer recovers the profile's allocator from the two logs.
TEST_P(MeasureMappingsInLab, CollectionAndAnalyzeRecoverTheAllocator) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  const auto& c = GetParam();
  TempDir dir;
  Lab lab("tmm" + c.name, "--a " + c.kind + " --b none " + c.lab_options);
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  auto server = start_measure_server(lab, dir.file("server.csv"));
  ASSERT_TRUE(server) << "measure-server did not start";
  auto collect = lab.exec("a", natpunch_binary() + " measure mappings " + kMeasureServer + " --count " +
                                   std::to_string(c.count) + " --rate " + std::to_string(c.rate) + " --ports " +
                                   kCollectionPorts + " --out " + dir.file("client.csv") + " --json 2>/dev/null");
  ASSERT_EQ(collect.exit_code, 0) << collect.output;
  server->stop();  // flushes and closes its log
  auto r = run(natpunch_binary() + " analyze " + dir.file("client.csv") + " " + dir.file("server.csv") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = json_from(r);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  // UDP through a userspace NAT on a busy 2-core machine loses packets (a
  // run once joined 39,520 of 40,000; with both cores busy beside it,
  // voda lost 10.6 %; with a CPU hog on both cores, the sanitized unit
  // tests and compilers beside it, kpn lost 50.85 % and its blocks were
  // still recovered): what counts is what the analysis recovers from what
  // arrived. The loss is reported, and bounded only loosely: the fits below
  // are checked on at least a quarter of the rows.
  const auto collected = json_from(collect);
  const int sent = collected.is_object() ? collected.value("sent", 0) : 0;
  const int joined = j["joined"]["rows"].get<int>();
  std::cerr << "[" << c.name << "] " << sent << " sent, " << joined << " joined ("
            << (sent ? 100.0 * (sent - joined) / sent : 0.0) << " % lost)\n";
  EXPECT_GE(sent, c.count * 99 / 100) << "the collector sends what it was asked to: " << collect.output;
  EXPECT_GE(joined, c.count * 25 / 100) << r.output.substr(0, 800);
  // Loss can only remove rows: the server never logs a packet nobody sent.
  EXPECT_EQ(j["joined"]["server_only"].get<int>(), 0) << r.output.substr(0, 800);
  EXPECT_EQ(j["joined"]["client_only"].get<int>(), sent - joined) << r.output.substr(0, 800);
  const auto& a = j["allocator"];
  EXPECT_EQ(a["kind"], c.expected) << a.dump();
  if (c.expected == "block") {
    EXPECT_EQ(a["kind"], "block") << a.dump();
    EXPECT_EQ(a["block_size"], 256) << a.dump();
  } else if (c.expected == "uniform") {
    EXPECT_EQ(a["kind"], "uniform") << a.dump();
    EXPECT_GE(a["min"].get<int>(), 2048) << a.dump();
    EXPECT_LE(a["max"].get<int>(), 65535) << a.dump();
    EXPECT_LT(a["min"].get<int>(), 2048 + 1000) << a.dump();
    EXPECT_GT(a["max"].get<int>(), 65535 - 1000) << a.dump();
  } else if (c.expected == "beta") {
    // Vodafone NL as its real logs show it (profiles/vodafone-nl.json):
    // 32-port windows at offset 31, any port of the window, windows placed
    // by Beta(6.89, 4.27, loc 1, scale 17,944), whose mean is 11,080.
    ASSERT_EQ(a["kind"], "beta") << a.dump();
    ASSERT_TRUE(a.contains("locality")) << a.dump();
    EXPECT_EQ(a["locality"]["window"], 32) << a.dump();
    EXPECT_EQ(a["locality"]["offset"], 31) << a.dump();
    EXPECT_EQ(a["locality"]["order"], "random") << a.dump();
    const double alpha = a["alpha"], beta = a["beta"], loc = a["loc"], scale = a["scale"];
    EXPECT_NEAR(loc + scale * alpha / (alpha + beta), 11080, 0.10 * 11080) << a.dump();
  }
}

// The Vodafone case keeps few mappings alive at once (12.5 ms pending
// timeout at 4,000 packets/s: ~50), so a window's stay ends when its 32
// ports are in use, after ~32 mappings; 40,000 rows give ~1,200 windows for
// the placement's Beta fit.
INSTANTIATE_TEST_SUITE_P(Carriers, MeasureMappingsInLab,
                         testing::Values(CollectionCase{"kpn", "profile:kpn-nl", "block", "", 4000, 2000},
                                         CollectionCase{"lyca", "profile:lycamobile-nl", "uniform", "", 1000, 2000},
                                         CollectionCase{"voda", "profile:vodafone-nl", "beta",
                                                        "--natd-args-a '--pending-timeout 0.0125'", 40000, 4000},
                                         CollectionCase{"seq", "model:eim/apdf/sequential", "sequential", "", 500, 2000},
                                         CollectionCase{"pres", "model:eim/apdf/preserving", "preserving", "", 500,
                                                        2000}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace natpunch::lab

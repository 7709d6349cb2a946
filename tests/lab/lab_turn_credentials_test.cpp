// A relayed session outlives its TURN credentials (issue 20 item 3): the
// rendezvous mints TURN REST credentials valid 5 s (--turn-ttl 5); coturn
// (Debian's) caps allocations at 4 s, so each peer refreshes every ~2 s,
// and makes nonces stale after 3 s, so requests are re-challenged (438)
// and signed again with the expired username. Two peers that do not punch relay 4 chunks of random
// bytes each way through coturn, 4 s apart (past two TTLs), compared byte
// for byte: the session stays on TURN, nothing lost or doubled, no TURN
// warning, and coturn refreshed the allocations with the credentials they
// were made with, long after those expired (coturn binds the username to
// the allocation: a Refresh under a new one gets 441 Wrong Credentials, so
// fresh credentials are only for a new allocation).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "../support/coturn.hpp"
#include "../support/scratch_dir.hpp"
#include "lab_harness.hpp"
#include "lab_stdio_pair.hpp"

namespace natpunch::lab {
namespace {

TEST(TurnCredentialsInLab, ARelayedSessionOutlivesItsTurnCredentials) {
  if (!is_root() || !test_support::have_coturn()) GTEST_SKIP() << "needs root and coturn (turnserver)";
  Lab lab("tsttl", "--a prc --b prc");
  ASSERT_TRUE(lab.up());
  const test_support::ScratchDir scratch("natpunch_lab_" + lab.id());
  const std::string dir = scratch.path();

  test_support::CoturnSettings settings;
  settings.dir = dir;
  settings.address = "203.0.113.10";
  settings.secret = test_support::random_secret();
  settings.allowed_peers = "203.0.113.10";  // the peers' relayed addresses
  settings.extra = {"max-allocate-lifetime=4", "stale-nonce=3", "verbose"};  // verbose: a line per request
  const std::string conf = test_support::write_coturn_config(settings);
  auto turn_argv = lab.in("server");
  turn_argv.insert(turn_argv.end(), {"sh", "-c", "exec turnserver -c '" + conf + "' >'" + dir + "/coturn.out' 2>&1"});
  BackgroundProcess coturn(turn_argv);
  ASSERT_TRUE(lab.wait_for_udp_listener("203.0.113.10:3478"));

  auto rv_argv = lab.in("server");
  rv_argv.insert(rv_argv.end(), {natpunch_binary(), "rendezvous", "--listen", "203.0.113.10:7000", "--stun-alt",
                                 "203.0.113.11:7001", "--turn-server", "203.0.113.10:3478,udp", "--turn-secret",
                                 settings.secret, "--turn-ttl", "5"});
  BackgroundProcess rendezvous(rv_argv);
  ASSERT_TRUE(rendezvous.started() && lab.wait_for_udp_listener("203.0.113.10:7000"));

  // Each side waits until TURN carries its relayed traffic, then sends its
  // 4 chunks 4 s apart; the session ends once both inputs ended.
  StdioPair pair;
  pair.ready_pattern = "carries the relayed traffic";
  pair.feed = [&](const std::string& name) {
    return "date +%s >" + dir + "/" + name + ".start; for c in 1 2 3 4; do dd if=" + dir + "/" + name +
           ".bin bs=4000 skip=$((c-1)) count=1 2>/dev/null; [ $c -lt 4 ] && sleep 4; done; date +%s >" + dir + "/" +
           name + ".end";
  };
  pair.options = "--rendezvous 203.0.113.10:7000 --force-relay --no-nat-probe --json --stdio --wait 15";
  pair.b_command = "listen --accept-any";
  pair.a_command = "connect --peer $id";
  pair.timeout_s = 45;
  pair.before_compare = "echo sent-for=$(( $(cat a.end) - $(cat a.start) )); ";
  const std::string script = stdio_pair_script(lab, dir, pair);
  const auto r = run(script + " 2>&1");
  const auto err_of = [&](const std::string& name) { return file_text(dir + "/" + name + ".err"); };
  const auto tail = [&](const std::string& name) {
    const auto text = err_of(name);
    return text.substr(text.size() > 2000 ? text.size() - 2000 : 0);
  };
  EXPECT_NE(r.output.find("connect=0"), std::string::npos) << r.output << "\na: " << tail("a") << "\nb: " << tail("b");
  EXPECT_NE(r.output.find("a-to-b-intact"), std::string::npos) << r.output << "\nb: " << tail("b");
  EXPECT_NE(r.output.find("b-to-a-intact"), std::string::npos) << r.output << "\na: " << tail("a");
  // The chunks went out over 12 s, after an allocation made with
  // credentials minted before it: past two 5 s TTLs.
  EXPECT_NE(r.output.find("sent-for=1"), std::string::npos) << r.output;
  for (const std::string name : {"a", "b"}) {
    const auto results = json_events(err_of(name), "result");
    ASSERT_EQ(results.size(), 1u) << name << ": " << tail(name);
    const auto& j = results[0];
    EXPECT_EQ(j.value("relay", ""), "TURN via 203.0.113.10:3478") << "still on TURN at the end: " << j.dump();
    EXPECT_GE(j["session"].value("sent_turn", 0), 4) << j.dump();
    EXPECT_GE(j["session"].value("received_turn", 0), 4) << j.dump();
    EXPECT_EQ(err_of(name).find("TURN relay failed"), std::string::npos) << tail(name);
  }
  const auto log = file_text(dir + "/turnserver.log");
  // ~2 s apart for 12 s or more, two allocations: at least 8, with margin.
  EXPECT_GE(count_of(log, "REFRESH processed, success"), 8u) << log.substr(log.size() > 3000 ? log.size() - 3000 : 0);
  EXPECT_GE(count_of(log, "error 438"), 2u) << "stale nonces re-challenged, signed again with the expired username";
  EXPECT_EQ(count_of(log, "error 441"), 0u);
  EXPECT_EQ(count_of(log, "REFRESH processed, error"), 0u);
}

}  // namespace
}  // namespace natpunch::lab

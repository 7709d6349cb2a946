// A relayed session survives a coturn restart (issue 20: a new allocation
// when one is lost): two peers that do not punch relay through the lab's
// coturn over TCP (the rendezvous offers it with minted credentials). Once
// each has sent its first chunk of random bytes, coturn is stopped and
// started again: both TCP links drop, both allocations are gone. Each peer
// says so in one warning line, makes a new allocation on a new link (the
// first attempts may be refused while coturn starts), announces its new
// relayed address over the rendezvous, and the remaining chunks go through
// the new allocations. Both streams compare equal, the session ends on
// TURN, and coturn's second log shows the new allocations.
#include <gtest/gtest.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "../support/coturn.hpp"
#include "../support/scratch_dir.hpp"
#include "lab_harness.hpp"
#include "lab_stdio_pair.hpp"

namespace natpunch::lab {
namespace {

TEST(TurnReallocationInLab, ARestartedCoturnMeansNewAllocationsAndTheStreamGoesOn) {
  if (!is_root() || !test_support::have_coturn()) GTEST_SKIP() << "needs root and coturn (turnserver)";
  Lab lab("tsrealloc", "--a prc --b prc");
  ASSERT_TRUE(lab.up());
  const test_support::ScratchDir scratch("natpunch_lab_" + lab.id());
  const std::string dir = scratch.path();

  test_support::CoturnSettings settings;
  settings.dir = dir;
  settings.address = "203.0.113.10";
  settings.secret = test_support::random_secret();
  settings.allowed_peers = "203.0.113.10";  // the peers' relayed addresses
  settings.extra = {"verbose"};
  const std::string conf = test_support::write_coturn_config(settings);
  // coturn, restarted once DIR/restart appears (SIGTERM: the first one
  // closes its TCP connections, and their allocations go with them). The
  // trap stops whichever runs when the test ends.
  const std::string supervisor =
      "turnserver -c '" + conf + "' >'" + dir + "/coturn1.out' 2>&1 & p=$!; trap 'kill $p; exit 0' TERM; " +
      "until [ -f '" + dir + "/restart' ]; do sleep 0.05; done; kill $p; wait $p; date +%s.%N >'" + dir +
      "/restarted'; turnserver -c '" + conf + "' >'" + dir + "/coturn2.out' 2>&1 & p=$!; wait $p";
  auto turn_argv = lab.in("server");
  turn_argv.insert(turn_argv.end(), {"sh", "-c", supervisor});
  BackgroundProcess coturn(turn_argv);
  ASSERT_TRUE(lab.wait_for_udp_listener("203.0.113.10:3478"));

  auto rv_argv = lab.in("server");
  rv_argv.insert(rv_argv.end(), {natpunch_binary(), "rendezvous", "--listen", "203.0.113.10:7000", "--stun-alt",
                                 "203.0.113.11:7001", "--turn-server", "203.0.113.10:3478,udp,tcp", "--turn-secret",
                                 settings.secret});
  BackgroundProcess rendezvous(rv_argv);
  ASSERT_TRUE(rendezvous.started() && lab.wait_for_udp_listener("203.0.113.10:7000"));

  // 4 chunks of 4000 bytes each way: the first on TURN, then (a) the
  // restart, 5 s for new allocations, the other three 1 s apart.
  StdioPair pair;
  pair.ready_pattern = "carries the relayed traffic";
  pair.feed = [&](const std::string& name) {
    const std::string chunk = "dd if=" + dir + "/" + name + ".bin bs=4000 count=1 2>/dev/null skip=";
    return chunk + "0; sleep 1; " + (name == "a" ? "touch " + dir + "/restart; " : std::string()) + "sleep 5; " +
           chunk + "1; sleep 1; " + chunk + "2; sleep 1; " + chunk + "3";
  };
  pair.options =
      "--rendezvous 203.0.113.10:7000 --force-relay --no-nat-probe --turn-transport tcp --json --stdio --wait 15";
  pair.b_command = "listen --accept-any";
  pair.a_command = "connect --peer $id";
  pair.timeout_s = 40;
  const std::string script = stdio_pair_script(lab, dir, pair);
  const auto r = run(script + " 2>&1");
  const auto err_of = [&](const std::string& name) { return file_text(dir + "/" + name + ".err"); };
  const auto tail = [&](const std::string& name) {
    const auto text = err_of(name);
    return text.substr(text.size() > 3000 ? text.size() - 3000 : 0);
  };
  EXPECT_NE(r.output.find("connect=0"), std::string::npos) << r.output << "\na: " << tail("a") << "\nb: " << tail("b");
  EXPECT_NE(r.output.find("a-to-b-intact"), std::string::npos) << r.output << "\nb: " << tail("b");
  EXPECT_NE(r.output.find("b-to-a-intact"), std::string::npos) << r.output << "\na: " << tail("a");
  EXPECT_FALSE(file_text(dir + "/restarted").empty()) << "coturn was restarted";
  for (const std::string name : {"a", "b"}) {
    const auto err = err_of(name);
    // For the log: what the side said about TURN.
    for (std::size_t at = 0, end; (end = err.find('\n', at)) != std::string::npos; at = end + 1) {
      const auto line = err.substr(at, end - at);
      if (line.find("\"turn\"") != std::string::npos || line.find("TURN allocation") != std::string::npos)
        std::cout << name << ": " << line.substr(0, 400) << "\n";
    }
    EXPECT_EQ(count_of(err, "TURN allocation lost"), 1u) << "one warning line: " << tail(name);
    EXPECT_GE(count_of(err, "carries the relayed traffic"), 2u) << "TURN again after the restart: " << tail(name);
    EXPECT_EQ(err.find("TURN relay failed"), std::string::npos) << tail(name);
    const auto results = json_events(err, "result");
    ASSERT_EQ(results.size(), 1u) << name << ": " << tail(name);
    const auto& j = results[0];
    EXPECT_EQ(j.value("relay", ""), "TURN via 203.0.113.10:3478") << "on TURN at the end: " << j.dump();
    EXPECT_GE(j["session"].value("received_turn", 0), 3) << j.dump();
  }
  // The second coturn made the new allocations (one per peer, at least).
  const auto log = file_text(dir + "/turnserver.log");
  const auto restarted_at = log.rfind("Relay address to use");  // logged as each coturn starts
  ASSERT_NE(restarted_at, std::string::npos) << log.substr(0, 2000);
  EXPECT_GE(count_of(log.substr(restarted_at), "ALLOCATE processed, success"), 2u)
      << log.substr(log.size() > 3000 ? log.size() - 3000 : 0);
}

}  // namespace
}  // namespace natpunch::lab

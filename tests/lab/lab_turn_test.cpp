// TURN in the lab: Debian's coturn on the public segment (203.0.113.10,
// use-auth-secret, TLS on port 443 with a CA made for the run), coturn's
// turnutils_peer as the echoing peer on client b's public address, and our
// client behind the NAT kinds that defeat UDP: `udpblock` (no UDP out at
// all) and `udplimit` (UDP throttled to 50 packets/s each way).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "../support/coturn.hpp"
#include "lab_harness.hpp"
#include "lab_stdio_pair.hpp"

namespace natpunch::lab {
namespace {

constexpr const char* kServer = "203.0.113.10";
constexpr const char* kPeer = "203.0.113.102:3480";

// coturn in the server host and turnutils_peer in b, for one lab.
struct LabCoturn {
  std::string dir;
  test_support::CoturnSettings settings;
  std::unique_ptr<BackgroundProcess> server;
  std::unique_ptr<BackgroundProcess> peer;
  std::string error;

  bool start(const Lab& lab) {
    dir = std::filesystem::temp_directory_path() / ("natpunch_lab_turn_" + lab.id());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    settings.dir = dir;
    settings.address = kServer;
    settings.port = 3478;
    settings.tls_port = 443;
    settings.secret = test_support::random_secret();
    settings.allowed_peers = "203.0.113.102";  // client b's public address: nothing else is relayed to
    settings.pki = test_support::make_test_pki(dir, kServer, error);
    if (!settings.pki) return false;
    const std::string conf = test_support::write_coturn_config(settings);
    // Its output goes to a file (it reports protocols the lab lacks, e.g. SCTP).
    auto argv = lab.in("server");
    argv.insert(argv.end(), {"sh", "-c", "exec turnserver -c '" + conf + "' >'" + dir + "/stdout.log' 2>&1"});
    server = std::make_unique<BackgroundProcess>(argv);
    auto peer_argv = lab.in("b");
    peer_argv.insert(peer_argv.end(), {"turnutils_peer", "-L", "203.0.113.102", "-p", "3480"});
    peer = std::make_unique<BackgroundProcess>(peer_argv);
    return test_support::wait_for_tcp_listener("ip netns exec " + lab.netns("server") + " ", 443) &&
           lab.wait_for_udp_listener("203.0.113.10:3478");
  }
  ~LabCoturn() {
    server.reset();
    peer.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
  // `natpunch turn allocate` from lab host `host`, with --json.
  std::pair<int, nlohmann::json> allocate(const Lab& lab, const std::string& host, const std::string& args) const {
    const auto r = lab.exec(host, natpunch_binary() + " turn allocate --secret " + settings.secret + " --peer " + kPeer +
                                      " " + args + " --json 2>/dev/null");
    return {r.exit_code, nlohmann::json::parse(r.output, nullptr, false)};
  }
};

bool have_tools() { return is_root() && test_support::have_coturn(); }

TEST(TurnFromUdpBlock, TcpAndTlsRelayWhileUdpIsBlocked) {
  if (!have_tools()) GTEST_SKIP() << "needs root and coturn (turnserver, turnutils_peer)";
  Lab lab("tturnblk", "--a udpblock --b none");
  ASSERT_TRUE(lab.up());
  LabCoturn coturn;
  ASSERT_TRUE(coturn.start(lab)) << coturn.error;
  const std::string server = std::string(" --server ") + kServer;

  // UDP: nothing gets out of a's network, a clear error within --timeout.
  auto [code, j] = coturn.allocate(lab, "a", server + ":3478 --timeout 2");
  EXPECT_EQ(code, 1) << j.dump();
  EXPECT_NE(j.value("error", "").find("TURN server 203.0.113.10:3478 over udp did not answer the allocation"),
            std::string::npos)
      << j.dump();

  // TCP to the same port: relayed both ways through the NAT.
  std::tie(code, j) = coturn.allocate(lab, "a", server + ":3478 --tcp --count 5 --size 300");
  ASSERT_EQ(code, 0) << j.dump();
  EXPECT_EQ(j["mapped"].get<std::string>().rfind("203.0.113.101:", 0), 0u) << "a's NAT address: " << j.dump();
  EXPECT_EQ(j["relayed"].get<std::string>().rfind("203.0.113.10:", 0), 0u) << j.dump();
  EXPECT_GE(j["peers"][0]["echoed"].get<int>(), 4) << j.dump();
  EXPECT_TRUE(j["refreshed"]);
  EXPECT_TRUE(j["deallocated"]);

  // TLS on 443 with the run's CA; the certificate names 203.0.113.10.
  std::tie(code, j) = coturn.allocate(lab, "a", server + ":443 --tls --count 5 --ca " + coturn.settings.pki->ca);
  ASSERT_EQ(code, 0) << j.dump();
  EXPECT_TRUE(j["tls"].is_string()) << j.dump();
  EXPECT_GE(j["peers"][0]["echoed"].get<int>(), 4) << j.dump();

  // A CA that did not sign it: refused before anything is sent.
  std::tie(code, j) = coturn.allocate(lab, "a", server + ":443 --tls --ca " + coturn.settings.pki->other_ca);
  EXPECT_EQ(code, 1);
  EXPECT_NE(j.value("error", "").find("certificate not accepted"), std::string::npos) << j.dump();

  // `turn allocate --rendezvous` where UDP is blocked (issue 20 item 4):
  // no answer over UDP for 2 s, TCP to 7000 refused (this rendezvous has
  // no TCP listener), so it registers over TLS on 8443 (the run's CA; the
  // certificate names 203.0.113.10), takes the relay and credentials the
  // rendezvous offers and allocates over TURN-TLS on 443 (the offered UDP
  // way skipped), then relays to the echo peer.
  auto rv_argv = lab.in("server");
  rv_argv.insert(rv_argv.end(), {natpunch_binary(), "rendezvous", "--listen", "203.0.113.10:7000", "--turn-server",
                                 "203.0.113.10:3478,udp,tcp,tls=443", "--turn-secret", coturn.settings.secret,
                                 "--tls", "8443", "--tls-cert", coturn.settings.pki->cert, "--tls-key",
                                 coturn.settings.pki->key});
  BackgroundProcess rendezvous(rv_argv);
  ASSERT_TRUE(rendezvous.started() && lab.wait_for_udp_listener("203.0.113.10:7000") &&
              test_support::wait_for_tcp_listener("ip netns exec " + lab.netns("server") + " ", 8443))
      << "the rendezvous did not start";
  const auto offer_started = std::chrono::steady_clock::now();
  const auto offered = lab.exec("a", natpunch_binary() + " turn allocate --rendezvous 203.0.113.10:7000 --tls --ca " +
                                         coturn.settings.pki->ca + " --rendezvous-tls-port 8443 --rendezvous-tls-ca " +
                                         coturn.settings.pki->ca + " --peer " + kPeer + " --count 3 --json 2>&1 >" +
                                         coturn.dir + "/rv.json");
  std::tie(code, j) = std::pair{offered.exit_code, nlohmann::json::parse(file_text(coturn.dir + "/rv.json"), nullptr, false)};
  ASSERT_EQ(code, 0) << j.dump() << "\n" << offered.output;
  EXPECT_EQ(j["rendezvous_transport"], "tls") << j.dump();
  EXPECT_EQ(j["udp_blocked"], true) << j.dump();
  EXPECT_EQ(j["server"], "203.0.113.10:443") << j.dump();
  EXPECT_EQ(j["transport"], "tls") << j.dump();
  EXPECT_GE(j["peers"][0]["echoed"].get<int>(), 2) << j.dump();
  EXPECT_NE(offered.output.find("registered over tls"), std::string::npos) << offered.output;
  // Registration (2 s of UDP silence, TCP refused, TLS) + allocation + 3 echoes + deallocation.
  std::cerr << "[udpblock] turn allocate --rendezvous over TLS in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - offer_started).count() << " s\n";

  // coturn's own client agrees: over TCP it relays, over UDP it cannot.
  const std::string uclient = "timeout 20 turnutils_uclient -W " + coturn.settings.secret +
                              " -e 203.0.113.102 -r 3480 -n 20 -l 100 -m 1 -c -z 5 ";
  const auto tcp = lab.exec("a", uclient + "-t 203.0.113.10 2>&1");
  EXPECT_NE(tcp.output.find("tot_recv_msgs=20"), std::string::npos) << tcp.output;
}

TEST(TurnThroughUdpLimit, TcpRelayIsNotThrottledLikeUdp) {
  if (!have_tools()) GTEST_SKIP() << "needs root and coturn (turnserver, turnutils_peer)";
  Lab lab("tturnlim", "--a udplimit:50 --b none");
  ASSERT_TRUE(lab.up());
  LabCoturn coturn;
  ASSERT_TRUE(coturn.start(lab)) << coturn.error;
  const std::string flood = std::string(" --server ") + kServer + ":3478 --count 0 --flood 2 --size 200 --window 32";

  auto [code, udp] = coturn.allocate(lab, "a", flood);
  ASSERT_EQ(code, 0) << udp.dump();
  auto [tcp_code, tcp] = coturn.allocate(lab, "a", flood + " --tcp");
  ASSERT_EQ(tcp_code, 0) << tcp.dump();
  const double udp_rate = udp["peers"][0]["flood"]["echoed_per_s"];
  const double tcp_rate = tcp["peers"][0]["flood"]["echoed_per_s"];
  // 50 packets/s each way with a burst of 50: at most ~75 echoes/s over 2 s.
  EXPECT_LE(udp_rate, 100.0) << udp.dump();
  EXPECT_GT(udp_rate, 5.0) << "throttled, not blocked: " << udp.dump();
  EXPECT_GT(tcp_rate, 4 * udp_rate) << "TCP: " << tcp.dump() << "\nUDP: " << udp.dump();
}

// Issue 20's lab row for the throttling kind: a phone whose carrier
// limits UDP to 50 packets/s (a: udplimit:50) still registers, connects to
// a peer behind a port-restricted cone (b: prc) and exchanges random bytes
// both ways through `--stdio`, compared byte for byte. Each side starts
// sending once its own session is open, and stays within the throttle's
// burst (14 datagrams of session payload each way).
TEST(TurnThroughUdpLimit, ThrottledPeerConnectsAndRandomBytesArriveIntact) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  Lab lab("tturnpair", "--a udplimit:50 --b prc");
  ASSERT_TRUE(lab.up());
  auto rendezvous = lab.start_rendezvous("203.0.113.10:7000");
  ASSERT_TRUE(rendezvous) << "natpunch rendezvous did not start";
  const std::string dir = std::filesystem::temp_directory_path() / ("natpunch_lab_" + lab.id());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // Each side: wait until its own report says the session is open, then
  // send its file; the session ends once both inputs ended.
  StdioPair pair;
  pair.ready_pattern = "connected to";
  pair.ready_polls = 400;
  pair.options = "--rendezvous 203.0.113.10:7000 --json --stdio --wait 20";
  pair.b_command = "listen --accept-any";
  pair.a_command = "connect --peer $id";
  pair.timeout_s = 40;
  const std::string script = stdio_pair_script(lab, dir, pair);
  const auto r = run(script + " 2>&1");
  const auto tail = [&](const std::string& name) { return run("tail -c 1500 " + dir + "/" + name + ".err").output; };
  EXPECT_NE(r.output.find("connect=0"), std::string::npos) << r.output << "\na: " << tail("a") << "\nb: " << tail("b");
  EXPECT_NE(r.output.find("a-to-b-intact"), std::string::npos) << r.output << "\nb: " << tail("b");
  EXPECT_NE(r.output.find("b-to-a-intact"), std::string::npos) << r.output << "\na: " << tail("a");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace natpunch::lab

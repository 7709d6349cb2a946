// Issue 20 item 4 in the lab: client a behind `udpblock` (no UDP leaves
// its network) registers at the rendezvous over TLS on port 443 of the
// public segment (203.0.113.10, a certificate from a CA made for the run),
// client b (public address, plain UDP) listens; they meet on the built-in
// relay and pipe random bytes both ways through `--stdio`, compared end to
// end. Also reports how long a's registration took (2 s of silent UDP,
// a refused TCP attempt, the TLS handshake, Register/Prove).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "../support/coturn.hpp"
#include "../support/scratch_dir.hpp"
#include "lab_harness.hpp"

namespace natpunch::lab {
namespace {

constexpr const char* kRendezvous = "203.0.113.10:7000";

// The last line of `text` whose "event" is `event` (an empty object when none).
nlohmann::json event_of(const std::string& text, const std::string& event) {
  const auto all = json_events(text, event);
  return all.empty() ? nlohmann::json::object() : all.back();
}

TEST(RendezvousOverTlsInLab, UdpBlockedClientRegistersOverTlsAndRelaysRandomBytes) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  Lab lab("trzstrm", "--a udpblock --b none");
  ASSERT_TRUE(lab.up());
  const test_support::ScratchDir scratch("natpunch_lab_rzstream_" + lab.id());
  const std::string dir = scratch.path();
  std::string error;
  const auto pki = test_support::make_test_pki(dir, "203.0.113.10", error);
  ASSERT_TRUE(pki) << error;

  auto argv = lab.in("server");
  argv.insert(argv.end(), {natpunch_binary(), "rendezvous", "--listen", kRendezvous, "--tls", "443", "--tls-cert",
                           pki->cert, "--tls-key", pki->key, "--start-delay-ms", "200"});
  BackgroundProcess server(argv);
  ASSERT_TRUE(server.started());
  ASSERT_TRUE(lab.wait_for_udp_listener(kRendezvous));
  ASSERT_TRUE(test_support::wait_for_tcp_listener("ip netns exec " + lab.netns("server") + " ", 443));

  // 48 KiB of random bytes each way.
  const std::string a_in = dir + "/a.in", b_in = dir + "/b.in";
  ASSERT_EQ(run("head -c 49152 /dev/urandom >" + a_in + " && head -c 49152 /dev/urandom >" + b_in).exit_code, 0);
  const std::string common = std::string(" --rendezvous ") + kRendezvous + " --json --stdio --wait 15 --no-nat-probe";
  const std::string a_out = dir + "/a.out", a_err = dir + "/a.err", b_out = dir + "/b.out", b_err = dir + "/b.err";
  BackgroundProcess listener({"ip", "netns", "exec", lab.netns("b"), "sh", "-c",
                              natpunch_binary() + " listen --accept-any" + common + " <" + b_in + " >" + b_out +
                                  " 2>" + b_err});
  std::string identity;
  for (int i = 0; i < 100 && identity.size() != 64; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    identity = event_of(file_text(b_err), "identity").value("identity", "");
  }
  ASSERT_EQ(identity.size(), 64u) << file_text(b_err);
  const auto started = std::chrono::steady_clock::now();
  BackgroundProcess connector({"ip", "netns", "exec", lab.netns("a"), "sh", "-c",
                               natpunch_binary() + " connect --peer " + identity + common +
                                   " --rendezvous-tls-ca " + pki->ca + " <" + a_in + " >" + a_out + " 2>" + a_err});
  // When a's report says it registered (polled every 10 ms: the whole run
  // may take only a few hundred ms more).
  const std::string registered_line = "registered at 203.0.113.10:7000 over tls";
  std::optional<std::chrono::steady_clock::duration> registered;
  for (int i = 0; i < 1800 && (listener.running() || connector.running()); ++i) {
    if (!registered && file_text(a_err).find(registered_line) != std::string::npos)
      registered = std::chrono::steady_clock::now() - started;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  connector.stop();
  listener.stop();
  const std::string a_report = file_text(a_err), b_report = file_text(b_err);
  const auto a = event_of(a_report, "result"), b = event_of(b_report, "result");
  ASSERT_NE(a_report.find(registered_line), std::string::npos) << a_report;
  EXPECT_NE(a_report.find("no answer over UDP"), std::string::npos) << a_report;
  EXPECT_EQ(a.value("rendezvous_transport", ""), "tls") << a_report;
  EXPECT_EQ(b.value("rendezvous_transport", ""), "udp") << b_report;
  EXPECT_EQ(a.value("route", ""), "relay") << a_report;
  EXPECT_EQ(b.value("route", ""), "relay") << b_report;
  EXPECT_EQ(a.value("observed", "").rfind("203.0.113.101:", 0), 0u) << "a's NAT address, over TCP: " << a_report;
  // End to end, both ways, byte for byte.
  EXPECT_EQ(file_text(b_out), file_text(a_in)) << "a -> b over TLS then UDP: " << a_report << b_report;
  EXPECT_EQ(file_text(a_out), file_text(b_in)) << "b -> a over UDP then TLS";
  if (registered)
    std::cout << "udpblock client registered over TLS "
              << std::chrono::duration_cast<std::chrono::milliseconds>(*registered).count()
              << " ms after starting (2 s of it: silent UDP); whole run " << a.value("elapsed_ms", 0.0) << " ms"
              << std::endl;
}

}  // namespace
}  // namespace natpunch::lab

// `natpunch listen` / `natpunch connect` as real processes on loopback with
// a real `natpunch rendezvous`: a direct route with an authenticated test
// datagram both ways, the relay route when punching cannot work, usage
// errors, keygen. Plus io::PunchDriver on its own: two strategies punching
// each other over real loopback sockets, and a stop request.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <natpunch/session.hpp>

#include "../support/child_process.hpp"
#include "background_listen.hpp"
#include "cli_processes.hpp"
#include "../support/run_command.hpp"
#include "io/os_random.hpp"
#include "io/punch_driver.hpp"
#include "punch/strategies.hpp"

namespace {

using namespace natpunch;
using namespace std::chrono_literals;

using natpunch::cli_test::listen_in_background;
using natpunch::cli_test::Process;
using natpunch::cli_test::read_event;
using natpunch::cli_test::Rendezvous;

struct PeerRun {
  int exit_code = -1;
  nlohmann::json result;
  std::vector<nlohmann::json> routes;  // the "route" events before the result, in order
};

// The route events, then the result event (other lines skipped).
void read_run(Process& p, PeerRun& run, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto j = p.read_json(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
    if (!j) return;
    if ((*j).value("event", "") == "route") run.routes.push_back(*j);
    if ((*j).value("event", "") == "result") {
      run.result = *j;
      return;
    }
  }
}

// Starts a listener with `listen_extra`, then a connector with
// `connect_extra`, both with --json; returns both results.
std::pair<PeerRun, PeerRun> run_pair(const std::string& rendezvous, std::vector<std::string> listen_extra,
                                     std::vector<std::string> connect_extra) {
  std::vector<std::string> listen_args{"listen", "--rendezvous", rendezvous, "--accept-any", "--json", "--wait", "10"};
  listen_args.insert(listen_args.end(), listen_extra.begin(), listen_extra.end());
  Process listener(listen_args);
  auto identity = listener.read_json(5000ms);
  if (!identity || (*identity)["event"] != "identity") return {};
  std::vector<std::string> connect_args{"connect", "--rendezvous", rendezvous, "--peer",
                                        (*identity)["identity"].get<std::string>(), "--json", "--wait", "10"};
  connect_args.insert(connect_args.end(), connect_extra.begin(), connect_extra.end());
  Process connector(connect_args);
  PeerRun l, c;
  auto c_identity = connector.read_json(5000ms);
  read_run(connector, c, 15000ms);
  read_run(listener, l, 15000ms);
  c.exit_code = connector.wait(5000ms);
  l.exit_code = listener.wait(5000ms);
  if (c_identity) c.result["own_identity_line"] = (*c_identity)["identity"];
  return {l, c};
}

// By default (issue 19 item 3: data from the first round trip) the session
// opens over the relay the moment the rendezvous pairs the peers, and moves
// to the direct path once the hole punch connects: the route events say
// so, in that order, and the result gives the route the punch settled on.
TEST(ConnectCli, LoopbackPeersOpenOnTheRelayAtThePairingThenPunchDirectly) {
  Rendezvous server;
  ASSERT_TRUE(server.ready());
  auto [l, c] = run_pair(server.address, {}, {});
  ASSERT_EQ(l.exit_code, 0) << l.result.dump();
  ASSERT_EQ(c.exit_code, 0) << c.result.dump();
  for (const auto* r : {&l, &c}) {
    const auto& j = r->result;
    EXPECT_EQ(j["event"], "result");
    EXPECT_EQ(j["route"], "direct") << j.dump();
    EXPECT_EQ(j["first_route"], "relay") << "usable at the pairing, before any punch connected: " << j.dump();
    EXPECT_EQ(j["upgrading"], false) << j.dump();
    EXPECT_EQ(j["strategy"], "hole-punch") << "unknown NATs start with a plain hole punch";
    EXPECT_EQ(j["test_datagram"], true);
    EXPECT_GE(j["time_to_connect_ms"].get<double>(), 0.0);
    EXPECT_LT(j["time_to_connect_ms"].get<double>(), 1000.0) << "loopback connects within a few probes";
    EXPECT_GE(j["probes_sent"].get<int>(), 1) << "the punch's probes are counted once it ended: " << j.dump();
    // First byte at the pairing (nothing waited for), direct after it.
    EXPECT_GE(j["time_to_first_byte_ms"].get<double>(), 0.0) << j.dump();
    EXPECT_LT(j["time_to_first_byte_ms"].get<double>(), 100.0) << j.dump();
    ASSERT_TRUE(j.contains("time_to_direct_ms")) << j.dump();
    EXPECT_GE(j["time_to_direct_ms"].get<double>(), j["time_to_first_byte_ms"].get<double>()) << j.dump();
    EXPECT_LT(j["time_to_direct_ms"].get<double>(), 1000.0) << j.dump();
    EXPECT_EQ(j["session"]["time_to_direct_ms"], j["time_to_direct_ms"]);
    // The route events: opened on the relay, then direct (to the peer
    // endpoint the result names).
    ASSERT_GE(r->routes.size(), 2u) << j.dump();
    EXPECT_EQ(r->routes.front()["why"], "opened");
    EXPECT_EQ(r->routes.front()["route"], "relay");
    EXPECT_EQ(r->routes.front()["upgrading"], true);
    EXPECT_EQ(r->routes[1]["route"], "direct") << r->routes[1].dump();
    EXPECT_EQ(r->routes[1]["peer_endpoint"], j["peer_endpoint"]);
    EXPECT_EQ(r->routes[1]["time_to_direct_ms"], j["time_to_direct_ms"]);
  }
  EXPECT_EQ(l.result["session_id"], c.result["session_id"]);
  // 64-bit ids lose digits in JavaScript's JSON numbers: also as text.
  EXPECT_EQ(l.result["session_id_text"], std::to_string(l.result["session_id"].get<std::uint64_t>()));
  EXPECT_EQ(l.result["received"], "natpunch test from connect");
  EXPECT_EQ(c.result["received"], "natpunch test from listen");
  // Each side's direct peer is the endpoint the rendezvous saw for the other.
  EXPECT_EQ(c.result["peer_endpoint"], l.result["observed"]);
  EXPECT_EQ(l.result["peer_endpoint"], c.result["observed"]);
  EXPECT_EQ(c.result["peer"], l.result["identity"]);
  EXPECT_EQ(l.result["peer"], c.result["own_identity_line"]);
}

// The opt-out: --wait-direct opens the session only when the punch ended,
// so the first route is the direct one and data flowed from then (the old
// behaviour). The old --open-early opt-in is still accepted and is the
// default.
TEST(ConnectCli, WaitDirectOpensOnlyWhenThePunchConnected) {
  Rendezvous server;
  ASSERT_TRUE(server.ready());
  auto [l, c] = run_pair(server.address, {"--wait-direct"}, {"--open-early"});
  ASSERT_EQ(l.exit_code, 0) << l.result.dump();
  ASSERT_EQ(c.exit_code, 0) << c.result.dump();
  const auto& waited = l.result;
  EXPECT_EQ(waited["route"], "direct") << waited.dump();
  EXPECT_EQ(waited["first_route"], "direct") << waited.dump();
  ASSERT_TRUE(waited.contains("time_to_direct_ms")) << waited.dump();
  EXPECT_LE(waited["time_to_direct_ms"].get<double>(), waited["time_to_first_byte_ms"].get<double>())
      << "data only once direct: " << waited.dump();
  ASSERT_EQ(l.routes.size(), 1u) << "no route change to report";
  EXPECT_EQ(l.routes.front()["route"], "direct");
  const auto& early = c.result;
  EXPECT_EQ(early["first_route"], "relay") << early.dump();
  EXPECT_EQ(early["route"], "direct") << early.dump();
  for (const auto* r : {&l.result, &c.result}) EXPECT_EQ((*r)["test_datagram"], true) << r->dump();
  auto both = test_support::run_command(std::string(NATPUNCH_BINARY) + " connect --rendezvous 127.0.0.1:9 --peer " +
                                        std::string(64, '0') + " --wait 1 --wait-direct --open-early 2>&1");
  EXPECT_EQ(both.exit_code, 2) << "one or the other: " << both.output;
  EXPECT_NE(both.output.find("--wait-direct"), std::string::npos) << both.output;
}

// Issue 22, item 2: one side's --force-relay left the other punching for
// minutes (the probe budget at 2.98 ms a probe). The flag now travels in
// the rendezvous NatInfo and both sides go to the relay at once.
class OneSideForcesRelay : public testing::TestWithParam<bool> {};

TEST_P(OneSideForcesRelay, BothSidesUseTheRelayAtOnce) {
  const bool listener_forces = GetParam();
  Rendezvous server;
  ASSERT_TRUE(server.ready());
  const std::vector<std::string> force{"--force-relay"}, plain{"--mapping", "endpoint-independent"};
  const auto started = std::chrono::steady_clock::now();
  auto [l, c] = run_pair(server.address, listener_forces ? force : plain, listener_forces ? plain : force);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(l.exit_code, 0) << l.result.dump();
  ASSERT_EQ(c.exit_code, 0) << c.result.dump();
  const auto& forcing = listener_forces ? l : c;
  const auto& other = listener_forces ? c : l;
  for (const auto* r : {&l.result, &c.result}) {
    EXPECT_EQ((*r)["route"], "relay") << r->dump();
    EXPECT_EQ((*r)["probes_sent"], 0) << "nobody punched: " << r->dump();
    EXPECT_LT((*r)["time_to_connect_ms"].get<double>(), 1000.0) << r->dump();
    EXPECT_LT((*r)["time_to_first_byte_ms"].get<double>(), 1000.0) << r->dump();
    EXPECT_FALSE((*r)["session"].contains("time_to_direct_ms")) << "never direct: " << r->dump();
    EXPECT_EQ((*r)["test_datagram"], true);
  }
  EXPECT_EQ(forcing.result["stop_reason"], "forced relay");
  EXPECT_EQ(other.result["stop_reason"], "the peer forced relay");
  EXPECT_EQ(l.result["received"], "natpunch test from connect");
  EXPECT_EQ(c.result["received"], "natpunch test from listen");
  EXPECT_LT(took, 10s) << "no punching to wait for";
}

INSTANTIATE_TEST_SUITE_P(Sides, OneSideForcesRelay, testing::Values(true, false),
                         [](const testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "Listener" : "Connector");
                         });

TEST(ConnectCli, StdioPipesBothWaysOverTheDirectRoute) {
  Rendezvous server;
  ASSERT_TRUE(server.ready());
  const auto dir = std::filesystem::temp_directory_path() / ("natpunch-connect-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto key = (dir / "listener.key").string();
  auto keygen = test_support::run_command(std::string(NATPUNCH_BINARY) + " keygen --identity " + key);
  ASSERT_EQ(keygen.exit_code, 0);
  const std::string pubkey = keygen.output.substr(0, keygen.output.find('\n'));
  ASSERT_EQ(pubkey.size(), 64u);
  const std::string bin = NATPUNCH_BINARY;
  const std::string common = " --rendezvous " + server.address + " --wait 10 --stdio";
  auto listener = std::async(std::launch::async, [&] {
    return test_support::run_command("echo from-listener | " + bin + " listen --identity " + key + " --accept-any" +
                                     common + " 2>" + (dir / "l.err").string());
  });
  std::this_thread::sleep_for(300ms);
  auto c = test_support::run_command("echo from-connector | " + bin + " connect --peer " + pubkey + common + " 2>" +
                                     (dir / "c.err").string());
  auto l = listener.get();
  const auto slurp = [](const std::filesystem::path& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string c_err = slurp(dir / "c.err"), l_err = slurp(dir / "l.err");
  EXPECT_EQ(c.exit_code, 0) << c_err;
  EXPECT_EQ(l.exit_code, 0) << l_err;
  // stdout carries only the peer's data; the report goes to stderr.
  EXPECT_EQ(c.output, "from-listener\n");
  EXPECT_EQ(l.output, "from-connector\n");
  EXPECT_NE(c_err.find("route: direct"), std::string::npos) << c_err;
  EXPECT_NE(l_err.find("identity: " + pubkey), std::string::npos) << "the key file's identity is used: " << l_err;
  std::filesystem::remove_all(dir);
}

TEST(ConnectCli, CtrlCWhilePunchingExits130WithTheProbeCount) {
  // The listener is frozen once the session exists (the 1.5 s start delay
  // leaves time for that), so the connector punches at a silent peer. Its
  // stated symmetric mapping calls for a stage that waits for the common
  // start (one hard side): an easy pair's hole punch begins at the pairing
  // and, on a loaded machine, was direct before the listener froze.
  Rendezvous server({"--start-delay-ms", "1500"});
  ASSERT_TRUE(server.ready());
  Process listener({"listen", "--rendezvous", server.address, "--accept-any", "--json", "--wait", "10",
                    "--test-timeout-ms", "2000"});
  auto identity = listener.read_json(5000ms);
  ASSERT_TRUE(identity);
  Process connector({"connect", "--rendezvous", server.address, "--peer", (*identity)["identity"].get<std::string>(),
                     "--json", "--wait", "10", "--mapping", "address-and-port-dependent"});
  ASSERT_TRUE(read_event(connector, "identity", 5000ms));
  // Punching starts 1.5 s (the server's --start-delay-ms) after the
  // session exists; a second into it hundreds of probes are out on an
  // idle machine. Timed from the session, not from process start.
  ASSERT_TRUE(read_event(server.process, "session-created", 10000ms));
  kill(listener.pid(), SIGSTOP);
  std::this_thread::sleep_for(2500ms);
  connector.interrupt();
  const auto before = std::chrono::steady_clock::now();
  auto result = read_event(connector, "result", 5000ms);
  EXPECT_EQ(connector.wait(5000ms), 130);
  EXPECT_LT(std::chrono::steady_clock::now() - before, 3000ms) << "Ctrl-C is honoured at once, not after the budget";
  ASSERT_TRUE(result);
  EXPECT_EQ((*result)["interrupted"], true);
  EXPECT_GT((*result)["probes_sent"].get<int>(), 10) << "the connector was punching";
  kill(listener.pid(), SIGKILL);
}

TEST(ConnectCli, UsageErrorsExitTwo) {
  const std::string bin = NATPUNCH_BINARY;
  struct Case {
    const char* args;
  } cases[] = {
      {" connect --rendezvous 127.0.0.1:9 --peer nothex"},
      {" connect --rendezvous 127.0.0.1:9"},
      {" listen --rendezvous 127.0.0.1:9"},  // neither --accept-any nor --allow
      {" listen --rendezvous 127.0.0.1:9 --allow 1234"},
      {" listen --rendezvous 127.0.0.1:9 --accept-any --mapping sometimes"},
      {" listen --rendezvous 127.0.0.1:9 --accept-any --server-key xyz"},
      {" listen --rendezvous 127.0.0.1:9 --accept-any --keepalive-reply-ms 0"},
      {" connect --rendezvous 127.0.0.1:9 --peer 0000000000000000000000000000000000000000000000000000000000000000 "
       "--keepalive-misses 0"},
      {" keygen"},
  };
  for (const auto& c : cases) {
    auto r = test_support::run_command(bin + c.args + " 2>/dev/null");
    EXPECT_EQ(r.exit_code, 2) << c.args;
  }
}

TEST(ConnectCli, NoRendezvousServerExitsOne) {
  // A port nothing listens on: registration times out (--wait caps it).
  auto r = test_support::run_command(std::string(NATPUNCH_BINARY) +
                                     " listen --rendezvous 127.0.0.1:9 --accept-any --wait 1 2>/dev/null");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("identity: "), std::string::npos);
}

TEST(ConnectCli, MeasureReportsRttAndThroughputOverTheDirectRoute) {
  Rendezvous server;
  ASSERT_TRUE(server.ready());
  auto [l, c] = run_pair(server.address, {"--measure", "2"}, {"--measure", "2", "--measure-mbit", "50"});
  ASSERT_EQ(c.exit_code, 0) << c.result.dump();
  ASSERT_EQ(l.exit_code, 0) << l.result.dump();
  EXPECT_EQ(c.result["route"], "direct");
  // Measured on the route the punch settled on, not the relay it opened on.
  EXPECT_GT(c.result["session"]["sent_direct"].get<int>(), 1000) << c.result.dump();
  EXPECT_LE(c.result["session"]["sent_relay"].get<int>(), 4) << "at most the test frames before the punch: " << c.result.dump();
  EXPECT_EQ(c.result["measured"], true);
  EXPECT_EQ(l.result["measured"], true) << "the listener served";
  const auto& m = c.result["measure"];
  EXPECT_GT(m["pongs"].get<int>(), 10) << m.dump();
  EXPECT_GT(m["rtt_min_ms"].get<double>(), 0.0);
  EXPECT_LE(m["rtt_min_ms"].get<double>(), m["rtt_median_ms"].get<double>());
  EXPECT_LE(m["rtt_median_ms"].get<double>(), m["rtt_p99_ms"].get<double>());
  EXPECT_LT(m["rtt_median_ms"].get<double>(), 50.0) << "loopback";
  EXPECT_EQ(m["report"], true);
  EXPECT_GT(m["bulk_sent"].get<int>(), 1000) << "~1.5 s at 50 Mbit/s of 1160-byte datagrams";
  EXPECT_GT(m["throughput_mbit_s"].get<double>(), 10.0) << m.dump();
  EXPECT_LT(m["throughput_mbit_s"].get<double>(), 80.0) << "paced at 50";
  EXPECT_LT(m["loss_percent"].get<double>(), 20.0);
}

// Issue 22, item 5: a plain listener took a measuring caller's ping for its
// test datagram ("ok, received \"        _n...\"", exit 0) while the caller
// got 0 of 4 pings answered. Now each side hears the other's mode and both
// refuse, saying why; either way round.
TEST(ConnectCli, MeasureOnOneSideOnlyIsRefusedClearlyOnBoth) {
  Rendezvous server;
  ASSERT_TRUE(server.ready());
  auto caller_measures = std::async(std::launch::async, [&] { return run_pair(server.address, {}, {"--measure", "2"}); });
  auto listener_measures = std::async(std::launch::async, [&] { return run_pair(server.address, {"--measure", "2"}, {}); });
  for (auto* pair : {&caller_measures, &listener_measures}) {
    const bool caller = pair == &caller_measures;
    auto [l, c] = pair->get();
    SCOPED_TRACE(caller ? "connect --measure, listen without" : "listen --measure, connect without");
    EXPECT_EQ(l.exit_code, 1) << l.result.dump();
    EXPECT_EQ(c.exit_code, 1) << c.result.dump();
    const auto& measuring = caller ? c : l;
    const auto& plain = caller ? l : c;
    ASSERT_TRUE(measuring.result.contains("error")) << measuring.result.dump();
    ASSERT_TRUE(plain.result.contains("error")) << plain.result.dump();
    EXPECT_NE(measuring.result["error"].get<std::string>().find("does not run --measure"), std::string::npos);
    EXPECT_NE(plain.result["error"].get<std::string>().find("the peer runs --measure"), std::string::npos);
    EXPECT_EQ(measuring.result["measured"], false);
    EXPECT_EQ(plain.result["test_datagram"], false) << "nothing taken for a test datagram";
    EXPECT_FALSE(plain.result.contains("received")) << plain.result.dump();
    if (caller) {
      EXPECT_EQ(c.result["measure"]["peer_not_measuring"], true);
    }
  }
}

// The last {"event":"result"} line of a file (a --stdio peer's stderr).
nlohmann::json last_result(const std::filesystem::path& path) {
  std::ifstream in(path);
  nlohmann::json result;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.value("event", "") == "result") result = j;
  }
  return result;
}

// A shell prefix that waits (at most 20 s) until a peer's stderr says its
// punch connected: a --stdio script's pauses then count from the session,
// not from process start (on a busy machine registration and punching can
// take seconds of a pause).
std::string once_connected(const std::filesystem::path& err) {
  return "i=0; until grep -q 'connected to' " + err.string() +
         " 2>/dev/null || [ $i -ge 400 ]; do sleep 0.05; i=$((i+1)); done; ";
}

TEST(ConnectCli, IdleStdioSessionSendsKeepalivesTimedFromTheIdleTimeout) {
  Rendezvous server;
  ASSERT_TRUE(server.ready());
  // Idle timeout 2 s (both sides say so): a keepalive every second while
  // the connector's input pauses for 3.5 s.
  const std::string bin = NATPUNCH_BINARY;
  const auto dir = std::filesystem::temp_directory_path() / ("natpunch-keepalive-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string common = " --rendezvous " + server.address + " --wait 10 --stdio --json --idle-timeout-ms 2000";
  const std::string key = (dir / "l.key").string();
  auto keygen = test_support::run_command(bin + " keygen --identity " + key);
  ASSERT_EQ(keygen.exit_code, 0);
  const std::string pubkey = keygen.output.substr(0, keygen.output.find('\n'));
  auto l = std::async(std::launch::async, [&] {
    return test_support::run_command("(echo l; " + once_connected(dir / "l.err") + "sleep 5) | " + bin +
                                     " listen --identity " + key + " --accept-any" + common + " 2>" +
                                     (dir / "l.err").string());
  });
  std::this_thread::sleep_for(300ms);
  auto c = test_support::run_command("(" + once_connected(dir / "c.err") + "echo one; sleep 3.5; echo two) | " + bin +
                                     " connect --peer " + pubkey + common + " 2>" + (dir / "c.err").string());
  auto lr = l.get();
  const auto cj = last_result(dir / "c.err"), lj = last_result(dir / "l.err");
  EXPECT_EQ(c.exit_code, 0) << cj.dump();
  EXPECT_EQ(lr.output, "one\ntwo\n");
  EXPECT_EQ(c.output, "l\n");
  ASSERT_TRUE(cj.contains("session")) << cj.dump();
  EXPECT_EQ(cj["session"]["keepalive_interval_ms"], 1000);
  EXPECT_GE(cj["session"]["keepalives_sent"].get<int>(), 2) << cj.dump();
  EXPECT_GE(cj["session"]["keepalive_replies"].get<int>(), 2) << cj.dump();
  EXPECT_TRUE(cj["session"].contains("rtt_ms"));
  EXPECT_EQ(cj["session"]["route"], "direct");
  EXPECT_EQ(cj["session"]["path_deaths"], 0);
  EXPECT_EQ(lj["session"]["received_direct"].get<int>(), lj["session"]["datagrams_received"].get<int>());
  std::filesystem::remove_all(dir);
}

// --- the library API (natpunch/session.hpp) without the CLI

// How fast a dead direct path is noticed is the keepalive reply timeout x
// the misses in a row (--keepalive-reply-ms, --keepalive-misses). The
// listener is frozen (SIGSTOP) for 3 s of an idle session whose keepalives
// go every second: 200 ms x 1 declares the path dead; the defaults (2 s x 3)
// see the listener answer again before that.
struct DeathCase {
  const char* name;
  const char* options;
  bool dies;
};

class KeepaliveDeath : public testing::TestWithParam<DeathCase> {};

TEST_P(KeepaliveDeath, AFrozenPeerIsDeclaredDeadOnlyAsFastAsConfigured) {
  const auto& param = GetParam();
  Rendezvous server;
  ASSERT_TRUE(server.ready());
  const std::string bin = NATPUNCH_BINARY;
  const auto dir = std::filesystem::temp_directory_path() /
                   ("natpunch-death-test-" + std::string(param.name) + "-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string common = " --rendezvous " + server.address + " --wait 10 --stdio --json --idle-timeout-ms 2000 " +
                             param.options;
  const std::string key = (dir / "l.key").string();
  auto keygen = test_support::run_command(bin + " keygen --identity " + key);
  ASSERT_EQ(keygen.exit_code, 0);
  const std::string pubkey = keygen.output.substr(0, keygen.output.find('\n'));
  // exec: the child's pid is the listener's own, so it can be frozen.
  test_support::ChildProcess listener("/bin/bash", {"-c", "exec " + bin + " listen --identity " + key +
                                                              " --accept-any" + common + " 2>" +
                                                              (dir / "l.err").string() + " < <(echo l; " +
                                                              once_connected(dir / "l.err") + "sleep 7)"});
  ASSERT_TRUE(read_event(server.process, "registered", 5000ms)) << "the listener registered";
  auto c = std::async(std::launch::async, [&] {
    return test_support::run_command("(" + once_connected(dir / "c.err") + "echo one; sleep 5.5; echo two) | " + bin +
                                     " connect --peer " + pubkey + common + " 2>" + (dir / "c.err").string());
  });
  // Punched (the connector says so) and idle for a moment: the freeze hits
  // an established direct path, however long setting it up took.
  for (int i = 0; i < 400 && test_support::run_command("grep -q 'connected to' " + (dir / "c.err").string()).exit_code != 0;
       ++i)
    std::this_thread::sleep_for(50ms);
  std::this_thread::sleep_for(500ms);
  kill(listener.pid(), SIGSTOP);
  std::this_thread::sleep_for(3000ms);
  kill(listener.pid(), SIGCONT);
  auto cr = c.get();
  std::string heard;
  while (auto line = listener.read_line(5000ms)) heard += *line + "\n";
  const auto cj = last_result(dir / "c.err");
  EXPECT_EQ(cr.exit_code, 0) << cj.dump();
  ASSERT_TRUE(cj.contains("session")) << cj.dump();
  EXPECT_EQ(cj["session"]["keepalive_interval_ms"], 1000);
  if (param.dies)
    EXPECT_GE(cj["session"]["path_deaths"].get<int>(), 1) << cj.dump();
  else
    EXPECT_EQ(cj["session"]["path_deaths"], 0) << cj.dump();
  EXPECT_NE(heard.find("two"), std::string::npos) << "the session outlived the freeze: " << heard;
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Cases, KeepaliveDeath,
                         testing::Values(DeathCase{"Fast", "--keepalive-reply-ms 200 --keepalive-misses 1", true},
                                         DeathCase{"Default", "", false}),
                         [](const testing::TestParamInfo<DeathCase>& info) { return std::string(info.param.name); });

// Both peers' stats once their first punch ended (at most `bound`).
bool wait_settled(natpunch::Session& a, natpunch::Session& b, std::chrono::milliseconds bound) {
  const auto until = std::chrono::steady_clock::now() + bound;
  while (a.stats().upgrading || b.stats().upgrading) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// 20 pings from a, each echoed by b: every one arrives exactly once.
void ping_pong(natpunch::Session& a, natpunch::Session& b) {
  for (int i = 0; i < 20; ++i) {
    const std::vector<std::uint8_t> ping{static_cast<std::uint8_t>(i), 1, 2, 3};
    ASSERT_TRUE(a.send(ping)) << i;
    auto got = b.receive(1000ms);
    ASSERT_TRUE(got) << i;
    EXPECT_EQ(*got, ping);
    ASSERT_TRUE(b.send(*got));
    auto back = a.receive(1000ms);
    ASSERT_TRUE(back) << i;
    EXPECT_EQ(*back, ping);
  }
}

// A listener (in the background) and a caller in this process, with
// `options`; the caller's progress goes to `caller_progress`.
struct InProcessPair {
  std::string key;  // the listener's
  std::unique_ptr<natpunch::Session> caller, listener;
  std::string error;
};
InProcessPair open_in_process(natpunch::SessionOptions options,
                              std::function<void(const natpunch::SessionProgress&)> caller_progress = {}) {
  // The caller asks for the listener by key: only once the listener is registered.
  auto [key, listening] = listen_in_background(options);
  options.on_progress = std::move(caller_progress);
  auto connected = natpunch::connect(options, key);
  auto listened = listening.get();
  InProcessPair p{key, nullptr, nullptr, {}};
  if (!connected) p.error = "connect: " + connected.error().message;
  if (!listened) p.error += " listen: " + listened.error().message;
  if (p.error.empty()) {
    p.caller = std::move(connected.value());
    p.listener = std::move(listened.value());
  }
  return p;
}

// The library's default (issue 19 item 3): connect()/listen() return at the
// pairing on the relay, data flows at once, and the session moves to the
// direct path the moment the hole punch connects -- nothing lost or
// delivered twice across the move.
TEST(SessionApi, ListenAndConnectInProcessAreUsableAtThePairingThenDirect) {
  Rendezvous server;
  ASSERT_TRUE(server.ready());
  natpunch::SessionOptions options;
  options.rendezvous = server.address;
  options.wait = std::chrono::seconds(10);
  EXPECT_TRUE(options.open_early) << "the default";
  std::vector<natpunch::SessionProgress::Kind> kinds;
  auto pair = open_in_process(options, [&](const natpunch::SessionProgress& p) { kinds.push_back(p.kind); });
  ASSERT_TRUE(pair.error.empty()) << pair.error;
  const std::string key = pair.key;
  auto& a = *pair.caller;
  auto& b = *pair.listener;
  EXPECT_EQ(a.info().session_id, b.info().session_id);
  EXPECT_EQ(a.info().peer, key);
  EXPECT_EQ(a.info().strategy, "hole-punch") << "the stage that was starting";
  EXPECT_LT(a.info().time_to_first_byte, 100ms) << "usable at the pairing";
  ASSERT_GE(kinds.size(), 4u);
  EXPECT_EQ(kinds.front(), natpunch::SessionProgress::Kind::kIdentity);
  ping_pong(a, b);
  ASSERT_TRUE(wait_settled(a, b, 5000ms)) << "loopback punches within a few probes";
  for (auto* s : {&a, &b}) {
    const auto st = s->stats();
    EXPECT_EQ(st.route, natpunch::SessionRoute::kDirect);
    EXPECT_EQ(st.strategy, "hole-punch");
    EXPECT_TRUE(st.stop_reason.empty()) << st.stop_reason;
    EXPECT_GE(st.probes_sent, 1u);
    ASSERT_TRUE(st.time_to_direct);
    ASSERT_TRUE(st.time_to_connect);
    EXPECT_GE(*st.time_to_direct, s->info().time_to_first_byte) << "opened on the relay, then direct";
  }
  ping_pong(a, b);
  EXPECT_FALSE(a.send(std::vector<std::uint8_t>(natpunch::kMaxSessionPayload + 1))) << "too long";
  EXPECT_FALSE(b.receive(50ms)) << "nothing more";
  const auto stats = a.stats();
  EXPECT_EQ(stats.datagrams_sent, 40u);
  EXPECT_EQ(stats.datagrams_received, 40u);
  EXPECT_EQ(stats.sent_direct + stats.sent_relay, 40u) << "each datagram went one way";
  EXPECT_GE(stats.sent_direct, 20u) << "the second round went direct";
  EXPECT_EQ(stats.bytes_sent, 160u);
  EXPECT_EQ(stats.sent_lost + stats.received_lost + stats.duplicates_dropped, 0u);
  a.close();
  EXPECT_FALSE(a.send(std::vector<std::uint8_t>{1})) << "closed";
  for (int i = 0; i < 40 && !b.stats().peer_closed; ++i) std::this_thread::sleep_for(25ms);
  EXPECT_TRUE(b.stats().peer_closed) << "the close reached the peer";
}

// The opt-out: open_early = false returns only once the punch connected,
// on the direct path, and everything goes direct.
TEST(SessionApi, WithoutOpenEarlyConnectReturnsOnTheDirectPath) {
  Rendezvous server;
  ASSERT_TRUE(server.ready());
  natpunch::SessionOptions options;
  options.rendezvous = server.address;
  options.wait = std::chrono::seconds(10);
  options.open_early = false;
  auto pair = open_in_process(options);
  ASSERT_TRUE(pair.error.empty()) << pair.error;
  auto& a = *pair.caller;
  auto& b = *pair.listener;
  for (auto* s : {&a, &b}) {
    const auto st = s->stats();
    EXPECT_EQ(st.route, natpunch::SessionRoute::kDirect);
    EXPECT_FALSE(st.upgrading);
    ASSERT_TRUE(st.time_to_direct);
    EXPECT_LE(*st.time_to_direct, s->info().time_to_first_byte) << "data only once direct";
  }
  EXPECT_EQ(a.info().strategy, "hole-punch");
  ping_pong(a, b);
  const auto stats = a.stats();
  EXPECT_EQ(stats.sent_direct, 20u);
  EXPECT_EQ(stats.sent_relay, 0u);
  EXPECT_EQ(stats.sent_lost + stats.received_lost + stats.duplicates_dropped, 0u);
}

// A carrier profile in the NatDescription reaches the peer with its
// allocator and behaviour: two "KPN" peers (symmetric NAT, 256-port blocks)
// plan the improved attack instead of the hole punch two unknown NATs get.
// (Loopback has no block allocator to predict, so the attack is cut short
// and the session goes to the relay.)
TEST(SessionApi, ACarrierProfileTellsThePeerOurAllocator) {
  Rendezvous server;
  ASSERT_TRUE(server.ready());
  natpunch::SessionOptions options;
  options.rendezvous = server.address;
  options.wait = std::chrono::seconds(10);
  options.nat.carrier_profile = std::string(NATPUNCH_PROFILES_DIR) + "/kpn-nl.json";
  options.punch_timeout = std::chrono::milliseconds(1500);
  auto [key, listening] = listen_in_background(options);
  auto connected = natpunch::connect(options, key);
  auto listened = listening.get();
  ASSERT_TRUE(connected.ok()) << connected.error().message;
  ASSERT_TRUE(listened.ok()) << listened.error().message;
  EXPECT_EQ((*connected)->info().strategy, "improved");
  EXPECT_EQ((*listened)->info().strategy, "improved");

  natpunch::SessionOptions unknown = options;
  unknown.nat.carrier_profile = "no-such-carrier";
  auto bad = natpunch::connect(unknown, key);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, natpunch::ErrorKind::kBadInput);
  EXPECT_NE(bad.error().message.find("no-such-carrier"), std::string::npos) << bad.error().message;
}

TEST(SessionApi, BadInputIsReportedNotThrown) {
  natpunch::SessionOptions options;
  options.rendezvous = "127.0.0.1:9";
  auto r = natpunch::connect(options, "not-a-key");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, natpunch::ErrorKind::kBadInput);
  auto l = natpunch::listen(options, {"not-a-key"});
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().kind, natpunch::ErrorKind::kBadInput);
  options.wait = std::chrono::seconds(1);
  auto none = natpunch::listen(options, {});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().kind, natpunch::ErrorKind::kNoAnswer) << none.error().message;
}

// --- io::PunchDriver without the CLI

struct DriverSide {
  std::unique_ptr<io::UdpClient> socket;
  Endpoint endpoint;
};

DriverSide open_side() {
  auto s = io::UdpClient::open(Endpoint{IpAddress::v4({127, 0, 0, 1}), 0});
  DriverSide side{std::move(s.value()), {}};
  side.endpoint = side.socket->bound_endpoint();
  return side;
}

std::unique_ptr<punch::PunchStrategy> strategy_towards(punch::StrategyKind kind, const Endpoint& peer, Rng& rng,
                                                       TimePoint start, std::uint64_t probe_budget,
                                                       wire::SessionRole role = wire::SessionRole::Caller) {
  punch::SideKnowledge local, remote;
  local.mapping = remote.mapping = nat::MappingBehavior::EndpointIndependent;
  local.observed_port = 1;  // unused by these strategies
  remote.observed_port = peer.port;
  punch::StrategyParams params;
  params.peer_address = peer.address;
  params.session_id = 7;
  params.key.fill(3);
  params.role = role;
  params.probe_budget = probe_budget;
  params.send_interval = 2ms;
  params.linger = 200ms;
  params.many_sockets = 4;
  return punch::make_strategy(kind, local, remote, params, rng, start);
}

TEST(PunchDriver, TwoStrategiesConnectOverLoopbackSockets) {
  auto a = open_side();
  auto b = open_side();
  Rng rng_a(io::os_random_seed()), rng_b(io::os_random_seed());
  const auto start = Clock::now() + 20ms;
  auto sa = strategy_towards(punch::StrategyKind::HolePunch, b.endpoint, rng_a, start, 500);
  auto sb = strategy_towards(punch::StrategyKind::HolePunch, a.endpoint, rng_b, start, 500, wire::SessionRole::Callee);
  io::PunchDriver da(*a.socket, {}), db(*b.socket, {});
  auto fb = std::async(std::launch::async, [&] { return db.run(*sb, start); });
  auto ra = da.run(*sa, start);
  auto rb = fb.get();
  ASSERT_EQ(ra.result.outcome, punch::PunchOutcome::Connected);
  ASSERT_EQ(rb.result.outcome, punch::PunchOutcome::Connected);
  EXPECT_EQ(ra.result.peer, b.endpoint);
  EXPECT_EQ(rb.result.peer, a.endpoint);
  EXPECT_EQ(ra.result.socket, 0u);
  EXPECT_LT(ra.result.probes_sent, 100u);
  EXPECT_FALSE(ra.interrupted);
}

TEST(PunchDriver, ManySocketStrategyBindsExtraSocketsAndStopsAtItsBudget) {
  // One-hard-side from the hard side: probes leave from 4 sockets in turn
  // towards a peer that never answers, until the probe budget runs out.
  auto a = open_side();
  auto silent = open_side();
  Rng rng(1);
  punch::SideKnowledge hard, easy;
  hard.mapping = nat::MappingBehavior::AddressAndPortDependent;
  easy.mapping = nat::MappingBehavior::EndpointIndependent;
  easy.observed_port = silent.endpoint.port;
  punch::StrategyParams params;
  params.peer_address = silent.endpoint.address;
  params.probe_budget = 12;
  params.send_interval = 1ms;
  params.linger = 50ms;
  params.many_sockets = 4;
  const auto start = Clock::now();
  auto s = punch::make_strategy(punch::StrategyKind::OneHardSide, hard, easy, params, rng, start);
  ASSERT_EQ(s->socket_count(), 4u);
  std::uint64_t progress_calls = 0;
  io::PunchDriverOptions options;
  options.on_progress = [&](const io::PunchProgress&) { ++progress_calls; };
  options.progress_interval = 1ms;
  io::PunchDriver driver(*a.socket, options);
  auto run = driver.run(*s, start);
  EXPECT_EQ(run.result.outcome, punch::PunchOutcome::Stopped);
  EXPECT_EQ(run.result.stop_reason, punch::StopReason::ProbeBudget);
  EXPECT_EQ(run.result.probes_sent, 12u);
  EXPECT_EQ(driver.sockets_open(), 4u);
  EXPECT_GT(progress_calls, 0u);
  // The silent peer saw probes from 4 distinct source ports.
  std::set<std::uint16_t> sources;
  while (auto d = silent.socket->receive_until(Clock::now())) sources.insert(d->from.port);
  EXPECT_EQ(sources.size(), 4u);
}

TEST(PunchDriver, StopRequestEndsTheRunAtOnce) {
  auto a = open_side();
  auto silent = open_side();
  Rng rng(2);
  const auto start = Clock::now();
  auto s = strategy_towards(punch::StrategyKind::HolePunch, silent.endpoint, rng, start, 1'000'000);
  int polls = 0;
  io::PunchDriverOptions options;
  options.should_stop = [&] { return ++polls > 5; };
  io::PunchDriver driver(*a.socket, options);
  const auto before = Clock::now();
  auto run = driver.run(*s, start);
  EXPECT_TRUE(run.interrupted);
  EXPECT_EQ(run.result.outcome, punch::PunchOutcome::Running);
  EXPECT_LT(Clock::now() - before, 1s);
}

}  // namespace

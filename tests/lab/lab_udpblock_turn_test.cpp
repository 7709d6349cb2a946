// A peer whose network drops all UDP (lab kind udpblock: a corporate
// firewall) reaches a peer behind every other kind of network (issue 20
// item 5): it registers at the rendezvous over TLS (UDP gets no answer,
// TCP is refused: the rendezvous listens on UDP and TLS only), so it is
// relay-only, and both relay through the lab's coturn, it over TLS on 443.
// Random bytes cross both ways through `--stdio` and are compared byte for
// byte; the results say which TURN transport and which rendezvous transport
// each side used, and that the bytes went through TURN.
//
// The other side uses UDP where its network lets it (TURN over UDP, the
// rendezvous over UDP); a side that blocks UDP too (block, udpblock) falls
// back like the udpblock side and relays over TLS. Not a row: an IPv6-only
// side (v6fw, v6): the udpblock side and coturn's relay are IPv4, and a
// TURN relay carries one address family; the dual-stack row (prc+v6fw) is
// the IPv6 network that applies.
//
// Each row needs its own NAT kind on side b and a lab has one NAT per side,
// so each row is a lab of its own with its own coturn and rendezvous on the
// lab's server host; the rows run NATPUNCH_LAB_JOBS labs at a time (default:
// all of them; building a lab is mostly waiting for the kernel).
// NATPUNCH_LAB_ROWS=a,b runs only the rows whose name contains one of the
// words.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <natpunch/session.hpp>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../support/coturn.hpp"
#include "../support/scratch_dir.hpp"
#include "lab_harness.hpp"

namespace natpunch::lab {
namespace {

constexpr const char* kServer = "203.0.113.10";
constexpr const char* kTurnUdp = "TURN via 203.0.113.10:3478";
constexpr const char* kTurnTls = "TURN via 203.0.113.10:443";
// Small: the rows prove the path, not its throughput (the throttled row
// carries it at 50 packets/s).
constexpr std::size_t kPayloadBytes = 3000;

struct Row {
  std::string name;     // lab id suffix and row name
  std::string kind_b;   // lab.sh --b
  bool b_blocks_udp;    // b falls back too: rendezvous and TURN over TLS
};

std::vector<Row> rows() {
  return {
      {"none", "none", false},
      {"prc", "prc", false},
      {"sym", "sym", false},
      {"fc", "fc", false},
      {"rc", "rc", false},
      {"fw", "fw", false},
      {"kpn", "profile:kpn-nl", false},
      {"voda", "profile:vodafone-nl", false},
      {"lyca", "profile:lycamobile-nl", false},
      {"prc6", "prc+v6fw", false},
      {"ulim", "udplimit:50", false},
      {"blk", "block", true},
      {"ublk", "udpblock", true},
  };
}

struct Side {
  int exit_code = -1;
  std::string err;       // stderr: progress and JSON events
  bool intact = false;   // what it received is the peer's file
  nlohmann::json result; // its result event (null: none)
};

struct RowRun {
  std::string problem;  // the lab or a server did not come up
  Side a, b;            // a (udpblock) connects, b listens
  double seconds = 0;
};

std::string shell_quote(const std::string& s) { return "'" + s + "'"; }

// The side's `natpunch` command with --stdio, fed its file once its TURN
// route carries traffic (it says so on stderr), so the bytes go through
// TURN rather than the rendezvous relay before it. Writes NAME.out,
// NAME.err and NAME.code in `dir`.
std::string side_command(const Lab& lab, const std::string& dir, const std::string& name, const std::string& command) {
  const std::string base = dir + "/" + name;
  const std::string feed = "i=0; until grep -q \"carries the relayed traffic\" " + base +
                           ".err 2>/dev/null || [ $i -ge 300 ]; do sleep 0.05; i=$((i+1)); done; cat " + base + ".bin";
  return "ip netns exec " + lab.netns(name) + " sh -c " +
         shell_quote("(" + feed + ") | " + natpunch_binary() + " " + command + " >" + base + ".out 2>" + base +
                     ".err; echo $? >" + base + ".code");
}

std::string wait_for_text(const std::string& path, const std::string& text, int tries) {
  std::string content;
  for (int i = 0; i < tries && (content = file_text(path)).find(text) == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return content;
}

Side collect(const std::string& dir, const std::string& name, const std::string& peer) {
  Side s;
  const std::string base = dir + "/" + name;
  const std::string code = file_text(base + ".code");
  s.exit_code = code.empty() ? -1 : std::atoi(code.c_str());
  s.err = file_text(base + ".err");
  s.intact = file_text(base + ".out") == file_text(dir + "/" + peer + ".bin");
  const auto results = json_events(s.err, "result");
  if (!results.empty()) s.result = results.back();
  return s;
}

RowRun run_row(const Row& row) {
  const auto started = std::chrono::steady_clock::now();
  RowRun out;
  const auto finish = [&] {
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return out;
  };
  Lab lab("tub" + row.name, "--a udpblock --b " + row.kind_b);
  if (!lab.up()) {
    out.problem = "lab.sh up failed";
    return finish();
  }
  const test_support::ScratchDir scratch("natpunch_lab_" + lab.id());
  const std::string dir = scratch.path();

  test_support::CoturnSettings settings;
  settings.dir = dir;
  settings.address = kServer;
  settings.port = 3478;
  settings.tls_port = 443;
  settings.secret = test_support::random_secret();
  settings.allowed_peers = kServer;  // the peers' relayed addresses are the server's own
  std::string error;
  settings.pki = test_support::make_test_pki(dir, kServer, error);
  if (!settings.pki) {
    out.problem = "no test PKI: " + error;
    return finish();
  }
  const std::string conf = test_support::write_coturn_config(settings);
  auto turn_argv = lab.in("server");
  turn_argv.insert(turn_argv.end(), {"sh", "-c", "exec turnserver -c '" + conf + "' >'" + dir + "/coturn.log' 2>&1"});
  BackgroundProcess coturn(turn_argv);
  // The rendezvous's TLS listener has the same certificate (it names
  // 203.0.113.10) on 8443: coturn holds 443.
  auto rv_argv = lab.in("server");
  rv_argv.insert(rv_argv.end(), {natpunch_binary(), "rendezvous", "--listen", "203.0.113.10:7000", "--stun-alt",
                                 "203.0.113.11:7001", "--turn-server", "203.0.113.10:3478,udp,tcp,tls=443",
                                 "--turn-secret", settings.secret, "--tls", "8443", "--tls-cert", settings.pki->cert,
                                 "--tls-key", settings.pki->key});
  BackgroundProcess rendezvous(rv_argv);
  const std::string in_server = "ip netns exec " + lab.netns("server") + " ";
  if (!test_support::wait_for_tcp_listener(in_server, 443) || !lab.wait_for_udp_listener("203.0.113.10:3478") ||
      !rendezvous.started() || !lab.wait_for_udp_listener("203.0.113.10:7000") ||
      !test_support::wait_for_tcp_listener(in_server, 8443)) {
    out.problem = "coturn or the rendezvous did not start: " + file_text(dir + "/coturn.log");
    return finish();
  }

  run("head -c " + std::to_string(kPayloadBytes) + " /dev/urandom >" + dir + "/a.bin && head -c " +
      std::to_string(kPayloadBytes) + " /dev/urandom >" + dir + "/b.bin");
  const std::string common = " --rendezvous 203.0.113.10:7000 --no-nat-probe --json --stdio --wait 15"
                             " --rendezvous-tls-port 8443 --rendezvous-tls-ca " + settings.pki->ca +
                             " --turn-ca " + settings.pki->ca;
  BackgroundProcess listener({"sh", "-c",
                              side_command(lab, dir, "b",
                                           "listen --accept-any" + common +
                                               (row.b_blocks_udp ? " --turn-transport tls" : ""))});
  // Its identity comes first; a caller that asks before it registered gets
  // "unknown peer" (a blocked b registers over TLS after 2 s).
  std::string identity;
  const auto listen_err = wait_for_text(dir + "/b.err", "registered at", 200);
  if (const auto at = listen_err.find("\"identity\":\""); at != std::string::npos)
    identity = listen_err.substr(at + 12, 64);
  if (identity.size() != 64 || listen_err.find("registered at") == std::string::npos) {
    out.problem = "the listener did not register: " + listen_err;
    return finish();
  }
  run("timeout 30 " + side_command(lab, dir, "a", "connect --peer " + identity + " --turn-transport tls" + common));
  // The listener ends once both inputs ended.
  wait_for_text(dir + "/b.code", "\n", 200);
  out.a = collect(dir, "a", "b");
  out.b = collect(dir, "b", "a");
  return finish();
}

// Everything a row promises, as failures naming the row.
void check_row(const Row& row, const RowRun& run) {
  SCOPED_TRACE("udpblock x " + row.kind_b);
  ASSERT_TRUE(run.problem.empty()) << run.problem;
  const auto tail = [](const std::string& text) { return text.substr(text.size() > 3000 ? text.size() - 3000 : 0); };
  const std::string context = "\nconnect (udpblock):\n" + tail(run.a.err) + "\nlisten (" + row.kind_b + "):\n" +
                              tail(run.b.err);
  EXPECT_EQ(run.a.exit_code, 0) << context;
  EXPECT_EQ(run.b.exit_code, 0) << context;
  EXPECT_TRUE(run.b.intact) << "the udpblock side's bytes did not arrive intact" << context;
  EXPECT_TRUE(run.a.intact) << "the " << row.kind_b << " side's bytes did not arrive intact" << context;
  // Each side's file went through TURN, in frames of at most
  // kMaxSessionPayload - 1 bytes (a pipe may hand out less: more frames).
  const int frames = static_cast<int>((kPayloadBytes + kMaxSessionPayload - 2) / (kMaxSessionPayload - 1));
  const struct {
    const Side* side;
    const char* via;
    const char* rendezvous;
  } sides[] = {{&run.a, kTurnTls, "tls"},
               {&run.b, row.b_blocks_udp ? kTurnTls : kTurnUdp, row.b_blocks_udp ? "tls" : "udp"}};
  for (const auto& s : sides) {
    ASSERT_TRUE(s.side->result.is_object()) << "no result event" << context;
    const auto& j = s.side->result;
    EXPECT_EQ(j.value("route", ""), "relay") << j.dump();
    EXPECT_EQ(j.value("relay", ""), s.via) << j.dump() << context;
    EXPECT_EQ(j.value("rendezvous_transport", ""), s.rendezvous) << j.dump();
    const auto session = j.value("session", nlohmann::json::object());
    EXPECT_GE(session.value("sent_turn", 0), frames) << j.dump();
    EXPECT_GE(session.value("received_turn", 0), frames) << j.dump();
  }
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::stringstream in(text);
  for (std::string w; std::getline(in, w, ',');)
    if (!w.empty()) words.push_back(w);
  return words;
}

TEST(UdpBlockedPeerInLab, ReachesEveryOtherKindThroughTurnOverTls) {
  if (!is_root() || !test_support::have_coturn()) GTEST_SKIP() << "needs root and coturn (turnserver)";
  auto table = rows();
  if (const char* only = std::getenv("NATPUNCH_LAB_ROWS")) {
    const auto words = split_words(only);
    std::erase_if(table, [&](const Row& r) {
      return std::none_of(words.begin(), words.end(), [&](const auto& w) { return r.name.find(w) != std::string::npos; });
    });
  }
  ASSERT_FALSE(table.empty());
  auto jobs = static_cast<unsigned>(table.size());
  if (const char* j = std::getenv("NATPUNCH_LAB_JOBS")) jobs = static_cast<unsigned>(std::max(1, std::atoi(j)));
  jobs = std::min<unsigned>(jobs, static_cast<unsigned>(table.size()));

  const auto started = std::chrono::steady_clock::now();
  std::vector<RowRun> runs(table.size());
  std::atomic<std::size_t> next{0};
  std::mutex progress;
  std::vector<std::thread> workers;
  for (unsigned w = 0; w < jobs; ++w)
    workers.emplace_back([&] {
      for (std::size_t i; (i = next++) < table.size();) {
        runs[i] = run_row(table[i]);
        std::lock_guard lock(progress);
        std::cerr << "[udpblock] x " << table[i].kind_b << ": exit " << runs[i].a.exit_code << "/"
                  << runs[i].b.exit_code << ", intact " << runs[i].b.intact << "/" << runs[i].a.intact << ", "
                  << runs[i].seconds << " s" << (runs[i].problem.empty() ? "" : " (" + runs[i].problem + ")")
                  << "\n";
      }
    });
  for (auto& w : workers) w.join();
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cerr << "[udpblock] " << table.size() << " rows in " << total << " s with " << jobs << " labs at a time\n";
  RecordProperty("rows", static_cast<int>(table.size()));
  RecordProperty("seconds", static_cast<int>(total));
  for (std::size_t i = 0; i < table.size(); ++i) check_row(table[i], runs[i]);
}

}  // namespace
}  // namespace natpunch::lab

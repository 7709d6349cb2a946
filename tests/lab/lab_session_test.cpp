// Lab tests for a Session keeping itself alive (issue 5): two peers behind
// natd with a 3 s idle timeout pipe stdin/stdout (`--stdio`) over a direct
// path.
//  - Idle for 8 s, the path still delivers directly because keepalives kept
//    both mappings open; with --no-keepalive the same pause kills it.
//  - natd on one side frozen (SIGSTOP) for longer than its idle timeout: its
//    mappings expire, the session notices, the application's datagrams go on
//    over the relay, and a re-punch brings the direct path back.
//  - side a's NAT rebinds (natd restarted: its mappings are gone and, with a
//    uniform random allocator, a's next packet leaves from a new external
//    port): the path dies, data goes on over the relay, both sides refresh
//    where the rendezvous sees them and exchange it in REPUNCH / ack, and
//    the re-punch reaches a at its NEW endpoint.
//  - a phone changes networks (issue 19 item 4): `lab.sh move` takes client
//    a off its NAT's LAN and puts it on b's, mid-stream; a notices its new
//    address (io/peer_session.cpp polls them every second), refreshes its
//    registration, gives up the dead path for the relay and re-punches
//    from where it is now (through b's hairpinning NAT); the stream goes on.
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lab_harness.hpp"

namespace natpunch::lab {
namespace {

constexpr const char* kRendezvous = "203.0.113.10:7000";
// Both NATs keep a mapping 3 s after the last packet and preserve ports (a
// new mapping after expiry gets the same external port, as Linux does).
constexpr const char* kNats = "--a model:eim/apdf/preserving --b model:eim/apdf/preserving --udp-stream-timeout 3";

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The last {"event":"result"} line of a peer's report.
nlohmann::json result_of(const std::string& text) {
  std::istringstream lines(text);
  nlohmann::json result;
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.value("event", "") == "result") result = j;
  }
  return result;
}

std::string identity_of(const std::string& text) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.value("event", "") == "identity") return j.value("identity", "");
  }
  return {};
}

// The numbers a `--stdio` receiver printed, one per line ("1", "2", ...):
// which arrived, how many twice, and the last one.
struct NumberedLines {
  std::set<int> distinct;
  int duplicates = 0;
  int last = 0;
};

NumberedLines numbered_lines(const std::string& text) {
  NumberedLines out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const int n = std::atoi(line.c_str());
    if (!out.distinct.insert(n).second) ++out.duplicates;
    out.last = n;
  }
  return out;
}

struct PeerFiles {
  std::string out, err;
};

// A --stdio input script's prefix that waits (at most 20 s) until the peer's
// stderr (run_pair's files; `role` listen or connect) says its punch
// connected: the script's pauses then count from the session, not from
// process start (registration and punching take seconds on a busy machine).
std::string once_connected(const Lab& lab, const std::string& role) {
  const std::string err = "/tmp/natpunch-lab-" + lab.id() + "-" + role + ".err";
  return "i=0; until grep -q 'connected to' " + err + " 2>/dev/null || [ $i -ge 400 ]; do sleep 0.05; i=$((i+1)); done; ";
}

// Waits (at most 30 s) until run_pair's listener printed `lines` lines.
void wait_for_lines(const Lab& lab, long lines) {
  const std::string received = "/tmp/natpunch-lab-" + lab.id() + "-listen.out";
  for (int i = 0; i < 300; ++i) {
    const auto text = slurp(received);
    if (std::count(text.begin(), text.end(), '\n') >= lines) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

struct Run {
  nlohmann::json listen, connect;
  std::string listen_stdout, connect_stdout;
  std::string listen_err, connect_err;
};

// Runs a listener in b and a connector in a, each `--stdio` fed by its
// shell `input` command, with `extra` options; `during` runs while both do.
Run run_pair(const Lab& lab, const std::string& listen_input, const std::string& connect_input,
             const std::string& extra, const std::function<void()>& during, int max_seconds) {
  const std::string common = std::string(" --rendezvous ") + kRendezvous +
                             " --json --stdio --wait 20 --mapping endpoint-independent --filtering "
                             "address-and-port-dependent --idle-timeout-ms 3000 " + extra;
  const std::string base = "/tmp/natpunch-lab-" + lab.id();
  const PeerFiles l{base + "-listen.out", base + "-listen.err"}, c{base + "-connect.out", base + "-connect.err"};
  for (const auto* f : {&l.out, &l.err, &c.out, &c.err}) std::remove(f->c_str());
  BackgroundProcess listener({"ip", "netns", "exec", lab.netns("b"), "sh", "-c",
                              "(" + listen_input + ") | " + natpunch_binary() + " listen --accept-any" + common + " >" +
                                  l.out + " 2>" + l.err});
  std::string identity;
  for (int i = 0; i < 100 && identity.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    identity = identity_of(slurp(l.err));
  }
  Run run;
  if (identity.size() != 64) return run;
  BackgroundProcess connector({"ip", "netns", "exec", lab.netns("a"), "sh", "-c",
                               "(" + connect_input + ") | " + natpunch_binary() + " connect --peer " + identity +
                                   common + " >" + c.out + " 2>" + c.err});
  if (during) during();
  for (int i = 0; i < max_seconds * 10 && (listener.running() || connector.running()); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  connector.stop();
  listener.stop();
  run.listen_err = slurp(l.err);
  run.connect_err = slurp(c.err);
  run.listen = result_of(run.listen_err);
  run.connect = result_of(run.connect_err);
  run.listen_stdout = slurp(l.out);
  run.connect_stdout = slurp(c.out);
  for (const auto* f : {&l.out, &l.err, &c.out, &c.err}) std::remove(f->c_str());
  return run;
}

struct Keepalive {
  std::string id;
  bool keepalive;
};

class SessionKeepalive : public testing::TestWithParam<Keepalive> {};

TEST_P(SessionKeepalive, AnIdleDirectPathLivesOnlyWithKeepalives) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  const auto& param = GetParam();
  Lab lab(param.id, kNats);
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  auto server = lab.start_rendezvous(kRendezvous);
  ASSERT_TRUE(server) << "natpunch rendezvous did not start";

  // "one", 8 s of silence (the NATs forget after 3 s), "two".
  auto run = run_pair(lab, once_connected(lab, "listen") + "sleep 12; echo listener-done",
                      once_connected(lab, "connect") + "echo one; sleep 8; echo two",
                      param.keepalive ? "" : "--no-keepalive", {}, 50);
  ASSERT_FALSE(run.connect.is_null()) << run.connect_err;
  ASSERT_FALSE(run.listen.is_null()) << run.listen_err;
  EXPECT_EQ(run.connect.value("route", ""), "direct") << run.connect.dump();
  const auto& sent = run.connect["session"];
  const auto& got = run.listen["session"];
  if (param.keepalive) {
    EXPECT_EQ(run.listen_stdout, "one\ntwo\n") << run.listen_err;
    EXPECT_GE(sent.value("keepalives_sent", 0), 4) << "one every 1.5 s over 8 s: " << sent.dump();
    EXPECT_EQ(sent.value("keepalive_interval_ms", 0), 1500);
    EXPECT_EQ(sent.value("path_deaths", 1), 0) << sent.dump();
    EXPECT_EQ(got.value("received_relay", 1), 0) << "everything came directly: " << got.dump();
    EXPECT_EQ(sent.value("route", ""), "direct");
  } else {
    // The control: the same pause without keepalives loses "two" on the dead path.
    EXPECT_EQ(sent.value("keepalives_sent", 1), 0) << sent.dump();
    EXPECT_EQ(run.listen_stdout, "one\n") << "the NAT mapping should have expired: " << run.listen_err;
  }
}

INSTANTIATE_TEST_SUITE_P(Idle, SessionKeepalive,
                         testing::Values(Keepalive{"tyka", true}, Keepalive{"tykn", false}),
                         [](const auto& info) { return info.param.keepalive ? std::string("WithKeepalives")
                                                                            : std::string("WithoutKeepalives"); });

TEST(SessionRepunch, FrozenNatFallsBackToTheRelayAndComesBackDirect) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  Lab lab("tyre", kNats);
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  auto server = lab.start_rendezvous(kRendezvous);
  ASSERT_TRUE(server) << "natpunch rendezvous did not start";
  // The outage: side a's router drops everything to and from b's public
  // address (natd's, 203.0.113.102) for 10 s, before natd sees it, in both
  // directions -- the direct path dies while the rendezvous server (and so
  // the relay) stays reachable. natd's mappings towards b expire meanwhile
  // (3 s idle timeout). (Freezing natd with SIGSTOP does not do it: the tun
  // queue holds the packets and natd delivers them late, path intact.)
  const std::string nat_a = lab.netns("nat-a");
  const auto outage = [&nat_a](bool on) {
    if (on)
      return run("ip netns exec " + nat_a +
                 " nft -f - <<'EOF'\n"
                 "table ip natpunch_outage {\n"
                 "  chain pre { type filter hook prerouting priority raw; ip saddr 203.0.113.102 drop; "
                 "ip daddr 203.0.113.102 drop; }\n"
                 "}\nEOF")
                 .exit_code == 0;
    return run("ip netns exec " + nat_a + " nft delete table ip natpunch_outage 2>/dev/null").exit_code == 0;
  };
  bool outage_started = false;

  // The connector sends a numbered line every 200 ms for 30 s; once ten
  // lines arrived the direct path goes dark for 10 s.
  auto run_result = run_pair(
      lab, once_connected(lab, "listen") + "sleep 33; echo listener-done",
      once_connected(lab, "connect") + "i=0; while [ $i -lt 150 ]; do i=$((i+1)); echo $i; sleep 0.2; done",
      "", [&] {
        // Wait until data flows (registration and punching take a while on a busy machine).
        wait_for_lines(lab, 10);
        outage_started = outage(true);
        std::this_thread::sleep_for(std::chrono::seconds(10));
        outage(false);
      },
      60);
  outage(false);  // whatever happened above
  ASSERT_TRUE(outage_started) << "nft could not install the outage rule in " << nat_a;
  ASSERT_FALSE(run_result.connect.is_null()) << run_result.connect_err;
  ASSERT_FALSE(run_result.listen.is_null()) << run_result.listen_err;
  const auto& a = run_result.connect["session"];
  const auto& b = run_result.listen["session"];
  EXPECT_EQ(run_result.connect.value("route", ""), "direct") << "punched at first";
  EXPECT_GE(a.value("path_deaths", 0), 1) << a.dump();
  EXPECT_GE(a.value("sent_relay", 0), 5) << "data went on over the relay: " << a.dump();
  EXPECT_GE(b.value("received_relay", 0), 5) << "... and arrived: " << b.dump();
  EXPECT_GE(a.value("repunches_succeeded", 0), 1) << a.dump() << "\n" << run_result.connect_err;
  EXPECT_EQ(a.value("route", ""), "direct") << "direct again at the end: " << a.dump();
  EXPECT_GT(b.value("received_direct", 0), b.value("received_relay", 0) / 4) << b.dump();
  // Nothing twice, in order, and the last lines (after the re-punch) arrived.
  const auto lines = numbered_lines(run_result.listen_stdout);
  EXPECT_EQ(lines.duplicates, 0);
  EXPECT_EQ(lines.last, 150) << run_result.listen_stdout;
  EXPECT_GT(lines.distinct.size(), 80u) << "only the frozen stretch may be missing";
  EXPECT_EQ(b.value("received_lost", 0), 150 - static_cast<int>(lines.distinct.size()))
      << "the receiver counts exactly the missing lines as lost: " << b.dump();
  EXPECT_GE(a.value("sent_lost", 0), 1) << "the sender wrote off what went into the dead path: " << a.dump();
}

// --- a NAT that rebinds

// natd's mapping log (time internal external remote): the external endpoint
// natd gave `internal` last, if any.
std::string external_of(const std::string& mappings, const std::string& internal) {
  std::istringstream lines(mappings);
  std::string found;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string time, in, ex, remote;
    if (line.starts_with("#") || !(fields >> time >> in >> ex >> remote)) continue;
    if (in == internal) found = ex;
  }
  return found;
}

// The internal endpoint that registered with the rendezvous (the session's
// socket 0): the last one mapped towards it -- the sockets that learned the
// NAT through the rendezvous's STUN before registering came first.
std::string registering_socket(const std::string& mappings, const std::string& rendezvous) {
  std::istringstream lines(mappings);
  std::string found;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string time, in, ex, remote;
    if (line.starts_with("#") || !(fields >> time >> in >> ex >> remote)) continue;
    if (remote == rendezvous) found = in;
  }
  return found;
}

std::vector<std::string> cmdline_of(pid_t pid) {
  const std::string raw = slurp("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> argv;
  std::string word;
  for (char ch : raw) {
    if (ch == '\0') {
      argv.push_back(word);
      word.clear();
    } else {
      word += ch;
    }
  }
  return argv;
}

// Restarts side's natd in place (same command line), so it forgets every
// mapping. Returns the new natd (stopped when it goes away), nullptr on
// failure. While natd is down its router must not forward the LAN's packets
// un-translated (they would reach the internet from 100.64.x.x): a forward
// rule drops them (natd's own path goes through tun0, never lan0 -> wan0).
std::unique_ptr<BackgroundProcess> restart_natd(const Lab& lab, const std::string& side, std::string& why) {
  const std::string state = "/run/natpunch-lab/" + lab.id();
  const std::string router = lab.netns("nat-" + side);
  pid_t old_pid = std::atoi(slurp(state + "/natd-" + side + ".pid").c_str());
  auto argv = old_pid > 0 ? cmdline_of(old_pid) : std::vector<std::string>{};
  if (argv.size() < 2 || argv[1] != "natd") {
    // The pid file names a wrapper: natd is the router's process running `natpunch natd`.
    std::istringstream pids(run("ip netns pids " + router).output);
    for (pid_t pid = 0; pids >> pid;) {
      auto candidate = cmdline_of(pid);
      if (candidate.size() >= 2 && candidate[1] == "natd") {
        old_pid = pid;
        argv = candidate;
        break;
      }
    }
  }
  if (argv.size() < 2 || argv[1] != "natd") {
    why = "no natd process at pid " + std::to_string(old_pid);
    return nullptr;
  }
  if (run("ip netns exec " + router +
          " nft -f - <<'EOF'\n"
          "table ip natpunch_rebind {\n"
          "  chain guard { type filter hook forward priority 0; iifname \"lan0\" oifname \"wan0\" drop; }\n"
          "}\nEOF")
          .exit_code != 0) {
    why = "nft could not install the leak guard";
    return nullptr;
  }
  kill(old_pid, SIGTERM);
  for (int i = 0; i < 100 && std::filesystem::exists("/proc/" + std::to_string(old_pid)); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::string log = state + "/natd-" + side + ".restart.log";
  std::string command = "exec ip netns exec " + router;
  for (const auto& word : argv) command += " '" + word + "'";
  command += " >" + log + " 2>&1";
  auto natd = std::make_unique<BackgroundProcess>(std::vector<std::string>{"sh", "-c", command});
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    up = slurp(log).find("natd: ") != std::string::npos;
  }
  run("ip netns exec " + router + " nft delete table ip natpunch_rebind 2>/dev/null");
  if (!up) {
    why = "natd did not come back: " + slurp(log);
    return nullptr;
  }
  return natd;
}

TEST(SessionRepunch, ARebindingNatIsRepunchedAtItsNewEndpoint) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  // Random ports: after the restart a's next packet leaves from a port
  // unrelated to the old one (as a carrier NAT that lost its state would).
  Lab lab("trnb", "--a model:eim/apdf/uniform:20000-60000 --b model:eim/apdf/uniform:20000-60000 "
                  "--udp-stream-timeout 3");
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  auto server = lab.start_rendezvous(kRendezvous);
  ASSERT_TRUE(server) << "natpunch rendezvous did not start";
  const std::string mappings = "/run/natpunch-lab/" + lab.id() + "/natd-a.mappings";

  std::unique_ptr<BackgroundProcess> new_natd;
  std::string restart_error, socket0, old_endpoint;
  const auto started = std::chrono::steady_clock::now();
  double rebound_after_s = 0;
  // The connector sends a numbered line every 200 ms for 24 s; once ten
  // lines arrived, a's natd restarts.
  auto result = run_pair(
      lab, once_connected(lab, "listen") + "sleep 27; echo listener-done",
      once_connected(lab, "connect") + "i=0; while [ $i -lt 120 ]; do i=$((i+1)); echo $i; sleep 0.2; done", "",
      [&] {
        wait_for_lines(lab, 10);
        const auto before = slurp(mappings);
        socket0 = registering_socket(before, kRendezvous);
        old_endpoint = external_of(before, socket0);
        rebound_after_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        new_natd = restart_natd(lab, "a", restart_error);
      },
      60);
  ASSERT_TRUE(new_natd) << restart_error;
  ASSERT_FALSE(socket0.empty()) << "a's registration is in natd's log:\n" << slurp(mappings);
  const std::string new_endpoint = external_of(slurp(mappings), socket0);
  ASSERT_FALSE(result.connect.is_null()) << result.connect_err;
  ASSERT_FALSE(result.listen.is_null()) << result.listen_err;
  ASSERT_FALSE(new_endpoint.empty()) << "a's socket sent again through the new natd:\n" << slurp(mappings);
  ASSERT_NE(new_endpoint, old_endpoint) << "the restarted NAT must have given a new port";
  const auto& a = result.connect["session"];
  const auto& b = result.listen["session"];
  EXPECT_EQ(result.connect.value("route", ""), "direct") << "punched at first";
  EXPECT_EQ(result.listen.value("peer_endpoint", ""), old_endpoint) << "b first reached a at its old endpoint";
  // The death was noticed and the data went on over the relay.
  EXPECT_GE(a.value("path_deaths", 0), 1) << a.dump();
  EXPECT_GE(b.value("path_deaths", 0), 1) << b.dump();
  // (Only while the re-punch is prepared: one refresh round trip + the 500 ms lead.)
  EXPECT_GE(a.value("sent_relay", 0), 1) << "data went on over the relay: " << a.dump();
  EXPECT_EQ(b.value("received_relay", 0), a.value("sent_relay", -1)) << "... and all of it arrived: " << b.dump();
  // The re-punch reached a's NEW endpoint and the route is direct again.
  EXPECT_GE(a.value("repunches_succeeded", 0), 1) << a.dump() << "\n" << result.connect_err;
  EXPECT_GE(b.value("repunches_succeeded", 0), 1) << b.dump() << "\n" << result.listen_err;
  EXPECT_EQ(a.value("route", ""), "direct") << a.dump();
  EXPECT_EQ(b.value("route", ""), "direct") << b.dump();
  EXPECT_EQ(b.value("peer_endpoint", ""), new_endpoint) << "b's direct path ends at a's new endpoint: " << b.dump();
  EXPECT_GT(b.value("received_direct", 0), 10) << "lines arrived directly after the re-punch too: " << b.dump();
  // Nothing twice, in order, the last line arrived, and the receiver's loss count is exact.
  const auto lines = numbered_lines(result.listen_stdout);
  EXPECT_EQ(lines.duplicates, 0);
  EXPECT_EQ(lines.last, 120) << result.listen_stdout;
  EXPECT_LE(120 - static_cast<int>(lines.distinct.size()), a.value("sent_lost", 0))
      << "only what went into the dead path may be missing: " << a.dump();
  EXPECT_EQ(b.value("received_lost", 0), 120 - static_cast<int>(lines.distinct.size())) << b.dump();
  std::cerr << "[ rebind ] a's natd restarted " << rebound_after_s << " s into the run; a moved " << old_endpoint
            << " -> " << new_endpoint << "; a: path_deaths " << a.value("path_deaths", 0) << ", sent_relay "
            << a.value("sent_relay", 0) << ", sent_lost " << a.value("sent_lost", 0) << ", repunches "
            << a.value("repunches", 0) << "/" << a.value("repunches_succeeded", 0) << " succeeded\n";
}

// Changing networks (issue 19 item 4): a moves from its own NAT's LAN to
// b's mid-stream (as a phone going from Wi-Fi to cellular: the interface
// and its address go away, another comes up). a notices within its address
// poll, refreshes where the rendezvous sees it and re-punches; the stream
// continues: the last line arrives, nothing twice, only what went into the
// dead path may be missing. ~15 s.
TEST(SessionMove, APhoneThatChangesNetworksKeepsItsStream) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  // b's NAT hairpins: after the move a and b share it, and the re-punch
  // meets through its public address.
  Lab lab("tmove", "--a prc --b prc+hairpin --b-clients 2");
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  auto server = lab.start_rendezvous(kRendezvous);
  ASSERT_TRUE(server) << "natpunch rendezvous did not start";
  const auto started = std::chrono::steady_clock::now();
  double moved_after_s = 0;
  CommandResult moved;
  // The connector sends a numbered line every 100 ms for 10 s; once ten
  // lines arrived, a moves.
  auto result = run_pair(
      lab, once_connected(lab, "listen") + "sleep 14; echo listener-done",
      once_connected(lab, "connect") + "i=0; while [ $i -lt 100 ]; do i=$((i+1)); echo $i; sleep 0.1; done", "",
      [&] {
        wait_for_lines(lab, 10);
        moved_after_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        moved = run(lab_script() + " move --id " + lab.id() + " a b 2>&1");
      },
      40);
  ASSERT_EQ(moved.exit_code, 0) << moved.output;
  ASSERT_FALSE(result.connect.is_null()) << result.connect_err;
  ASSERT_FALSE(result.listen.is_null()) << result.listen_err;
  const auto& a = result.connect["session"];
  const auto& b = result.listen["session"];
  EXPECT_EQ(result.connect.value("route", ""), "direct") << "punched at first";
  EXPECT_NE(result.connect_err.find("network changed"), std::string::npos) << "a noticed its move:\n"
                                                                           << result.connect_err;
  EXPECT_GE(a.value("path_deaths", 0), 1) << a.dump();
  // Back on a direct path, through b's NAT: a's new public address is b's.
  EXPECT_GE(a.value("repunches_succeeded", 0), 1) << a.dump() << "\n" << result.connect_err;
  EXPECT_EQ(a.value("route", ""), "direct") << a.dump();
  EXPECT_EQ(b.value("route", ""), "direct") << b.dump();
  EXPECT_EQ(b.value("peer_endpoint", "").rfind("203.0.113.102:", 0), 0u) << b.dump();
  // The stream went on: nothing twice, the last line arrived, only what
  // went into the dead path or could not leave at all (no interface for a
  // moment: the kernel refused it) may be missing.
  const auto lines = numbered_lines(result.listen_stdout);
  EXPECT_EQ(lines.duplicates, 0);
  EXPECT_EQ(lines.last, 100) << result.listen_stdout;
  EXPECT_LE(100 - static_cast<int>(lines.distinct.size()), a.value("sent_lost", 0) + a.value("send_failed", 0))
      << "only what went into the dead path or was refused may be missing: " << a.dump();
  EXPECT_LE(100 - static_cast<int>(lines.distinct.size()), 20) << "noticed within about a second";
  std::cerr << "[ move ] a moved " << moved_after_s << " s into the run; " << 100 - lines.distinct.size()
            << " of 100 lines lost (a's sent_lost " << a.value("sent_lost", 0) << ", send_failed "
            << a.value("send_failed", 0) << ", sent_relay "
            << a.value("sent_relay", 0) << "), repunches " << a.value("repunches", 0) << "/"
            << a.value("repunches_succeeded", 0) << " succeeded, "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() << " s in all\n";
}

}  // namespace
}  // namespace natpunch::lab

// Lab tests for a cluster of rendezvous nodes (issue 21): three
// `natpunch rendezvous --cluster` nodes and a three-node nats-server
// cluster on the lab's public segment (the server host, addresses
// 203.0.113.21-23 for the nodes and .31-.33 for NATS), started and stopped
// by the test with ports and configuration made per run.
//
//   ClusterInLab.RelayAcrossNodes      sym x sym: the listener registered at
//                                      node 1, the caller at node 2; the
//                                      session is relayed across the nodes
//   ClusterInLab.NodeAndNatsDeath      prc x prc: a stdio session made
//                                      across nodes; then one NATS server and
//                                      node 1 (where both listeners
//                                      registered) are killed: the session
//                                      carries on, and a new connect (at node
//                                      3) to the other listener succeeds
//                                      once it moved, within two refresh
//                                      intervals of the kill
//   ClusterInLab.RelayedSessionOutlivesItsNode
//                                      prc x prc, --force-relay: both peers
//                                      registered at node 1, a numbered
//                                      --stdio stream through its relay;
//                                      node 1 is killed mid-stream: both
//                                      move, resume the relay elsewhere and
//                                      the stream goes on -- each line at
//                                      most once, all lost ones in one gap
//                                      (sent while no node relayed)
//
// Single-node mode (no --cluster, no NATS) is what every other lab test
// runs.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lab_harness.hpp"

namespace natpunch::lab {
namespace {

using SteadyClock = std::chrono::steady_clock;

bool wait_until(const std::function<bool()>& ready, std::chrono::milliseconds timeout) {
  const auto end = SteadyClock::now() + timeout;
  while (SteadyClock::now() < end) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ready();
}

// A 32-byte secret file as natpunch writes them (mode 0600).
void write_secret(const std::string& path, const std::string& header, char digit) {
  std::ofstream(path) << header << " " << std::string(64, digit) << "\n";
  ::chmod(path.c_str(), 0600);
}

constexpr int kRegistrationLifetime = 12;  // refresh every 3 s
const std::vector<std::string> kNodes{"203.0.113.21:7000", "203.0.113.22:7000", "203.0.113.23:7000"};
const std::vector<std::string> kNats{"203.0.113.31", "203.0.113.32", "203.0.113.33"};

// The cluster: NATS and rendezvous processes in the server host, their
// files under /tmp (removed at the end, whatever happens).
class Cluster {
 public:
  explicit Cluster(const Lab& lab) : lab_(lab), base_("/tmp/natpunch-lab-" + lab.id()) {}
  ~Cluster() {
    nodes.clear();
    nats.clear();
    for (const auto& f : files_) std::remove(f.c_str());
  }

  std::string file(const std::string& name) {
    files_.push_back(base_ + "-" + name);
    return files_.back();
  }

  bool start() {
    for (const auto& a : {"203.0.113.21", "203.0.113.22", "203.0.113.23", "203.0.113.31", "203.0.113.32",
                          "203.0.113.33"})
      if (lab_.exec("server", std::string("ip addr add ") + a + "/24 dev eth0").exit_code != 0) return false;
    std::string routes;
    for (const auto& n : kNats) routes += (routes.empty() ? "" : ", ") + ("nats-route://" + n + ":6222");
    for (std::size_t i = 0; i < kNats.size(); ++i) {
      const auto conf = file("nats" + std::to_string(i) + ".conf");
      std::ofstream(conf) << "server_name: n" << i << "\nlisten: " << kNats[i] << ":4222\n"
                          << "cluster {\n  name: natpunch_lab\n  listen: " << kNats[i] << ":6222\n  routes: ["
                          << routes << "]\n}\n";
      auto argv = lab_.in("server");
      argv.insert(argv.end(), {"sh", "-c", "exec nats-server -c " + conf + " >" + file("nats" + std::to_string(i) + ".log") + " 2>&1"});
      nats.push_back(std::make_unique<BackgroundProcess>(argv));
    }
    for (const auto& n : kNats)
      if (!wait_until([&] { return lab_.exec("server", "ss -Htln").output.find(n + ":4222") != std::string::npos; },
                      std::chrono::seconds(10)))
        return false;
    identity = file("server.key");
    cluster_key = file("cluster.key");
    write_secret(identity, "natpunch-ed25519-seed-v1", '7');
    write_secret(cluster_key, "natpunch-cluster-key-v1", '3');
    std::string urls;
    for (const auto& n : kNats) urls += (urls.empty() ? "" : ",") + ("nats://" + n + ":4222");
    for (std::size_t i = 0; i < kNodes.size(); ++i) {
      logs.push_back(file("node" + std::to_string(i) + ".log"));
      auto argv = lab_.in("server");
      argv.insert(argv.end(), {"sh", "-c",
                               "exec " + natpunch_binary() + " rendezvous --listen " + kNodes[i] + " --identity " +
                                   identity + " --cluster-key " + cluster_key + " --cluster " + urls +
                                   " --registration-lifetime " + std::to_string(kRegistrationLifetime) +
                                   " --json-log >" + logs.back() + " 2>&1"});
      nodes.push_back(std::make_unique<BackgroundProcess>(argv));
    }
    // Every node hears the other two.
    return wait_until(
        [&] {
          for (const auto& log : logs)
            if (file_text(log).find("cluster: 2 other nodes heard") == std::string::npos) return false;
          return true;
        },
        std::chrono::seconds(15));
  }

  std::string context() const {
    std::string out;
    for (std::size_t i = 0; i < logs.size(); ++i) out += "\nnode " + std::to_string(i + 1) + ":\n" + file_text(logs[i]);
    return out;
  }

  std::vector<std::unique_ptr<BackgroundProcess>> nats;
  std::vector<std::unique_ptr<BackgroundProcess>> nodes;
  std::vector<std::string> logs;
  std::string identity, cluster_key;

 private:
  const Lab& lab_;
  std::string base_;
  std::vector<std::string> files_;
};

// A natpunch command in a lab host, output to files.
struct Peer {
  std::unique_ptr<BackgroundProcess> process;
  std::string out, err;
};

Peer start_peer(const Lab& lab, Cluster& cluster, const std::string& host, const std::string& command,
                const std::string& input = {}) {
  Peer p;
  p.out = cluster.file(host + ".out");
  p.err = cluster.file(host + ".err");
  std::remove(p.out.c_str());
  std::remove(p.err.c_str());
  const std::string run = natpunch_binary() + " " + command + " >" + p.out + " 2>" + p.err;
  p.process = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{"ip", "netns", "exec", lab.netns(host), "sh", "-c", input.empty() ? run : "(" + input + ") | " + run});
  return p;
}

std::string identity_in(const std::string& text) {
  auto ids = json_events(text, "identity");
  return ids.empty() ? std::string() : ids.front().value("identity", "");
}

std::string wait_identity(const Peer& p, bool json_on_stderr) {
  std::string id;
  wait_until(
      [&] {
        id = identity_in(file_text(json_on_stderr ? p.err : p.out));
        return !id.empty();
      },
      std::chrono::seconds(10));
  return id;
}

std::string all_nodes(const std::vector<std::size_t>& order) {
  std::string list;
  for (auto i : order) list += (list.empty() ? "" : ",") + kNodes[i];
  return list;
}

TEST(ClusterInLab, RelayAcrossNodes) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  Lab lab("tclrelay", "--a sym --b sym");
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  Cluster cluster(lab);
  ASSERT_TRUE(cluster.start()) << "the cluster did not form" << cluster.context();
  const std::string sym =
      " --json --wait 20 --mapping address-and-port-dependent --filtering address-and-port-dependent "
      "--probe-budget 150 --punch-timeout-ms 1500";
  auto b = start_peer(lab, cluster, "b", "listen --accept-any --rendezvous " + kNodes[0] + sym);
  const auto id = wait_identity(b, false);
  ASSERT_EQ(id.size(), 64u) << file_text(b.err);
  auto a = start_peer(lab, cluster, "a", "connect --peer " + id + " --rendezvous " + kNodes[1] + sym);
  wait_until([&] { return !a.process->running() && !b.process->running(); }, std::chrono::seconds(25));
  a.process->stop();
  b.process->stop();
  const std::string context = "\nconnect:\n" + file_text(a.out) + file_text(a.err) + "\nlisten:\n" + file_text(b.out) +
                              file_text(b.err) + cluster.context();
  const auto results = json_events(file_text(a.out), "result");
  ASSERT_FALSE(results.empty()) << context;
  EXPECT_EQ(results.back().value("route", ""), "relay") << context;
  EXPECT_TRUE(results.back().value("test_datagram", false)) << context;
  EXPECT_EQ(results.back().value("peer", ""), id) << context;
  // It crossed the bus: node 2 routed the connect, and relayed.
  EXPECT_NE(file_text(cluster.logs[1]).find("session-created"), std::string::npos) << context;
}

TEST(ClusterInLab, NodeAndNatsDeath) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  Lab lab("tcldeath", "--a prc --b prc --a-clients 2 --b-clients 2");
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  Cluster cluster(lab);
  ASSERT_TRUE(cluster.start()) << "the cluster did not form" << cluster.context();
  const std::string prc =
      " --wait 25 --mapping endpoint-independent --filtering address-and-port-dependent --probe-budget 4000 "
      "--punch-timeout-ms 2500";
  // Both listeners know every node and register at node 1 first.
  const std::string nodes = " --rendezvous " + all_nodes({0, 1, 2});
  // b's stdin stays open (and silent): it ends the session only when a's
  // input ends.
  auto b = start_peer(lab, cluster, "b", "listen --accept-any --stdio --json" + nodes + prc, "sleep 30");
  auto b2 = start_peer(lab, cluster, "b2", "listen --accept-any --json" + nodes + prc);
  const auto id_b = wait_identity(b, true);
  const auto id_b2 = wait_identity(b2, false);
  ASSERT_EQ(id_b.size(), 64u) << file_text(b.err);
  ASSERT_EQ(id_b2.size(), 64u) << file_text(b2.err);
  // A session across nodes (caller at node 2) that outlives what follows.
  auto a = start_peer(lab, cluster, "a", "connect --stdio --json --peer " + id_b + " --rendezvous " + kNodes[1] + prc,
                      "echo before; sleep 9; echo after");
  ASSERT_TRUE(wait_until([&] { return file_text(b.out).find("before") != std::string::npos; }, std::chrono::seconds(15)))
      << "the first session did not form\nconnect:\n" << file_text(a.err) << "\nlisten:\n" << file_text(b.err)
      << cluster.context();

  // One NATS server dies; then the node both listeners registered at.
  cluster.nats[0]->kill_now();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  cluster.nodes[0]->kill_now();
  const auto killed = SteadyClock::now();
  auto a2 = start_peer(lab, cluster, "a2", "connect --json --peer " + id_b2 + " --rendezvous " + kNodes[2] + prc);
  std::optional<double> session_after_s;
  wait_until(
      [&] {
        if (file_text(a2.err).find("\nsession ") != std::string::npos || file_text(a2.err).rfind("session ", 0) == 0) {
          session_after_s = std::chrono::duration<double>(SteadyClock::now() - killed).count();
          return true;
        }
        return !a2.process->running();
      },
      std::chrono::seconds(20));
  wait_until([&] { return !a2.process->running(); }, std::chrono::seconds(10));
  wait_until([&] { return !a.process->running(); }, std::chrono::seconds(15));
  for (auto* p : {&a, &a2, &b, &b2}) p->process->stop();
  const std::string context = "\nconnect a:\n" + file_text(a.err) + "\nconnect a2:\n" + file_text(a2.out) + file_text(a2.err) +
                              "\nlisten b:\n" + file_text(b.err) + "\nlisten b2:\n" + file_text(b2.out) + file_text(b2.err) +
                              cluster.context();
  // The established session was not broken: the line sent after the kills arrived.
  EXPECT_NE(file_text(b.out).find("after"), std::string::npos) << context;
  // The moved listener was reachable again, through another node.
  const auto results = json_events(file_text(a2.out), "result");
  ASSERT_FALSE(results.empty()) << context;
  EXPECT_EQ(results.back().value("route", ""), "direct") << context;
  EXPECT_TRUE(results.back().value("test_datagram", false)) << context;
  ASSERT_TRUE(session_after_s) << context;
  const double two_intervals = 2.0 * kRegistrationLifetime / 4;
  std::printf("[cluster-lab] session to the moved listener %.2f s after the kill (two refresh intervals: %.0f s)\n",
              *session_after_s, two_intervals);
  EXPECT_LE(*session_after_s, two_intervals) << context;
}

TEST(ClusterInLab, RelayedSessionOutlivesItsNode) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  Lab lab("tclhand", "--a prc --b prc");
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  Cluster cluster(lab);
  ASSERT_TRUE(cluster.start()) << "the cluster did not form" << cluster.context();
  const std::string opts = " --wait 25 --mapping endpoint-independent --filtering address-and-port-dependent";
  const std::string nodes = " --rendezvous " + all_nodes({0, 1, 2});
  auto b = start_peer(lab, cluster, "b", "listen --accept-any --stdio --json" + nodes + opts, "sleep 45");
  const auto id_b = wait_identity(b, true);
  ASSERT_EQ(id_b.size(), 64u) << file_text(b.err);
  // 120 numbered lines, one each 0.2 s (24 s): node 1 dies after ~3 s.
  constexpr int kLines = 120;
  auto a = start_peer(lab, cluster, "a", "connect --stdio --json --force-relay --peer " + id_b + nodes + opts,
                      "sleep 1; for i in $(seq 1 " + std::to_string(kLines) + "); do echo line$i; sleep 0.2; done");
  ASSERT_TRUE(wait_until([&] { return file_text(b.out).find("line3\n") != std::string::npos; }, std::chrono::seconds(15)))
      << "the relayed session did not form\nconnect:\n" << file_text(a.err) << "\nlisten:\n" << file_text(b.err)
      << cluster.context();
  cluster.nodes[0]->kill_now();
  wait_until([&] { return !a.process->running(); }, std::chrono::seconds(40));
  wait_until([&] { return !b.process->running(); }, std::chrono::seconds(5));
  a.process->stop();
  b.process->stop();
  const std::string context = "\nconnect a:\n" + file_text(a.err) + "\nlisten b:\n" + file_text(b.out) +
                              file_text(b.err) + cluster.context();
  // Which lines arrived, how often.
  std::vector<int> seen(kLines + 1, 0);
  std::istringstream lines(file_text(b.out));
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("line", 0) == 0) {
      const int i = std::atoi(line.c_str() + 4);
      if (i >= 1 && i <= kLines) ++seen[i];
    }
  int lost = 0, gaps = 0, twice = 0;
  for (int i = 1; i <= kLines; ++i) {
    twice += seen[i] > 1 ? 1 : 0;
    if (seen[i] == 0) {
      ++lost;
      if (i == 1 || seen[i - 1] != 0) ++gaps;
    }
  }
  std::printf("[cluster-lab] relayed stream across the relaying node's death: %d of %d lines lost (%.1f s of "
              "stream), in %d gap(s), %d twice\n",
              lost, kLines, lost * 0.2, gaps, twice);
  EXPECT_EQ(twice, 0) << context;
  EXPECT_LE(gaps, 1) << "loss only while no node relayed" << context;
  EXPECT_EQ(seen[kLines], 1) << "the stream went on to its end" << context;
  // Both moved (refreshes every 3 s, four unanswered, then the next
  // node), and both said their relay runs again.
  for (const auto* p : {&a, &b}) {
    EXPECT_NE(file_text(p->err).find("stopped answering"), std::string::npos) << context;
    EXPECT_NE(file_text(p->err).find("relay resumed through"), std::string::npos) << context;
  }
  // The outage is bounded by the failover (about two refresh intervals
  // plus a registration): at most 15 s of the stream.
  EXPECT_LE(lost * 0.2, 15.0) << context;
}

}  // namespace
}  // namespace natpunch::lab

// Lab test for one identity serving several callers at once
// (`natpunch listen --sessions N`, natpunch::Listener): a listener behind
// one NAT, three callers behind another NAT (three phones on one carrier:
// lab.sh --a-clients 3), all started together. Every caller gets its own
// session with its own listener socket (so its own mapping on the
// listener's NAT) and the route the NAT pair allows, proven by the test
// datagram both ways.
//
//   ListenerInLab.ThreeCallersBehindOneNat/prc   prc callers x prc listener:
//                                                 hole punch, direct
//   ListenerInLab.ThreeCallersBehindOneNat/sym   sym x sym with a small
//                                                 budget: relay for each
//   ListenerInLab.SameNatCallerOverTheLanAndIpv6OnlyCallerOverIpv6
//                                                 `listen --sessions 2` gathers
//                                                 the candidates a single session
//                                                 does (host IPv4/IPv6): a phone
//                                                 behind its NAT reaches it at
//                                                 its LAN address, an IPv6-only
//                                                 one over IPv6
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
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
constexpr int kCallers = 3;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<nlohmann::json> events(const std::string& text, const std::string& event) {
  std::vector<nlohmann::json> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.value("event", "") == event) out.push_back(j);
  }
  return out;
}

struct Row {
  std::string id;        // lab id (tm...)
  std::string kind;      // lab.sh kind of both NATs
  std::string peer_args; // what each side tells the rendezvous about its NAT, plus budgets
  std::string route;     // expected for every session
  std::string strategy;  // what every caller reports
};

class ListenerInLab : public testing::TestWithParam<Row> {};

// One `listen --accept-any --sessions N` on `listener_host` (N = the
// callers) and one `connect` from each caller host, all at once; each
// prints JSON lines. Waits for them all (30 s at most).
struct ListenerRun {
  std::string problem;  // the run itself went wrong (no identity printed)
  std::string identity;
  std::string listen_out;
  std::string context;                 // everything printed, for failure messages
  std::vector<nlohmann::json> results;  // each caller's result event (null: none)
};

ListenerRun run_listener_and_callers(const Lab& lab, const std::string& listener_host,
                                     const std::vector<std::string>& hosts, const std::string& common) {
  ListenerRun run;
  const std::string base = "/tmp/natpunch-lab-" + lab.id();
  const std::string l_out = base + "-listen.out", l_err = base + "-listen.err";
  std::vector<std::string> c_out, c_err;
  for (const auto& h : hosts) {
    c_out.push_back(base + "-connect-" + h + ".out");
    c_err.push_back(base + "-connect-" + h + ".err");
  }
  auto remove_files = [&] {
    for (const auto* list : {&c_out, &c_err})
      for (const auto& f : *list) std::remove(f.c_str());
    std::remove(l_out.c_str());
    std::remove(l_err.c_str());
  };
  remove_files();
  BackgroundProcess listener({"ip", "netns", "exec", lab.netns(listener_host), "sh", "-c",
                              natpunch_binary() + " listen --accept-any --sessions " + std::to_string(hosts.size()) +
                                  common + " >" + l_out + " 2>" + l_err});
  for (int i = 0; i < 100 && run.identity.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto ids = events(slurp(l_out), "identity");
    if (!ids.empty()) run.identity = ids.front().value("identity", "");
  }
  if (run.identity.size() != 64) {
    run.problem = "the listener printed no identity: " + slurp(l_err);
    remove_files();
    return run;
  }
  // All callers at once (with more callers than spare registrations, one
  // waits for a fresh listener registration: its connect keeps asking).
  std::vector<std::unique_ptr<BackgroundProcess>> callers;
  for (std::size_t i = 0; i < hosts.size(); ++i)
    callers.push_back(std::make_unique<BackgroundProcess>(std::vector<std::string>{
        "ip", "netns", "exec", lab.netns(hosts[i]), "sh", "-c",
        natpunch_binary() + " connect --peer " + run.identity + common + " >" + c_out[i] + " 2>" + c_err[i]}));
  auto any_running = [&] {
    if (listener.running()) return true;
    for (auto& c : callers)
      if (c->running()) return true;
    return false;
  };
  for (int i = 0; i < 300 && any_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  for (auto& c : callers) c->stop();
  listener.stop();
  run.listen_out = slurp(l_out);
  run.context = "\nlisten:\n" + run.listen_out + slurp(l_err);
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    const auto out = slurp(c_out[i]);
    run.context += "\nconnect " + hosts[i] + ":\n" + out + slurp(c_err[i]);
    auto r = events(out, "result");
    run.results.push_back(r.empty() ? nlohmann::json() : r.back());
  }
  remove_files();
  return run;
}


TEST_P(ListenerInLab, ThreeCallersBehindOneNat) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  const Row& row = GetParam();
  Lab lab(row.id, "--a " + row.kind + " --b " + row.kind + " --a-clients " + std::to_string(kCallers));
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  auto server = lab.start_rendezvous(kRendezvous);
  ASSERT_TRUE(server) << "natpunch rendezvous did not start";

  const std::string common = std::string(" --rendezvous ") + kRendezvous + " --json --wait 20 " + row.peer_args;
  const auto run = run_listener_and_callers(lab, "b", {"a", "a2", "a3"}, common);
  ASSERT_TRUE(run.problem.empty()) << run.problem;
  const auto& identity = run.identity;
  const auto& results = run.results;
  const auto& context = run.context;
  const auto& listen_out = run.listen_out;

  std::set<std::uint64_t> caller_sessions;
  std::set<std::string> caller_endpoints;
  for (const auto& r : results) {
    ASSERT_FALSE(r.is_null()) << "a caller printed no result" << context;
    EXPECT_EQ(r.value("route", ""), row.route) << context;
    EXPECT_EQ(r.value("strategy", ""), row.strategy) << context;
    EXPECT_TRUE(r.value("test_datagram", false)) << context;
    EXPECT_EQ(r.value("peer", ""), identity);
    caller_sessions.insert(r.value("session_id", 0ull));
    caller_endpoints.insert(r.value("observed", ""));
  }
  EXPECT_EQ(caller_sessions.size(), static_cast<std::size_t>(kCallers)) << context;
  EXPECT_EQ(caller_endpoints.size(), static_cast<std::size_t>(kCallers)) << "three phones behind one NAT" << context;
  for (const auto& e : caller_endpoints) EXPECT_EQ(e.rfind("203.0.113.101:", 0), 0u) << e;

  const auto sessions = events(listen_out, "session");
  ASSERT_EQ(sessions.size(), static_cast<std::size_t>(kCallers)) << context;
  std::set<std::uint64_t> listener_sessions;
  std::set<std::string> listener_endpoints;
  for (const auto& s : sessions) {
    EXPECT_EQ(s.value("route", ""), row.route) << context;
    EXPECT_TRUE(s.value("test_datagram", false)) << context;
    EXPECT_GE(s.value("time_to_connect_ms", -1.0), 0.0);
    listener_sessions.insert(s.value("session_id", 0ull));
    listener_endpoints.insert(s.value("observed", ""));
    if (row.route == "direct") {
      EXPECT_EQ(s.value("peer_endpoint", "").rfind("203.0.113.101:", 0), 0u) << context;
    }
  }
  EXPECT_EQ(listener_sessions, caller_sessions) << context;
  EXPECT_EQ(listener_endpoints.size(), static_cast<std::size_t>(kCallers))
      << "each session on its own listener socket and NAT mapping" << context;
  const auto summary = events(listen_out, "result");
  ASSERT_EQ(summary.size(), 1u) << context;
  EXPECT_EQ(summary[0].value("sessions_ok", 0), kCallers) << context;
}

// A listener serving two callers (`listen --sessions 2`) offers each the
// host candidates a single session offers (one code path:
// io/peer_session.cpp, per registration): a2 shares its NAT and LAN (its
// IPv6 switched off: it can only meet the listener over IPv4), b is IPv6
// only (v6fw: registered at the rendezvous's IPv6 address; the listener,
// registered over IPv4, meets it by the IPv6 checks of its IPv6 socket).
// Both go direct on host candidates: a2 at the listener's LAN address over
// IPv4, b at its global IPv6 address. (A dual-stack b goes direct over
// IPv4 first and moves to IPv6 a check later, which a test datagram's
// short session may not see.)
TEST(ListenerInLab, SameNatCallerOverTheLanAndIpv6OnlyCallerOverIpv6) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  Lab lab("tmhost", "--a prc+v6fw --a-clients 2 --b v6fw");
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  auto server = lab.start_rendezvous(kRendezvous);
  ASSERT_TRUE(server) << "natpunch rendezvous did not start";
  ASSERT_EQ(lab.exec("a2", "sysctl -qw net.ipv6.conf.all.disable_ipv6=1").exit_code, 0);

  const std::string common = " --rendezvous 203.0.113.10:7000,[2001:db8::10]:7000 --json --wait 20 "
                             "--probe-budget 4000 --punch-timeout-ms 2500 --send-interval-us 500";
  const std::vector<std::string> hosts{"a2", "b"};
  const auto run = run_listener_and_callers(lab, "a", hosts, common);
  ASSERT_TRUE(run.problem.empty()) << run.problem;
  const auto& results = run.results;
  const auto& context = run.context;
  const auto& listen_out = run.listen_out;

  // What each caller ends on, and where it reached the listener.
  struct Expected {
    const char* family;
    const char* listener_at;  // the listener's host candidate
    const char* caller_at;    // the caller's, as the listener's session reached it
  };
  const std::vector<Expected> expected{{"ipv4", "100.64.1.2:", "100.64.1.3:"},
                                       {"ipv6", "[2001:db8:1::2]:", "[2001:db8:2::2]:"}};
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    SCOPED_TRACE(hosts[i]);
    const auto& r = results[i];
    ASSERT_FALSE(r.is_null()) << "the caller printed no result" << context;
    EXPECT_TRUE(r.value("test_datagram", false)) << context;
    const auto session = r.value("session", nlohmann::json::object());
    EXPECT_EQ(session.value("route", ""), "direct") << context;
    EXPECT_EQ(session.value("candidate_type", ""), "host") << context;
    EXPECT_EQ(session.value("address_family", ""), expected[i].family) << context;
    EXPECT_EQ(session.value("peer_endpoint", "").rfind(expected[i].listener_at, 0), 0u) << context;
  }
  const auto sessions = events(listen_out, "session");
  ASSERT_EQ(sessions.size(), hosts.size()) << context;
  for (const auto& e : expected) {
    const bool found = std::any_of(sessions.begin(), sessions.end(), [&](const nlohmann::json& s) {
      const auto stats = s.value("session", nlohmann::json::object());
      return s.value("test_datagram", false) && stats.value("route", "") == "direct" &&
             stats.value("candidate_type", "") == "host" && stats.value("address_family", "") == e.family &&
             stats.value("peer_endpoint", "").rfind(e.caller_at, 0) == 0;
    });
    EXPECT_TRUE(found) << "no listener session reached " << e.caller_at << " directly over " << e.family << context;
  }
  const auto summary = events(listen_out, "result");
  ASSERT_EQ(summary.size(), 1u) << context;
  EXPECT_EQ(summary[0].value("sessions_ok", 0), 2) << context;
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, ListenerInLab,
    testing::Values(
        Row{"tmprc", "prc",
            "--mapping endpoint-independent --filtering address-and-port-dependent --probe-budget 4000 "
            "--punch-timeout-ms 2500",
            "direct", "hole-punch"},
        // Both symmetric: a short improved attack, then the relay.
        Row{"tmsym", "sym",
            "--mapping address-and-port-dependent --filtering address-and-port-dependent --probe-budget 150 "
            "--punch-timeout-ms 1500",
            "relay", "improved"}),
    [](const auto& info) { return std::string(info.param.kind); });

}  // namespace
}  // namespace natpunch::lab

// Lab tests for the userspace NAT (`natpunch natd`, issue 4): lab.sh builds
// routers that run the project's NAT model on real packets, and the real
// binaries behind them see exactly the behaviour the model describes — the
// RFC 3489 types, the carriers' port allocators and the pending/idle
// timeouts. natd's own mapping log is the ground truth where the outside
// view cannot tell.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lab_harness.hpp"

namespace natpunch::lab {
namespace {

constexpr const char* kPrimary = "203.0.113.10:3478";
constexpr const char* kQuickRetransmit = "--rto 200 --rc 3 --rm 4";

std::string state_file(const Lab& lab, const std::string& name) { return "/run/natpunch-lab/" + lab.id() + "/" + name; }

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// `count` STUN queries from distinct local ports (20000, 20001, ...) of
// `host`, in one shell inside the namespace; the mapped ports in order.
std::vector<int> mapped_ports(const Lab& lab, const std::string& host, int count) {
  auto r = lab.exec(host, "bash -c 'for i in $(seq " + std::to_string(count) + "); do " + natpunch_binary() +
                              " stun --json --local 0.0.0.0:$((19999 + i)) " + kPrimary + " " + kQuickRetransmit +
                              "; echo; done'");
  std::vector<int> ports;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("mapped_address")) continue;
    const std::string mapped = j["mapped_address"];
    ports.push_back(std::stoi(mapped.substr(mapped.rfind(':') + 1)));
  }
  return ports;
}

// ------------------------------------------------------------ RFC 3489 types

struct NatdTypeCase {
  std::string name;
  std::string kind;
  std::string classic_type;
  std::string mapping;
  std::string filtering;
};

class NatdTypeInLab : public testing::TestWithParam<NatdTypeCase> {};

// For each classic type built from natd's policies, `natpunch nat-type`
// from behind it reports that type and its RFC 5780 behaviour.
TEST_P(NatdTypeInLab, NatTypeReportsTheModelledBehaviour) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  const auto& c = GetParam();
  Lab lab("tn" + c.name, "--a " + c.kind + " --b none");
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  auto server = lab.start_natpunch_stun_server();
  ASSERT_TRUE(server) << "stun-server did not start";
  auto r = lab.exec("a", natpunch_binary() + " nat-type " + kPrimary + " --json " + kQuickRetransmit);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto report = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << "not JSON: " << r.output;
  EXPECT_EQ(report.value("classic_type", ""), c.classic_type) << r.output;
  EXPECT_EQ(report.value("mapping", ""), c.mapping) << r.output;
  EXPECT_EQ(report.value("filtering", ""), c.filtering) << r.output;
  EXPECT_EQ(report.value("mapped_address", "").rfind("203.0.113.101:", 0), 0u) << r.output;
}

INSTANTIATE_TEST_SUITE_P(
    Natd, NatdTypeInLab,
    testing::Values(
        NatdTypeCase{"fc", "model:eim/eif/sequential", "full cone", "endpoint-independent", "endpoint-independent"},
        NatdTypeCase{"rc", "model:eim/adf/preserving", "restricted cone", "endpoint-independent", "address-dependent"},
        NatdTypeCase{"prc", "model:eim/apdf/random", "port-restricted cone", "endpoint-independent",
                     "address-and-port-dependent"},
        NatdTypeCase{"sym", "model:apdm/apdf/random", "symmetric", "address-and-port-dependent",
                     "address-and-port-dependent"},
        NatdTypeCase{"symad", "model:adm/adf/sequential", "symmetric", "address-dependent", "address-dependent"}),
    [](const auto& info) { return info.param.name; });

// ------------------------------------------------------- carrier allocators

struct ProfileCase {
  std::string name;     // profiles/NAME.json
  std::string allocator;  // what the ports must look like
  int samples;
};

class CarrierPortsInLab : public testing::TestWithParam<ProfileCase> {};

// The ports the lab's STUN server sees behind a carrier profile follow that
// carrier's allocator (thesis Table II).
TEST_P(CarrierPortsInLab, PortsFollowTheProfilesAllocator) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  const auto& c = GetParam();
  std::string id = "tp" + c.name.substr(0, 6);
  std::erase(id, '-');
  Lab lab(id, "--a profile:" + c.name + " --b none");
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  // Hundreds of queries from one public address: no per-source rate limit.
  auto server = lab.start_natpunch_stun_server({"--rate", "0"});
  ASSERT_TRUE(server) << "stun-server did not start";
  const auto ports = mapped_ports(lab, "a", c.samples);
  ASSERT_EQ(static_cast<int>(ports.size()), c.samples) << "some STUN queries got no answer";

  if (c.allocator == "block") {
    // A fresh subscriber gets a block starting at a multiple of 256 and
    // consumes it in order.
    EXPECT_EQ(ports.front() % 256, 0) << "first port " << ports.front();
    for (std::size_t i = 1; i < ports.size(); ++i) EXPECT_EQ(ports[i], ports[i - 1] + 1) << "at query " << i;
  } else if (c.allocator == "uniform") {
    for (int p : ports) {
      EXPECT_GE(p, 2048);
      EXPECT_LE(p, 65535);
    }
    // Uniform over [2048, 65535]: 100 draws cover most of the range
    // (P(all above 20000 or all below 50000) < 1e-13).
    EXPECT_LT(*std::min_element(ports.begin(), ports.end()), 20000);
    EXPECT_GT(*std::max_element(ports.begin(), ports.end()), 50000);
    std::vector<int> sorted = ports;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "a port was handed out twice";
  } else if (c.allocator == "windows") {
    // Vodafone NL as its real logs show it (profiles/vodafone-nl.json): a
    // subscriber's ports stay in one 32-port window at offset 31 (32k + 31
    // .. 32k + 62) until the stay ends. Every query's mapping stays alive
    // (302 s pending timeout), so a window ends when its 32 ports are in
    // use, or after the 61 s hold.
    const auto window = [](int p) { return (p + 32 - 31) / 32; };
    std::vector<int> stays{1};
    for (std::size_t i = 1; i < ports.size(); ++i) {
      if (window(ports[i]) == window(ports[i - 1])) ++stays.back();
      else stays.push_back(1);
    }
    for (int stay : stays) EXPECT_LE(stay, 32) << "a window holds 32 ports";
    int full = 0;
    for (std::size_t i = 0; i + 1 < stays.size(); ++i) full += stays[i] == 32 ? 1 : 0;
    // All but the stays the 61 s hold cut short used their window up.
    EXPECT_GE(full, static_cast<int>(stays.size()) - 1 - 4) << "stays: " << stays.size();
    std::vector<int> sorted = ports;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "a port was handed out twice";
    for (int p : ports) EXPECT_LE(p, 17945) << "outside the Beta placement's support";
  }
  // Each query used a new local port, so natd logged one new mapping per
  // query (plus the log's header line).
  const auto log = read_file(state_file(lab, "natd-a.mappings"));
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), c.samples + 1) << log.substr(0, 500);
}

INSTANTIATE_TEST_SUITE_P(Profiles, CarrierPortsInLab,
                         testing::Values(ProfileCase{"kpn-nl", "block", 30}, ProfileCase{"lebara-nl", "block", 30},
                                         ProfileCase{"lycamobile-nl", "uniform", 100},
                                         ProfileCase{"vodafone-nl", "windows", 400}),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           std::erase(n, '-');
                           return n;
                         });

// ---------------------------------------------------------------- trace replay

// `model:M/F/trace:FILE` (issue 17): natd hands out the ports of a trace,
// in its order from a seeded offset, going on at the trace's start after
// its end (40 queries of a 50-port trace from a random offset wrap round 4
// times in 5). Every mapping stays alive, and the trace's ports are
// distinct, so the replay is exact.
TEST(NatdTraceInLab, NatdReplaysATraceFromAnOffset) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  const auto dir = std::filesystem::temp_directory_path() / ("natpunch-lab-trace-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto trace = dir / "ports.trace";
  std::vector<int> expected;
  {
    std::ofstream out(trace);
    out << "# a made-up carrier: distinct ports in no order natd would pick itself\n";
    for (int i = 0; i < 50; ++i) {
      expected.push_back(30000 + (i * 7919) % 20000);
      out << expected.back() << "\n";
    }
  }
  Lab lab("ttrace", "--a model:eim/adf/trace:" + trace.string() + " --b none");
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  auto server = lab.start_natpunch_stun_server({"--rate", "0"});
  ASSERT_TRUE(server) << "stun-server did not start";
  const auto ports = mapped_ports(lab, "a", 40);
  std::filesystem::remove_all(dir);
  ASSERT_EQ(ports.size(), 40u) << "some STUN queries got no answer";
  const auto start = std::find(expected.begin(), expected.end(), ports.front());
  ASSERT_NE(start, expected.end()) << "port " << ports.front() << " is not in the trace";
  const auto offset = static_cast<std::size_t>(start - expected.begin());
  for (std::size_t i = 0; i < ports.size(); ++i)
    EXPECT_EQ(ports[i], expected[(offset + i) % expected.size()]) << "query " << i << ", from offset " << offset;
  EXPECT_NE(read_file(state_file(lab, "natd-a.log")).find("trace ports"), std::string::npos);
}

// ------------------------------------------------------------------ timeouts

// Lines of natd's mapping log whose internal endpoint is `internal`.
int mappings_of(const Lab& lab, const std::string& internal) {
  std::istringstream log(read_file(state_file(lab, "natd-a.mappings")));
  int n = 0;
  for (std::string line; std::getline(log, line);)
    if (line.find(" " + internal + " ") != std::string::npos) ++n;
  return n;
}

// KPN's profile with timeouts shortened to 3 s pending / 7 s idle: a mapping
// that never saw a reply is alive after 2 s and gone after 4 s; one that saw
// replies is alive after 6 s idle and gone after 8 s.
TEST(NatdTimeoutsInLab, MappingsExpireAtThePendingAndIdleTimeouts) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  Lab lab("ttimeout", "--a profile:kpn-nl --b none --udp-timeout 3 --udp-stream-timeout 7");
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  auto server = lab.start_natpunch_stun_server();
  ASSERT_TRUE(server) << "stun-server did not start";

  const std::string pending = "100.64.1.2:41001";  // talks to a silent port: never a reply
  const std::string idle_alive = "100.64.1.2:41002";
  const std::string idle_dead = "100.64.1.2:41003";
  auto silent_send = [&] {
    // One request to a port nobody answers on (the server namespace drops it
    // without ICMP, see below): the mapping stays pending.
    lab.exec("a", natpunch_binary() + " stun --local " + pending + " 203.0.113.10:4000 --rto 50 --rc 1 --rm 1");
  };
  auto query = [&](const std::string& local) {
    auto r = lab.exec("a", natpunch_binary() + " stun --json --local " + local + " " + kPrimary + " " + kQuickRetransmit);
    auto j = nlohmann::json::parse(r.output, nullptr, false);
    return j.is_discarded() ? std::string() : j.value("mapped_address", "");
  };
  // No ICMP port unreachable for the silent port: a pure "no answer".
  ASSERT_EQ(lab.exec("server", "nft 'add table ip silent' && ip netns exec " + lab.netns("server") +
                                   " nft 'add chain ip silent input { type filter hook input priority 0; }' && "
                                   "ip netns exec " + lab.netns("server") +
                                   " nft 'add rule ip silent input udp dport 4000 drop'")
                .exit_code,
            0);

  const auto t0 = std::chrono::steady_clock::now();
  auto at = [&](double seconds) {
    std::this_thread::sleep_until(t0 + std::chrono::milliseconds(static_cast<int>(seconds * 1000)));
  };
  silent_send();
  const auto first_alive = query(idle_alive);
  const auto first_dead = query(idle_dead);
  ASSERT_FALSE(first_alive.empty());
  ASSERT_FALSE(first_dead.empty());
  ASSERT_EQ(mappings_of(lab, pending), 1);

  at(2.0);  // pending mapping 2 s old, no reply: alive -> no new mapping
  silent_send();
  EXPECT_EQ(mappings_of(lab, pending), 1) << "pending mapping expired before 2 s (profile timeout 3 s)";

  at(6.0);  // 4 s after the last send: expired -> a new mapping
  silent_send();
  EXPECT_EQ(mappings_of(lab, pending), 2) << "pending mapping still alive after 4 s (profile timeout 3 s)";
  EXPECT_EQ(query(idle_alive), first_alive) << "established mapping expired before 6 s idle (timeout 7 s)";
  EXPECT_EQ(mappings_of(lab, idle_alive), 1);

  at(8.2);  // 8.2 s idle: expired
  const auto again = query(idle_dead);
  EXPECT_NE(again, first_dead) << "established mapping still alive after 8 s idle (timeout 7 s)";
  EXPECT_EQ(mappings_of(lab, idle_dead), 2);
}

// ------------------------------------------------------ several subscribers

// Two phones on one carrier NAT: both get through, on distinct ports of the
// same public address, and natd logs both.
TEST(NatdSharedInLab, TwoClientsShareOneNat) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  Lab lab("tshared", "--a model:eim/eif/sequential --a-clients 2 --b none");
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  auto server = lab.start_natpunch_stun_server();
  ASSERT_TRUE(server) << "stun-server did not start";
  const auto first = mapped_ports(lab, "a", 1);
  const auto second = mapped_ports(lab, "a2", 1);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0], first[0] + 1) << "sequential allocator: the second subscriber takes the next port";
  const auto log = read_file(state_file(lab, "natd-a.mappings"));
  EXPECT_NE(log.find("100.64.1.2:"), std::string::npos) << log;
  EXPECT_NE(log.find("100.64.1.3:"), std::string::npos) << log;
}

// Two phones behind one natd, isolated from each other on their LAN (as on
// separate carrier bearers): with --hairpinning (lab kind +hairpin) one
// reaches the other through the NAT's public address, from its own public
// mapping; without it nothing gets through. natpunch nat-type sees the same
// from one client. Checked with plain UDP sockets (lab/udp_probe.py).
TEST(NatdHairpinInLab, HairpinningJoinsIsolatedPhonesOnlyWhenTheNatHairpins) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  Lab lab("thairpin", "--a model:eim/eif/preserving+hairpin+isolated --a-clients 2 "
                      "--b model:eim/eif/preserving+isolated --b-clients 2");
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  auto server = lab.start_natpunch_stun_server();
  ASSERT_TRUE(server) << "stun-server did not start";
  const std::string probe = "python3 " + std::string(NATPUNCH_SOURCE_DIR) + "/lab/udp_probe.py";
  struct Side {
    std::string host, public_address;
    bool hairpins;
  };
  for (const Side& side : {Side{"a", "203.0.113.101", true}, Side{"b", "203.0.113.102", false}}) {
    SCOPED_TRACE(side.host);
    const std::string peer = side.host + "2";
    // The peer's mapping of port 40000 (preserving: external port 40000).
    ASSERT_EQ(lab.exec(peer, probe + " send --bind 0.0.0.0:40000 --to 203.0.113.10:9 --count 1").exit_code, 0);
    const std::string out = "/tmp/natpunch-lab-thairpin-" + side.host;
    std::remove(out.c_str());
    BackgroundProcess receiver({"ip", "netns", "exec", lab.netns(peer), "sh", "-c",
                                probe + " recv --bind 0.0.0.0:40000 --timeout 3 >" + out});
    lab.exec(side.host, probe + " send --bind 0.0.0.0:40001 --to " + side.public_address + ":40000 --count 15");
    for (int i = 0; i < 100 && receiver.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::string got = read_file(out);
    std::remove(out.c_str());
    if (side.hairpins)
      EXPECT_EQ(got, "from " + side.public_address + ":40001\n") << "hairpinned, from the sender's own mapping";
    else
      EXPECT_EQ(got, "timeout\n") << "no hairpinning: nothing gets through";
    auto r = lab.exec(side.host, natpunch_binary() + " nat-type " + kPrimary + " --json " + kQuickRetransmit);
    auto j = nlohmann::json::parse(r.output, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.output;
    EXPECT_EQ(j.value("hairpinning", !side.hairpins), side.hairpins) << r.output;
  }
  EXPECT_NE(read_file(state_file(lab, "natd-a.log")).find("hairpinning"), std::string::npos);
}

// ---------------------------------------------------------------- ICMP, MTU

// ICMP crosses natd: echo request/reply; with the lab's --mtu 1400 natd acts
// as the carrier's router and answers a DF packet above 1400 with
// "fragmentation needed (mtu 1400)", so path-MTU discovery works; without
// DF a larger datagram is fragmented both ways and still gets through
// (natd reassembles, translates and fragments again).
TEST(NatdIcmpInLab, EchoFragNeededAndFragmentsCrossNatd) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  if (run("command -v ping >/dev/null").exit_code != 0) GTEST_SKIP() << "ping not installed (iputils-ping)";
  Lab lab("ticmp", "--a model:apdm/apdf/random --b none --mtu 1400");
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  auto echo = lab.exec("a", "ping -n -c 2 -i 0.2 -W 2 203.0.113.10 2>&1");
  EXPECT_EQ(echo.exit_code, 0) << echo.output;
  EXPECT_NE(echo.output.find("2 received"), std::string::npos) << echo.output;

  // DF set, 1472 + 28 = 1500 bytes > 1400: natd answers
  // "fragmentation needed (mtu 1400)"; ping reports it (first try) or, once
  // the kernel cached the path MTU, refuses locally with mtu=1400.
  auto too_big = lab.exec("a", "ping -n -c 2 -i 0.3 -W 2 -M do -s 1472 203.0.113.10 2>&1");
  EXPECT_NE(too_big.exit_code, 0) << too_big.output;
  const bool saw_mtu = too_big.output.find("mtu = 1400") != std::string::npos ||
                       too_big.output.find("mtu=1400") != std::string::npos;
  EXPECT_TRUE(saw_mtu) << "no fragmentation-needed reached the client: " << too_big.output;

  // Fragmentation allowed: 3000-byte echo requests arrive in fragments and
  // the reassembled replies come back.
  auto fragmented = lab.exec("a", "ping -n -c 2 -i 0.2 -W 2 -M dont -s 3000 203.0.113.10 2>&1");
  EXPECT_EQ(fragmented.exit_code, 0) << fragmented.output;
}

// ------------------------------------------------------- errors and teardown

// Bad profiles or policies are refused before any namespace exists.
TEST(NatdLabErrors, BadKindsFailBeforeAnythingIsCreated) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  const char* bad[] = {"--a profile:no-such-carrier",
                       "--a model:eim/eif",
                       "--a model:xim/eif/sequential",
                       "--a model:eim/eif/block:0",
                       "--a model:eim/eif/bogus",
                       "--a model:eim/eif/sequential --a-clients 9",
                       "--a prc --natd-args-a '--pending-timeout 3'",
                       "--a model:eim/eif/sequential --natd-args-a '--no-such-option'"};
  for (const char* args : bad) {
    auto r = run(lab_script() + " up --id tbadkind " + args + " 2>&1");
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
    EXPECT_NE(r.output.find("lab.sh:"), std::string::npos) << args << ": " << r.output;
    EXPECT_FALSE(std::filesystem::exists("/run/netns/np-tbadkind-inet")) << args;
    EXPECT_FALSE(std::filesystem::exists("/run/natpunch-lab/tbadkind")) << args;
  }
  // A profile file that exists but is invalid names the field.
  const auto bad_profile = std::filesystem::temp_directory_path() / "natpunch-bad-profile.json";
  std::ofstream(bad_profile) << R"({"name": "x", "type": "full cone", "allocator": {"kind": "block", "block_size": -3}})";
  auto r = run(lab_script() + " up --id tbadkind --a profile:" + bad_profile.string() + " 2>&1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("natd rejects it"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists("/run/netns/np-tbadkind-inet"));
  std::filesystem::remove(bad_profile);
}

// SIGTERM or SIGINT to natd removes its TUN device, policy rule, routes and
// proxy ARP entry; `lab.sh down` then leaves no namespace or state behind.
TEST(NatdLabTeardown, StoppingNatdLeavesNothingBehind) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  for (const char* signal : {"TERM", "INT"}) {
    {
      Lab lab("tstop", "--a model:eim/eif/sequential --b model:apdm/apdf/random");
      ASSERT_TRUE(lab.up()) << "lab.sh up failed";
      EXPECT_NE(lab.exec("nat-a", "ip rule").output.find("lookup 100"), std::string::npos);
      auto pid = read_file(state_file(lab, "natd-a.pid"));
      while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
      ASSERT_FALSE(pid.empty());
      ASSERT_EQ(run(std::string("kill -") + signal + " " + pid).exit_code, 0);
      bool gone = false;
      for (int i = 0; i < 100 && !gone; ++i) {
        gone = run("kill -0 " + pid + " 2>/dev/null").exit_code != 0;
        if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      ASSERT_TRUE(gone) << "natd did not stop on SIG" << signal;
      EXPECT_NE(lab.exec("nat-a", "ip link show tun0 2>&1").exit_code, 0) << "tun0 left behind (SIG" << signal << ")";
      EXPECT_EQ(lab.exec("nat-a", "ip rule").output.find("lookup 100"), std::string::npos) << "policy rule left behind";
      EXPECT_EQ(lab.exec("nat-a", "ip route show table all").output.find("tun0"), std::string::npos);
      EXPECT_EQ(lab.exec("nat-a", "ip neigh show proxy").output.find("203.0.113.101"), std::string::npos);
      EXPECT_NE(read_file(state_file(lab, "natd-a.log")).find("stopped:"), std::string::npos)
          << "natd did not report its counters";
    }  // ~Lab: lab.sh down
    EXPECT_FALSE(std::filesystem::exists("/run/netns/np-tstop-nat-a"));
    EXPECT_FALSE(std::filesystem::exists("/run/netns/np-tstop-nat-b"));
    EXPECT_FALSE(std::filesystem::exists("/run/natpunch-lab/tstop"));
  }
}

}  // namespace
}  // namespace natpunch::lab

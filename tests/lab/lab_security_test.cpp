// Lab tests against an off-path attacker with real sockets (the unit tests
// punch_* and rendezvous_security_test cover the same forgeries in virtual
// time). The attacker sits on the lab's public segment (the "inet"
// namespace, where the bridge is) and sees none of the peers' traffic, but
// it may spoof any source address: it sends raw IPv4/UDP packets that claim
// to come from peer b's public endpoint to peer a's, so a's NAT lets them in
// like b's own. It is even told the session id (which an attacker who sees
// nothing would have to guess); only the session key is missing.
//  - tx during a session: forged data, CLOSE, REPUNCH (naming the attacker
//    as the new endpoint), datagrams of another session, probes and
//    garbage. a must deliver none of it, count each forged session
//    datagram as rejected, and keep its direct path (no death, no re-punch,
//    not closed).
//  - tx during punching: b's side of the direct path is blocked, so the
//    genuine punch cannot work; the attacker floods a with forged PROBE /
//    ACK / CONFIRM from b's endpoint. a must not "connect" to it: the
//    session falls back to the relay, a's punch counted the forgeries as
//    rejected, and only b's own data arrives.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lab_harness.hpp"

namespace natpunch::lab {
namespace {

constexpr const char* kRendezvous = "203.0.113.10:7000";
constexpr const char* kNats = "--a model:eim/apdf/preserving --b model:eim/apdf/preserving --udp-stream-timeout 5";

// Sends spoofed IPv4/UDP datagrams from a raw socket. Arguments: source ip,
// source port, destination ip, destination port, session id, rounds,
// pause between rounds (s), what to send ("session" or "probes"). Prints
// how many datagrams of each kind it sent, as JSON.
constexpr const char* kSpoofer = R"PY(
import json, os, random, socket, struct, sys, time
src, sport, dst, dport, session, rounds, pause, mode = sys.argv[1:9]
sport, dport, session, rounds, pause = int(sport), int(dport), int(session), int(rounds), float(pause)
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
def csum(data):
    if len(data) % 2: data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16: total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff
def send(payload):
    udp_len = 8 + len(payload)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, udp_len)
    header = struct.pack("!HHHH", sport, dport, udp_len, 0)
    c = csum(pseudo + header + payload) or 0xffff
    udp = struct.pack("!HHHH", sport, dport, udp_len, c) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), random.getrandbits(16), 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    s.sendto(ip + udp, (dst, 0))
def session_datagram(flags, sid, seq, payload):
    return b"ND" + bytes([2, flags]) + struct.pack("!QQI", sid, seq, len(payload)) + payload + os.urandom(16)
def probe(kind, seq):
    return b"NP" + bytes([3, kind]) + struct.pack("!QII", session, seq, seq) + os.urandom(16) + os.urandom(16)
sent = {}
def count(kind, payload):
    send(payload)
    sent[kind] = sent.get(kind, 0) + 1
for i in range(1, rounds + 1):
    if mode == "session":
        count("data", session_datagram(0, session, i, b"FORGED-%d\n" % i))
        count("close", session_datagram(0x80, session, i, bytes([4])))
        count("repunch", session_datagram(0x80, session, 1000 + i,
                                          bytes([3]) + struct.pack("!II", 1000 + i, 0) + bytes([4, 203, 0, 113, 1]) +
                                          struct.pack("!H", 4444)))
        count("other_session", session_datagram(0, session ^ 0x5a5a, i, b"FORGED-OTHER\n"))
        count("probe", probe(1 + i % 3, i))
        count("garbage", os.urandom(1 + i % 200))
    else:
        for kind in (1, 2, 3):
            count("probe", probe(kind, i))
    time.sleep(pause)
print(json.dumps(sent))
)PY";

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

nlohmann::json json_event(const std::string& text, const std::string& event) {
  std::istringstream lines(text);
  nlohmann::json found;
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.value("event", "") == event) found = j;
  }
  return found;
}

std::string first_match(const std::string& text, const std::regex& pattern) {
  std::smatch m;
  return std::regex_search(text, m, pattern) ? m[1].str() : std::string();
}

struct Attack {
  std::string id;
  bool during_session;  // else during punching, with b's direct path blocked
};

class SpoofingAttacker : public testing::TestWithParam<Attack> {};

TEST_P(SpoofingAttacker, WithoutTheSessionKeyGetsNothingAccepted) {
  if (!is_root()) GTEST_SKIP() << "lab tests need root (network namespaces)";
  const auto& param = GetParam();
  Lab lab(param.id, kNats);
  ASSERT_TRUE(lab.up()) << "lab.sh up failed";
  auto server = lab.start_rendezvous(kRendezvous);
  ASSERT_TRUE(server) << "natpunch rendezvous did not start";
  const std::string base = "/tmp/natpunch-lab-" + lab.id();
  const std::string script = base + "-spoof.py", spoof_out = base + "-spoof.json";
  const std::string a_out = base + "-a.out", a_err = base + "-a.err", b_err = base + "-b.err";
  {
    std::ofstream(script) << kSpoofer;
  }
  const std::string nat_b = lab.netns("nat-b");
  if (!param.during_session) {
    // b's side of any direct path is gone (both directions, before natd);
    // the rendezvous server stays reachable, so the relay works.
    ASSERT_EQ(run("ip netns exec " + nat_b +
                  " nft -f - <<'EOF'\n"
                  "table ip natpunch_block {\n"
                  "  chain pre { type filter hook prerouting priority raw; ip saddr 203.0.113.101 drop; "
                  "ip daddr 203.0.113.101 drop; }\n"
                  "}\nEOF")
                  .exit_code,
              0);
  }
  const std::string common = std::string(" --rendezvous ") + kRendezvous +
                             " --json --stdio --wait 20 --mapping endpoint-independent --filtering "
                             "address-and-port-dependent --idle-timeout-ms 5000 --punch-timeout-ms 4000";
  // b (listener) sends its own numbered lines, a (connector, the victim) only listens.
  BackgroundProcess listener({"ip", "netns", "exec", lab.netns("b"), "sh", "-c",
                              "(sleep 4; i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo b$i; sleep 0.25; done; "
                              "sleep 10) | " + natpunch_binary() + " listen --accept-any" + common + " >/dev/null 2>" +
                                  b_err});
  std::string identity;
  for (int i = 0; i < 100 && identity.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    identity = json_event(slurp(b_err), "identity").value("identity", "");
  }
  ASSERT_EQ(identity.size(), 64u) << slurp(b_err);
  BackgroundProcess connector({"ip", "netns", "exec", lab.netns("a"), "sh", "-c",
                               "sleep 18 | " + natpunch_binary() + " connect --peer " + identity + common + " >" +
                                   a_out + " 2>" + a_err});
  // The attacker learns the endpoints and the session id (a's progress lines).
  const std::regex session_re("session ([0-9]+) with"), seen_re("seen as ([0-9.]+:[0-9]+)"),
      peer_re("session [0-9]+ with [0-9a-f]+ at ([0-9.]+:[0-9]+)");
  std::string session, a_at, b_at;
  for (int i = 0; i < 200; ++i) {
    const auto text = slurp(a_err);
    session = first_match(text, session_re);
    a_at = first_match(text, seen_re);
    b_at = first_match(text, peer_re);
    const bool ready = param.during_session ? text.find("connected to ") != std::string::npos : !session.empty();
    if (ready && !a_at.empty() && !b_at.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_FALSE(session.empty() || a_at.empty() || b_at.empty()) << slurp(a_err);
  if (param.during_session) {
    ASSERT_NE(slurp(a_err).find("connected to " + b_at), std::string::npos) << "punched directly first: "
                                                                           << slurp(a_err);
  }
  const auto colon = [](const std::string& ep) { return ep.find(':'); };
  const std::string rounds = param.during_session ? "200" : "1500", pause = param.during_session ? "0.01" : "0.002";
  const auto attack =
      run("ip netns exec " + lab.netns("inet") + " /usr/bin/python3 " + script + " " + b_at.substr(0, colon(b_at)) +
          " " + b_at.substr(colon(b_at) + 1) + " " + a_at.substr(0, colon(a_at)) + " " + a_at.substr(colon(a_at) + 1) +
          " " + session + " " + rounds + " " + pause + " " + (param.during_session ? "session" : "probes") + " >" +
          spoof_out);
  ASSERT_EQ(attack.exit_code, 0) << attack.output;
  const auto sent = nlohmann::json::parse(slurp(spoof_out), nullptr, false);
  ASSERT_TRUE(sent.is_object()) << slurp(spoof_out);

  for (int i = 0; i < 300 && connector.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  connector.stop();
  listener.stop();
  if (!param.during_session) run("ip netns exec " + nat_b + " nft delete table ip natpunch_block 2>/dev/null");
  const auto result = json_event(slurp(a_err), "result");
  ASSERT_FALSE(result.is_null()) << slurp(a_err);
  const auto& a = result["session"];
  const std::string received = slurp(a_out);
  for (const auto* f : {&script, &spoof_out, &a_out, &a_err, &b_err}) std::remove(f->c_str());

  // Nothing forged was delivered; b's own lines were, each once.
  EXPECT_EQ(received.find("FORGED"), std::string::npos) << received;
  std::istringstream lines(received);
  int delivered = 0;
  for (std::string line; std::getline(lines, line);) {
    EXPECT_EQ(line, "b" + std::to_string(delivered + 1)) << received;
    ++delivered;
  }
  EXPECT_EQ(delivered, 40) << received << "\n" << a.dump();
  // (b's reads may join lines that waited for the session into one datagram.)
  const int datagrams = a.value("datagrams_received", 0);
  EXPECT_GE(datagrams, 1);
  EXPECT_EQ(a.value("duplicates_dropped", -1), 0);
  EXPECT_FALSE(a.value("peer_closed", true)) << "a forged CLOSE ended nothing";
  const int forged_session_datagrams = sent.value("data", 0) + sent.value("close", 0) + sent.value("repunch", 0) +
                                       sent.value("other_session", 0);
  std::cerr << "[ attack ] " << param.id << ": sent " << sent.dump() << "; a: route " << a.value("route", "")
            << ", rejected " << a.value("rejected", 0) << ", probes_rejected " << a.value("probes_rejected", 0)
            << ", path_deaths " << a.value("path_deaths", 0) << "\n";
  if (param.during_session) {
    ASSERT_GT(forged_session_datagrams, 0);
    EXPECT_EQ(result.value("route", ""), "direct");
    EXPECT_EQ(a.value("route", ""), "direct") << "a forged REPUNCH moved nothing: " << a.dump();
    EXPECT_EQ(a.value("path_deaths", -1), 0) << a.dump();
    EXPECT_EQ(a.value("repunches", -1), 0) << a.dump();
    EXPECT_EQ(a.value("peer_endpoint_changes", -1), 0) << a.dump();
    // Every forged session datagram reached a (its NAT took them for b's) and was dropped.
    EXPECT_EQ(a.value("rejected", 0), forged_session_datagrams) << a.dump();
    EXPECT_EQ(a.value("received_direct", 0), datagrams) << a.dump();
    // Forged probes (and garbage) go to the finished punch, which drops them.
    EXPECT_GE(a.value("probes_rejected", 0), sent.value("probe", 0)) << a.dump();
  } else {
    EXPECT_GT(sent.value("probe", 0), 0);
    EXPECT_EQ(result.value("route", ""), "relay") << "no direct path with a forger: " << result.dump();
    EXPECT_EQ(a.value("route", ""), "relay") << a.dump();
    EXPECT_EQ(a.value("received_relay", 0), datagrams) << a.dump();
    EXPECT_GE(a.value("probes_rejected", 0), 100) << "the punch saw and dropped the forgeries: " << a.dump();
    EXPECT_EQ(a.value("rejected", -1), 0) << a.dump();
  }
}

INSTANTIATE_TEST_SUITE_P(Lab, SpoofingAttacker,
                         testing::Values(Attack{"txse", true}, Attack{"txpu", false}),
                         [](const auto& info) {
                           return info.param.during_session ? std::string("DuringASession")
                                                            : std::string("DuringPunching");
                         });

}  // namespace
}  // namespace natpunch::lab

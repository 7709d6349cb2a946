// A session relayed through coturn (issue 20 item 3) on real packets: the
// rendezvous offers the lab's coturn (203.0.113.10, use-auth-secret, TLS
// on 443 with a CA made for the run) with minted credentials; two peers
// that do not punch (--force-relay) allocate on it, announce their relayed
// addresses to each other over the rendezvous and carry random bytes both
// ways through `--stdio` via TURN, compared byte for byte. The result says
// "relay": "TURN via ..." and counts what went through TURN. Rows:
//   sym + TLS        a behind a symmetric NAT reaches coturn over TLS;
//   udplimit:50 + TCP  a behind a carrier throttling UDP to 50 packets/s
//                    (registration still over UDP) relays over TCP;
//   udpblock + TLS   a's network drops all UDP: it registers at the
//                    rendezvous over TLS (issue 20 item 4; its TLS listener
//                    on 203.0.113.10:8443, coturn holds 443) and relays
//                    through coturn over TLS.
// b (prc) uses UDP in all.
// OneSided rows (issue 20 item 3, TURN when only one peer has an
// allocation): b has no TURN route (--no-offered-turn) and sends to a's
// relayed address from its UDP socket; a's coturn permits b's address as
// the rendezvous saw it:
//   udpblock + TLS, b without TURN   the common real case: a phone whose
//                    network blocks UDP vs an ordinary one.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "../support/coturn.hpp"
#include "../support/scratch_dir.hpp"
#include "lab_coturn.hpp"
#include "lab_harness.hpp"
#include "lab_stdio_pair.hpp"

namespace natpunch::lab {
namespace {

constexpr const char* kServer = "203.0.113.10";

struct Row {
  std::string name;
  std::string lab_id;
  std::string kind_a;
  std::string transport_a;  // --turn-transport of a
  std::string via_a;        // its route
  std::string rendezvous_a = "udp";  // how a reaches the rendezvous (udpblock: tls)
  std::string b_flags = "";           // more options of b's `listen`
  std::string via_b = "TURN via 203.0.113.10:3478";  // b's route; '*' stands for a port number
  std::string allowed_peers = kServer;               // coturn's allowed-peer-ip
};

// `actual` is `expected`, whose one '*' (if any) stands for a port number.
bool route_matches(const std::string& actual, const std::string& expected) {
  const auto star = expected.find('*');
  if (star == std::string::npos) return actual == expected;
  const std::string head = expected.substr(0, star), tail = expected.substr(star + 1);
  if (actual.size() < head.size() + tail.size() + 1 || actual.compare(0, head.size(), head) != 0 ||
      actual.compare(actual.size() - tail.size(), tail.size(), tail) != 0)
    return false;
  const std::string middle = actual.substr(head.size(), actual.size() - head.size() - tail.size());
  return middle.size() <= 5 && middle.find_first_not_of("0123456789") == std::string::npos;
}

class SessionThroughCoturn : public testing::TestWithParam<Row> {};

TEST_P(SessionThroughCoturn, TwoPeersThatDoNotPunchRelayRandomBytesThroughCoturn) {
  if (!is_root() || !test_support::have_coturn()) GTEST_SKIP() << "needs root and coturn (turnserver)";
  const Row& row = GetParam();
  Lab lab(row.lab_id, "--a " + row.kind_a + " --b prc");
  ASSERT_TRUE(lab.up());
  const test_support::ScratchDir scratch("natpunch_lab_" + lab.id());
  const std::string dir = scratch.path();

  // The peers' relayed addresses are the server's own (one-sided: b's public address too).
  const auto coturn = start_lab_coturn(lab, dir, row.allowed_peers);
  ASSERT_TRUE(coturn->ready()) << coturn->error;
  const auto& settings = coturn->settings;

  auto rv_argv = lab.in("server");
  rv_argv.insert(rv_argv.end(), {natpunch_binary(), "rendezvous", "--listen", "203.0.113.10:7000", "--stun-alt",
                                 "203.0.113.11:7001", "--turn-server", "203.0.113.10:3478,udp,tcp,tls=443",
                                 "--turn-secret", settings.secret});
  if (row.rendezvous_a == "tls")  // the same certificate: it names 203.0.113.10
    rv_argv.insert(rv_argv.end(), {"--tls", "8443", "--tls-cert", settings.pki->cert, "--tls-key", settings.pki->key});
  BackgroundProcess rendezvous(rv_argv);
  ASSERT_TRUE(rendezvous.started() && lab.wait_for_udp_listener("203.0.113.10:7000"));

  // Each side sends its file once its TURN route carries traffic (it says
  // so on stderr); the session ends once both inputs ended.
  StdioPair pair;
  pair.ready_pattern = "carries the relayed traffic";
  pair.options = "--rendezvous 203.0.113.10:7000 --force-relay --no-nat-probe --json --stdio --wait 15";
  pair.b_command = "listen --accept-any" + row.b_flags;
  pair.a_command = "connect --peer $id --turn-transport " + row.transport_a + " --turn-ca " + settings.pki->ca +
                   (row.rendezvous_a == "tls" ? " --rendezvous-tls-port 8443 --rendezvous-tls-ca " + settings.pki->ca
                                              : std::string());
  pair.timeout_s = 30;
  const std::string script = stdio_pair_script(lab, dir, pair);
  const auto r = run(script + " 2>&1");
  const auto err_of = [&](const std::string& name) { return file_text(dir + "/" + name + ".err"); };
  const auto tail = [&](const std::string& name) {
    const auto text = err_of(name);
    return text.substr(text.size() > 2000 ? text.size() - 2000 : 0);
  };
  EXPECT_NE(r.output.find("connect=0"), std::string::npos) << r.output << "\na: " << tail("a") << "\nb: " << tail("b");
  EXPECT_NE(r.output.find("a-to-b-intact"), std::string::npos) << r.output << "\nb: " << tail("b");
  EXPECT_NE(r.output.find("b-to-a-intact"), std::string::npos) << r.output << "\na: " << tail("a");
  const struct {
    const char* name;
    const char* via;
  } sides[] = {{"a", row.via_a.c_str()}, {"b", row.via_b.c_str()}};
  for (const auto& s : sides) {
    const auto results = json_events(err_of(s.name), "result");
    ASSERT_EQ(results.size(), 1u) << s.name << ": " << tail(s.name);
    const auto& j = results[0];
    EXPECT_TRUE(route_matches(j.value("relay", ""), s.via)) << s.via << ": " << j.dump();
    EXPECT_TRUE(route_matches(j.value("route_text", ""), std::string("relay (") + s.via + ")")) << j.dump();
    EXPECT_GE(j["session"].value("sent_turn", 0), 10) << "the file went through TURN: " << j.dump();
    EXPECT_GE(j["session"].value("received_turn", 0), 10) << j.dump();
    EXPECT_EQ(j.value("rendezvous_transport", ""), std::string(s.name) == "a" ? row.rendezvous_a : "udp") << j.dump();
  }
}

INSTANTIATE_TEST_SUITE_P(Rows, SessionThroughCoturn,
                         testing::Values(Row{"SymOverTls", "tsturn", "sym", "tls", "TURN via 203.0.113.10:443"},
                                         Row{"UdpLimitOverTcp", "tsturnl", "udplimit:50", "tcp",
                                             "TURN via 203.0.113.10:3478"},
                                         Row{"UdpBlockOverTls", "tsturnb", "udpblock", "tls",
                                             "TURN via 203.0.113.10:443", "tls"}),
                         [](const testing::TestParamInfo<Row>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(OneSided, SessionThroughCoturn,
                         testing::Values(Row{"UdpBlockOverTlsPrcWithoutTurn", "tsturno", "udpblock", "tls",
                                             "TURN via 203.0.113.10:443 (one-sided)", "tls", " --no-offered-turn",
                                             "TURN via the peer's relay 203.0.113.10:* (one-sided)",
                                             "203.0.113.10-203.0.113.102"}),
                         [](const testing::TestParamInfo<Row>& info) { return info.param.name; });

}  // namespace
}  // namespace natpunch::lab

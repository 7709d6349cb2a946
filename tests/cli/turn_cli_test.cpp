// `natpunch turn` against a second implementation: Debian's coturn on
// loopback (use-auth-secret, TLS with a CA made for this run), with
// coturn's turnutils_peer as the echoing peer. Every transport end to end
// (allocate, channel, data both ways, refresh, deallocate), and every way a
// server can let a user down: wrong or expired credentials, quota, a
// certificate we must refuse, silence, garbage on UDP and on TCP.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "../support/coturn.hpp"
#include "../support/loopback_udp.hpp"
#include "../support/silent_tcp_port.hpp"
#include "cli_processes.hpp"
#include "io/machine_driver.hpp"
#include "io/os_random.hpp"
#include "io/rendezvous_client_runner.hpp"
#include "io/turn_client_runner.hpp"
#include "io/turn_link.hpp"
#include "io/udp_ports.hpp"
#include "turn/peer_relay.hpp"
#include "turn/relay_ranking.hpp"
#include "turn/rest_credentials.hpp"

namespace {

using namespace natpunch;
using namespace std::chrono_literals;
using cli_test::Process;
using test_support::run_command;

struct Coturn {
  std::string dir;
  test_support::CoturnSettings settings;
  std::uint16_t peer_port = 0;
  std::unique_ptr<test_support::ChildProcess> server;
  std::unique_ptr<test_support::ChildProcess> peer;
  std::string error;

  // `tag` names a second instance's directory; without `udp` it listens on
  // TCP and TLS only; `secret`: share another instance's.
  bool start(const std::string& tag = "", bool udp = true, const std::string& secret = "") {
    dir = std::filesystem::temp_directory_path() / ("natpunch_turn_cli_" + std::to_string(getpid()) + tag);
    std::filesystem::create_directories(dir);
    settings.dir = dir;
    settings.address = "127.0.0.1";
    settings.port = test_support::free_loopback_port();
    settings.tls_port = test_support::free_loopback_port();
    peer_port = test_support::free_loopback_port();
    settings.secret = secret.empty() ? test_support::random_secret() : secret;
    settings.allowed_peers = "127.0.0.1";
    settings.loopback = true;
    settings.user_quota = 1;
    settings.pki = test_support::make_test_pki(dir, "127.0.0.1", error);
    if (!settings.pki || settings.port == 0 || settings.tls_port == 0 || peer_port == 0) return false;
    const std::string conf = test_support::write_coturn_config(settings);
    if (!udp) std::ofstream(conf, std::ios::app) << "no-udp\n";
    // exec: the PID stays the server's; output to files, never into a pipe
    // nobody reads (a full pipe would stall them).
    server = std::make_unique<test_support::ChildProcess>(
        "/bin/sh", std::vector<std::string>{"-c", "exec turnserver -c '" + conf + "' >'" + dir + "/stdout.log' 2>&1"});
    peer = std::make_unique<test_support::ChildProcess>(
        "/bin/sh", std::vector<std::string>{"-c", "exec turnutils_peer -L 127.0.0.1 -p " + std::to_string(peer_port) +
                                                      " >'" + dir + "/peer.log' 2>&1"});
    return test_support::wait_for_tcp_listener("", settings.tls_port) &&
           test_support::wait_for_tcp_listener("", settings.port);
  }
  ~Coturn() {
    server.reset();
    peer.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
  std::string address(std::uint16_t port) const { return "127.0.0.1:" + std::to_string(port); }
  std::string peer_address() const { return address(peer_port); }
};

class TurnCli : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!test_support::have_coturn()) return;
    coturn_ = new Coturn;
    if (!coturn_->start()) {
      start_error_ = "coturn did not start: " + coturn_->error;
      delete coturn_;
      coturn_ = nullptr;
    }
  }
  static void TearDownTestSuite() {
    delete coturn_;
    coturn_ = nullptr;
  }
  void SetUp() override {
    if (!test_support::have_coturn()) GTEST_SKIP() << "coturn (turnserver, turnutils_peer) not installed";
    ASSERT_NE(coturn_, nullptr) << start_error_;
  }

  // natpunch ARGS with stderr folded into the output.
  static test_support::CommandResult natpunch(const std::string& args) {
    return run_command(std::string(NATPUNCH_BINARY) + " " + args + " 2>&1");
  }
  // natpunch ARGS --json: the JSON object on stdout (stderr dropped).
  static std::pair<int, nlohmann::json> natpunch_json(const std::string& args) {
    const auto r = run_command(std::string(NATPUNCH_BINARY) + " " + args + " --json 2>/dev/null");
    auto j = nlohmann::json::parse(r.output, nullptr, false);
    return {r.exit_code, j};
  }
  static std::string secret() { return " --secret " + coturn_->settings.secret; }

  static Coturn* coturn_;
  static std::string start_error_;
};
Coturn* TurnCli::coturn_ = nullptr;
std::string TurnCli::start_error_;

struct TransportCase {
  const char* name;
  const char* flags;
  bool tls;
};

class TurnCliTransports : public TurnCli, public testing::WithParamInterface<TransportCase> {};

TEST_P(TurnCliTransports, AllocateRelayBothWaysRefreshDeallocate) {
  const auto& c = GetParam();
  const std::uint16_t port = c.tls ? coturn_->settings.tls_port : coturn_->settings.port;
  std::string args = "turn allocate --server " + coturn_->address(port) + secret() + " --id t-" + c.name + " " +
                     c.flags + " --peer " + coturn_->peer_address() + " --count 5 --size 500 --flood 0.5";
  if (c.tls) args += " --ca " + coturn_->settings.pki->ca;
  const auto [code, j] = natpunch_json(args);
  ASSERT_EQ(code, 0) << j.dump();
  EXPECT_EQ(j["transport"], c.name);
  EXPECT_EQ(j["relayed"].get<std::string>().rfind("127.0.0.1:", 0), 0u) << j.dump();
  ASSERT_EQ(j["peers"].size(), 1u);
  const auto& peer = j["peers"][0];
  EXPECT_EQ(peer["channel"], 0x4000);
  EXPECT_EQ(peer["sent"], 5);
  EXPECT_GE(peer["echoed"].get<int>(), 4) << "loopback loses nothing but a stray datagram";
  EXPECT_GT(peer["flood"]["echoed"].get<int>(), 0);
  EXPECT_TRUE(j["refreshed"]);
  EXPECT_TRUE(j["deallocated"]);
  // Time to first byte spans connecting, allocating, binding and one round trip.
  EXPECT_GE(j["first_echo_ms"].get<double>(), j["connect_ms"].get<double>() + j["allocate_ms"].get<double>() +
                                                  peer["bind_ms"].get<double>() + peer["rtt_ms"]["min"].get<double>())
      << j.dump();
  EXPECT_EQ(j["tls"].is_string(), c.tls) << j.dump();
  if (c.tls) {
    EXPECT_NE(j["tls"].get<std::string>().find("TLS"), std::string::npos);
  }
}

// The session's TURN route (turn::PeerRelay) against coturn: two peers,
// each with its own allocation over this transport, exchange relayed
// addresses, bind channels to each other and carry datagrams both ways
// allocation to allocation (what two UDP-blocked peers would do).
TEST_P(TurnCliTransports, TwoPeerRelaysCarryDatagramsThroughCoturn) {
  const auto& c = GetParam();
  const turn::Transport transport = c.tls ? turn::Transport::kTls : c.name == std::string("tcp") ? turn::Transport::kTcp
                                                                                                  : turn::Transport::kUdp;
  const std::uint16_t port = c.tls ? coturn_->settings.tls_port : coturn_->settings.port;
  const Endpoint server{IpAddress::v4({127, 0, 0, 1}), port};
  const auto unix_now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  struct Peer {
    std::unique_ptr<io::TurnLink> link;
    Rng rng{0};
    std::unique_ptr<turn::PeerRelay> relay;
    std::optional<Endpoint> candidate;
    std::vector<std::vector<std::uint8_t>> received;
    std::string error;
  };
  Peer peers[2];
  for (int i = 0; i < 2; ++i) {
    io::TurnLinkOptions options;
    options.transport = transport;
    options.server = server;
    options.tls.server_name = "127.0.0.1";
    if (c.tls) options.tls.ca_file = coturn_->settings.pki->ca;
    auto link = io::TurnLink::open(options);
    ASSERT_TRUE(link) << link.error();
    peers[i].link = std::move(*link);
    peers[i].rng = Rng(io::os_random_seed());
    turn::ClientConfig config;
    config.server = server;
    config.transport = transport;
    // One user per row and peer: the rows share the suite's coturn (user-quota=1),
    // and right after the udp row had closed its allocations coturn still
    // counted them: the tcp row, minted in the same second under the same
    // names, got 486 Allocation Quota Reached.
    const auto minted = turn::mint_rest_credentials(coturn_->settings.secret,
                                                    "relay-" + std::string(c.name) + "-" + std::to_string(i), unix_now,
                                                    std::chrono::seconds(600));
    ASSERT_TRUE(minted);
    config.credentials = minted->credentials;
    peers[i].relay = std::make_unique<turn::PeerRelay>(config, peers[i].rng, Clock::now());
  }
  // Both machines on one loop: send, read a little from each link, timers, events.
  const auto step = [&] {
    for (auto& p : peers) {
      while (auto t = p.relay->poll_transmit(Clock::now())) p.link->send(*t);
      p.link->flush();
      for (int n = 0; n < 16; ++n) {
        auto arrival = p.link->receive(Clock::now() + 1ms);
        if (!arrival) break;
        p.relay->on_datagram(Clock::now(), 0, server, arrival->bytes);
      }
      if (p.link->closed()) p.relay->on_connection_closed(Clock::now());
      if (auto d = p.relay->next_deadline(); d && *d <= Clock::now()) p.relay->on_timer(Clock::now());
      while (auto e = p.relay->poll_event()) {
        if (const auto* ready = std::get_if<turn::peer_relay_event::CandidateReady>(&*e)) p.candidate = ready->relayed;
        if (const auto* failed = std::get_if<turn::peer_relay_event::Failed>(&*e)) p.error = failed->error.message;
      }
      while (auto d = p.relay->poll_received()) p.received.push_back(std::move(d->payload));
    }
  };
  const auto run_until = [&](const std::function<bool()>& done) {
    for (const auto until = Clock::now() + 5s; Clock::now() < until && !done();) step();
    return done();
  };
  ASSERT_TRUE(run_until([&] { return peers[0].candidate && peers[1].candidate; }))
      << peers[0].error << " / " << peers[1].error;
  EXPECT_NE(*peers[0].candidate, *peers[1].candidate);
  peers[0].relay->set_peer(Clock::now(), *peers[1].candidate);
  peers[1].relay->set_peer(Clock::now(), *peers[0].candidate);
  ASSERT_TRUE(run_until([&] { return peers[0].relay->ready() && peers[1].relay->ready(); }))
      << peers[0].error << " / " << peers[1].error;

  // Random datagrams both ways, compared byte for byte.
  std::vector<std::vector<std::uint8_t>> sent[2];
  for (int i = 0; i < 20; ++i) {
    for (int side = 0; side < 2; ++side) {
      std::vector<std::uint8_t> datagram(100 + peers[side].rng.uniform(0, 999));
      for (auto& byte : datagram) byte = static_cast<std::uint8_t>(peers[side].rng.uniform(0, 255));
      ASSERT_TRUE(peers[side].relay->send(Clock::now(), datagram));
      sent[side].push_back(std::move(datagram));
    }
    step();
  }
  run_until([&] { return peers[0].received.size() >= 20 && peers[1].received.size() >= 20; });
  for (int side = 0; side < 2; ++side) {
    // Loopback UDP may drop a stray datagram; whatever arrived is intact and in order.
    EXPECT_GE(peers[1 - side].received.size(), c.tls || transport == turn::Transport::kTcp ? 20u : 18u);
    std::size_t next = 0;
    for (const auto& got : peers[1 - side].received) {
      while (next < sent[side].size() && sent[side][next] != got) ++next;
      EXPECT_LT(next, sent[side].size()) << "a datagram arrived that was never sent, or out of order";
      ++next;
    }
  }
  EXPECT_EQ(peers[0].relay->counters().foreign_dropped, 0u);
  for (auto& p : peers) p.relay->close(Clock::now());
  run_until([&] { return peers[0].relay->client().done() && peers[1].relay->client().done(); });
}

INSTANTIATE_TEST_SUITE_P(Coturn, TurnCliTransports,
                         testing::Values(TransportCase{"udp", "", false}, TransportCase{"tcp", "--tcp", false},
                                         TransportCase{"tls", "--tls", true}),
                         [](const testing::TestParamInfo<TransportCase>& info) { return info.param.name; });

TEST_F(TurnCli, TlsCertificateIsCheckedAgainstTheCaAndTheName) {
  const std::string base = "turn allocate --tls --count 0 --server " + coturn_->address(coturn_->settings.tls_port) +
                           secret() + " --id t-cert";
  // No CA given: the system store does not know this run's CA.
  auto r = natpunch(base);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("certificate not accepted"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--ca FILE"), std::string::npos) << r.output;
  // Another CA.
  r = natpunch(base + " --ca " + coturn_->settings.pki->other_ca);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("certificate not accepted"), std::string::npos) << r.output;
  // The right CA, but the certificate does not name what we check.
  r = natpunch(base + " --ca " + coturn_->settings.pki->ca + " --server-name turn.example.org");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("mismatch"), std::string::npos) << r.output;
  // The right CA and a name in the certificate's DNS SAN.
  r = natpunch(base + " --ca " + coturn_->settings.pki->ca + " --server-name turn.natpunch.test");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(TurnCli, WrongSecretIsAClearErrorNamingTheServer) {
  const auto r = natpunch("turn allocate --count 0 --server " + coturn_->address(coturn_->settings.port) +
                          " --secret not-the-secret");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("error: TURN server " + coturn_->address(coturn_->settings.port) +
                          " over udp refused the allocation: 401"),
            std::string::npos)
      << r.output;
}

TEST_F(TurnCli, ExpiredRestCredentialsAreRefusedNamingTheServer) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const auto expired = turn::mint_rest_credentials(coturn_->settings.secret, "old", now - 7200, std::chrono::seconds(60));
  ASSERT_TRUE(expired);
  const auto r = natpunch("turn allocate --tcp --count 0 --server " + coturn_->address(coturn_->settings.port) +
                          " --user " + expired->credentials.username + " --password " + expired->credentials.password);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("over tcp refused the allocation: 401"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("expired"), std::string::npos) << r.output;
}

TEST_F(TurnCli, SecondAllocationBeyondTheQuotaIs486) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const auto minted = turn::mint_rest_credentials(coturn_->settings.secret, "quota", now, std::chrono::seconds(600));
  ASSERT_TRUE(minted);
  Process holder({"turn", "allocate", "--server", coturn_->address(coturn_->settings.port), "--user",
                  minted->credentials.username, "--password", minted->credentials.password, "--count", "0", "--hold",
                  "1.5"});
  bool allocated = false;
  while (auto line = holder.read_line(5000ms))
    if (line->rfind("relayed:", 0) == 0) {
      allocated = true;
      break;
    }
  ASSERT_TRUE(allocated);
  const auto r = natpunch("turn allocate --count 0 --server " + coturn_->address(coturn_->settings.port) + " --user " +
                          minted->credentials.username + " --password " + minted->credentials.password);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("refused the allocation: 486 Allocation Quota Reached"), std::string::npos) << r.output;
  EXPECT_EQ(holder.wait(10000ms), 0);
}

TEST_F(TurnCli, ForbiddenPeerIsRefusedAndTheAllocationLivesOn) {
  const auto [code, j] = natpunch_json("turn allocate --server " + coturn_->address(coturn_->settings.port) + secret() +
                                       " --id t-forbid --peer 203.0.113.77:9");
  EXPECT_EQ(code, 1);
  ASSERT_EQ(j["peers"].size(), 1u) << j.dump();
  EXPECT_NE(j["peers"][0]["error"].get<std::string>().find("403"), std::string::npos) << j.dump();
  EXPECT_TRUE(j["refreshed"]);
  EXPECT_TRUE(j["deallocated"]);
}

TEST_F(TurnCli, CredentialsCommandMatchesTheRestScheme) {
  const auto [code, j] = natpunch_json("turn credentials --secret s3cret --id phone --ttl 600");
  ASSERT_EQ(code, 0);
  const std::string username = j["username"];
  EXPECT_EQ(username, std::to_string(j["expires_unix"].get<std::int64_t>()) + ":phone");
  EXPECT_EQ(j["password"], turn::rest_password("s3cret", username));
}

// The whole chain without accounts: `natpunch rendezvous --turn-server`
// hands a registered peer credentials minted from coturn's secret, the peer
// ranks the offered relay by round trip, and coturn accepts the
// credentials over TLS (checked against the name the offer carries).
TEST_F(TurnCli, RendezvousOffersCredentialsCoturnAccepts) {
  const std::string relay = coturn_->address(coturn_->settings.port) + ",tls=" +
                            std::to_string(coturn_->settings.tls_port) + ",name=turn.natpunch.test";
  cli_test::Rendezvous rendezvous({"--turn-server", relay, "--turn-secret", coturn_->settings.secret, "--turn-ttl", "600"});
  ASSERT_TRUE(rendezvous.ready());
  rendezvous::ClientConfig config;
  config.server = *Endpoint::parse(rendezvous.address);
  config.identity = rendezvous::Identity::generate(rendezvous::system_random_bytes());
  auto client = io::RendezvousClientRunner::open(*Endpoint::parse("127.0.0.1:0"), config);
  ASSERT_TRUE(client) << client.error();
  ASSERT_TRUE((*client)->wait_registered(5s)) << "registration";
  const auto offer = (*client)->wait_turn_offer(5s);
  ASSERT_TRUE(offer) << offer.error();
  ASSERT_EQ(offer->servers.size(), 1u);
  const rendezvous::TurnServer& server = offer->servers[0];
  EXPECT_EQ(server.address.to_string(), coturn_->address(coturn_->settings.port));
  EXPECT_EQ(server.tls_port, coturn_->settings.tls_port);
  EXPECT_EQ(server.transports, rendezvous::kTurnUdp | rendezvous::kTurnTcp | rendezvous::kTurnTls);

  // Nearest relay by a Binding round trip (coturn answers without credentials).
  Rng rng(io::os_random_seed());
  auto ports = io::UdpPorts::open(*Endpoint::parse("127.0.0.1:0"));
  ASSERT_TRUE(ports);
  turn::RelayRanking ranking({server.address}, stun::RetransmitPolicy{milliseconds(200), 3, 4}, rng, Clock::now());
  io::run_machine(ranking, **ports, [&] { return ranking.done(); }, io::ignore_events);
  ASSERT_TRUE(ranking.ranking()[0].round_trip) << "coturn answered the Binding request";

  io::TurnLinkOptions link;
  link.transport = turn::Transport::kTls;
  link.server = Endpoint{server.address.address, server.tls_port};
  link.tls.server_name = server.name;
  link.tls.ca_file = coturn_->settings.pki->ca;
  auto opened = io::TurnLink::open(link);
  ASSERT_TRUE(opened) << opened.error();
  turn::ClientConfig turn_config;
  turn_config.server = link.server;
  turn_config.transport = turn::Transport::kTls;
  turn_config.credentials = {server.username, server.password};
  io::TurnClientRunner runner(std::move(*opened), turn_config, io::os_random_seed());
  runner.client().allocate(Clock::now());
  const auto allocated = runner.run_until(Clock::now() + 5s, [](const turn::ClientEvent& e) {
    return std::holds_alternative<turn::client_event::Allocated>(e) || std::holds_alternative<turn::client_event::Failed>(e);
  });
  ASSERT_TRUE(allocated);
  ASSERT_TRUE(std::holds_alternative<turn::client_event::Allocated>(*allocated))
      << std::get<turn::client_event::Failed>(*allocated).error.message;
}

// Credentials and relays from the rendezvous, tried in turn: the first
// offered relay is dead (nothing listens), the second is a coturn that
// does not answer over UDP (so the Binding ranking keeps the offered
// order); over TCP the dead one is refused at once and named, the next
// allocates and relays. With only the dead relay: one clear error.
TEST_F(TurnCli, RendezvousOfferedRelaysAreTriedInTurnUntilOneAllocates) {
  Coturn tcp_only;
  ASSERT_TRUE(tcp_only.start("_tcp", false, coturn_->settings.secret)) << tcp_only.error;
  const std::string dead = coturn_->address(test_support::free_loopback_port());
  const std::string live = tcp_only.address(tcp_only.settings.port);
  cli_test::Rendezvous rendezvous(
      {"--turn-server", dead + ",tcp", "--turn-server", live + ",tcp", "--turn-secret", coturn_->settings.secret});
  ASSERT_TRUE(rendezvous.ready());
  const std::string args = "turn allocate --rendezvous " + rendezvous.address + " --tcp --timeout 1 --count 2 --peer " +
                           tcp_only.peer_address();
  auto [code, j] = natpunch_json(args);
  ASSERT_EQ(code, 0) << j.dump();
  EXPECT_EQ(j["server"], live) << j.dump();
  EXPECT_EQ(j["transport"], "tcp");
  ASSERT_EQ(j["attempts"].size(), 1u) << j.dump();
  EXPECT_EQ(j["attempts"][0]["server"], dead);
  EXPECT_NE(j["attempts"][0]["error"].get<std::string>().find(dead), std::string::npos) << j.dump();
  EXPECT_GE(j["peers"][0]["echoed"].get<int>(), 1) << j.dump();
  EXPECT_TRUE(j["deallocated"]);

  cli_test::Rendezvous only_dead({"--turn-server", dead + ",tcp", "--turn-secret", coturn_->settings.secret});
  ASSERT_TRUE(only_dead.ready());
  const auto r = natpunch("turn allocate --rendezvous " + only_dead.address + " --tcp --timeout 1 --count 0");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("error: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(dead), std::string::npos) << r.output;
}

// A network that blocks UDP (issue 20 item 4) on loopback: the rendezvous's
// UDP port is one that swallows datagrams, its TCP listener is the real
// one. `turn allocate --rendezvous` registers over TCP after 2 s of
// silence, takes the offered relay and credentials, tries it over TCP only
// (UDP is blocked: the offered UDP way is skipped) and relays to the echo
// peer; the JSON says how it reached the rendezvous. Its TLS listener's
// certificate from a CA the client was not given is refused at once, in
// one line (never taken for "no answer").
TEST_F(TurnCli, RendezvousOverTcpWhereUdpIsBlocked) {
  const auto& pki = *coturn_->settings.pki;
  cli_test::Rendezvous rendezvous({"--tcp", "127.0.0.1:0", "--tls", "127.0.0.1:0", "--tls-cert", pki.cert,
                                   "--tls-key", pki.key, "--turn-server",
                                   coturn_->address(coturn_->settings.port) + ",udp,tcp", "--turn-secret",
                                   coturn_->settings.secret});
  ASSERT_TRUE(rendezvous.ready());
  std::uint16_t tcp_port = 0, tls_port = 0;
  for (int listeners = 0; listeners < 2; ++listeners) {
    const auto j = cli_test::read_event(rendezvous.process, "listening", 5000ms);
    ASSERT_TRUE(j) << "the rendezvous's stream listeners";
    ((*j)["transport"] == "tcp" ? tcp_port : tls_port) = Endpoint::parse((*j)["address"].get<std::string>())->port;
  }
  ASSERT_TRUE(tcp_port != 0 && tls_port != 0);
  test_support::SilentUdpPort silent, nothing;
  ASSERT_TRUE(silent.port != 0 && nothing.port != 0);
  // The three runs at once (each waits 2 s for UDP first).
  const auto timed = [](const std::string& args) {
    const auto started = std::chrono::steady_clock::now();
    auto r = natpunch(args);
    return std::pair{r, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()};
  };
  // Nothing answers at all (no TCP listener either).
  auto silence = std::async(std::launch::async, timed,
                            "turn allocate --rendezvous 127.0.0.1:" + std::to_string(nothing.port) +
                                " --rendezvous-tcp-port " + std::to_string(test_support::free_loopback_port()) +
                                " --rendezvous-tls-port 0 --timeout 3 --count 0");
  // TLS only, with a CA that did not sign the certificate.
  auto wrong_ca = std::async(std::launch::async, timed,
                             "turn allocate --rendezvous 127.0.0.1:" + std::to_string(nothing.port) +
                                 " --rendezvous-tcp-port " + std::to_string(test_support::free_loopback_port()) +
                                 " --rendezvous-tls-port " + std::to_string(tls_port) + " --rendezvous-tls-ca " +
                                 pki.other_ca + " --timeout 8 --count 0");
  const auto started = std::chrono::steady_clock::now();
  auto [code, j] = natpunch_json("turn allocate --rendezvous 127.0.0.1:" + std::to_string(silent.port) +
                                 " --rendezvous-tcp-port " + std::to_string(tcp_port) +
                                 " --rendezvous-tls-port 0 --timeout 5 --count 2 --peer " + coturn_->peer_address());
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(code, 0) << j.dump();
  EXPECT_EQ(j["rendezvous_transport"], "tcp") << j.dump();
  EXPECT_EQ(j["udp_blocked"], true) << j.dump();
  EXPECT_EQ(j["transport"], "tcp") << "the offered UDP way is not tried: " << j.dump();
  EXPECT_EQ(j.value("attempts", nlohmann::json::array()).size(), 0u) << j.dump();
  EXPECT_GE(j["peers"][0]["echoed"].get<int>(), 1) << j.dump();
  EXPECT_TRUE(j["deallocated"]);
  EXPECT_LT(took, 15.0) << "2 s of UDP silence, then TCP: " << j.dump();

  // Nothing answers: one clear line, with why TCP did not help.
  const auto r = silence.get().first;
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_EQ(r.output.rfind("error: rendezvous 127.0.0.1:" + std::to_string(nothing.port) +
                           ": no answer from the rendezvous server", 0),
            0u)
      << r.output;
  EXPECT_NE(r.output.find("over tcp"), std::string::npos) << "why TCP did not help: " << r.output;

  // The wrong CA: refused at once after the UDP wait, in one line.
  const auto [refused, refused_after] = wrong_ca.get();
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_EQ(std::count(refused.output.begin(), refused.output.end(), '\n'), 1) << refused.output;
  EXPECT_NE(refused.output.find("certificate not accepted"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("--rendezvous-tls-ca"), std::string::npos) << refused.output;
  EXPECT_LT(refused_after, 6.0) << "at once after the UDP wait, not at --timeout 8: " << refused.output;
}

// A server that answers every UDP datagram with text, or accepts TCP and
// sends a banner: not TURN.
class FakeServer {
 public:
  explicit FakeServer(bool tcp) : tcp_(tcp) {
    fd_ = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    if (tcp) listen(fd_, 4);
    timeval tick{0, 100000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  std::uint16_t port() const { return port_; }

 private:
  void serve() {
    static constexpr char kText[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
    static constexpr char kBanner[] = "SSH-2.0-OpenSSH_9.2\r\n";
    while (!stop_) {
      if (tcp_) {
        const int connection = accept(fd_, nullptr, nullptr);
        if (connection < 0) continue;
        send(connection, kBanner, sizeof kBanner - 1, MSG_NOSIGNAL);
        char ignored[512];
        timeval wait{1, 0};
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
        recv(connection, ignored, sizeof ignored, 0);
        close(connection);
      } else {
        char buffer[2048];
        sockaddr_in from{};
        socklen_t length = sizeof from;
        if (recvfrom(fd_, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &length) <= 0) continue;
        sendto(fd_, kText, sizeof kText - 1, 0, reinterpret_cast<sockaddr*>(&from), length);
      }
    }
  }
  bool tcp_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(TurnCliBadServers, GarbageOverUdpIsNoAnswerThatSaysWhy) {
  FakeServer server(false);
  const auto started = std::chrono::steady_clock::now();
  const auto r = run_command(std::string(NATPUNCH_BINARY) + " turn allocate --secret x --timeout 1 --server 127.0.0.1:" +
                             std::to_string(server.port()) + " 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("did not answer the allocation"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("neither STUN nor ChannelData (first byte 0x48 'H'): is it a TURN server?"),
            std::string::npos)
      << r.output;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

TEST(TurnCliBadServers, GarbageOverTcpEndsAtOnce) {
  FakeServer server(true);
  const auto started = std::chrono::steady_clock::now();
  const auto r = run_command(std::string(NATPUNCH_BINARY) + " turn allocate --tcp --secret x --timeout 5 --server 127.0.0.1:" +
                             std::to_string(server.port()) + " 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("neither STUN nor ChannelData (a message starting with 0x53 'S')"), std::string::npos)
      << r.output;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s) << "no waiting for a timeout";
}

TEST(TurnCliBadServers, SilenceIsAClearErrorWithinTheTimeout) {
  const std::uint16_t port = test_support::free_loopback_port();
  const auto started = std::chrono::steady_clock::now();
  auto r = run_command(std::string(NATPUNCH_BINARY) + " turn allocate --secret x --timeout 1 --server 127.0.0.1:" +
                       std::to_string(port) + " 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("did not answer the allocation"), std::string::npos) << r.output;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  r = run_command(std::string(NATPUNCH_BINARY) + " turn allocate --tcp --secret x --timeout 1 --server 127.0.0.1:" +
                  std::to_string(port) + " 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("cannot connect to TURN server 127.0.0.1:" + std::to_string(port) + " over tcp"),
            std::string::npos)
      << r.output;
}

// TurnLink::start/advance, the non-blocking open a session loop drives
// (io/turn_route_links.cpp): against a port whose backlog completes the
// connect and that never answers the ClientHello, every step returns at
// once, the ClientHello goes out, and the failure is the one line the
// blocking open() gives, once the deadline has passed.
TEST(TurnCliBadServers, SilentTlsPortIsANonBlockingHandshakeThatTimesOut) {
  test_support::SilentTcpPort silent;
  ASSERT_NE(silent.port, 0);
  const std::uint16_t port = silent.port;
  io::TurnLinkOptions options;
  options.transport = turn::Transport::kTls;
  options.server = Endpoint{IpAddress::v4({127, 0, 0, 1}), port};
  options.tls.server_name = "127.0.0.1";
  options.connect_timeout = 600ms;
  const std::string expected = "TLS with TURN server 127.0.0.1:" + std::to_string(port) +
                               " over tls: handshake not finished in time (is it a TLS port?)";

  const auto start = Clock::now();
  auto started = io::TurnLink::start(options, start);
  ASSERT_TRUE(started) << started.error();
  io::TurnLink& link = **started;
  EXPECT_FALSE(link.ready());
  EXPECT_EQ(link.deadline(), start + options.connect_timeout);
  // A message before the link is ready waits in it (bounded).
  const std::vector<std::uint8_t> request(100, 0x00);
  EXPECT_TRUE(link.send(Transmit{0, options.server, request}));
  EXPECT_FALSE(link.send(Transmit{0, options.server, std::vector<std::uint8_t>(io::TurnLink::kMaxPendingBytes, 0)})) << "over the bound";
  auto state = link.state();
  Duration longest_step{};
  while (state != io::TurnLink::State::kFailed && Clock::now() - start < 5s) {
    const auto before = Clock::now();
    state = link.advance(Clock::now());
    longest_step = std::max<Duration>(longest_step, Clock::now() - before);
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(state, io::TurnLink::State::kFailed);
  EXPECT_EQ(link.failure(), expected);
  EXPECT_GE(Clock::now() - start, options.connect_timeout) << "not before the deadline";
  EXPECT_LT(longest_step, 200ms) << "advance() never waits";
  EXPECT_FALSE(link.receive(TimePoint{})) << "nothing from a link that never got ready";
  // The ClientHello went out once the connect completed.
  const int accepted = accept(silent.fd, nullptr, nullptr);
  ASSERT_GE(accepted, 0);
  std::uint8_t first = 0;
  EXPECT_EQ(recv(accepted, &first, 1, MSG_DONTWAIT), 1);
  EXPECT_EQ(first, 0x16) << "a TLS handshake record";
  close(accepted);

  // The blocking open() is the same machine: the same line, after the timeout.
  const auto opened_at = Clock::now();
  auto opened = io::TurnLink::open(options);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error(), expected);
  EXPECT_GE(Clock::now() - opened_at, options.connect_timeout);

  // A closed port: refused, at once or at the first advance().
  const std::uint16_t closed_port = test_support::free_loopback_port();
  options.server.port = closed_port;
  options.transport = turn::Transport::kTcp;
  std::string refused;
  if (auto link2 = io::TurnLink::start(options, Clock::now())) {
    for (int i = 0; i < 100 && (*link2)->advance(Clock::now()) == io::TurnLink::State::kConnecting; ++i)
      std::this_thread::sleep_for(5ms);
    refused = (*link2)->failure();
  } else {
    refused = link2.error();
  }
  EXPECT_EQ(refused, "cannot connect to TURN server 127.0.0.1:" + std::to_string(closed_port) +
                         " over tcp: Connection refused");
}

TEST(TurnCliUsage, BadCommandLinesExit2) {
  const std::string bin = std::string(NATPUNCH_BINARY) + " turn allocate ";
  for (const std::string args : {"--server 127.0.0.1", "--server 127.0.0.1 --secret s --peer 127.0.0.1",
                                 "--server 127.0.0.1 --secret s --ca /etc/hostname", "--server 127.0.0.1 --secret s --user u --password p",
                                 "--server 127.0.0.1:99999 --secret s", "--server 127.0.0.1 --secret s --tcp --tls",
                                 "--server 127.0.0.1 --secret s --id a:b", "--secret s",
                                 "--rendezvous 127.0.0.1 --secret s", "--server 127.0.0.1 --rendezvous 127.0.0.1",
                                 "--rendezvous 127.0.0.1 --server-key abc", "--server 127.0.0.1 --secret s --server-key 00"}) {
    const auto r = run_command(bin + args + " 2>&1");
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_FALSE(r.output.empty()) << args;
  }
}

}  // namespace

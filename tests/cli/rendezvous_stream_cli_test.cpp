// Issue 20 item 4 on loopback: a client whose UDP to the rendezvous gets
// no answer registers over TCP, then TLS (`rendezvous --tcp / --tls`),
// relays over that stream, and says so in its --json result; a TLS
// certificate from another CA is refused at once with an error naming the
// server, never taken for "no answer".
//
// The blocked UDP: the connector's --rendezvous names a UDP port held by
// a socket that never reads (silence, as from a firewall that drops), and
// its --rendezvous-tcp-port / --rendezvous-tls-port name the server's
// stream listeners on the same address.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "../support/loopback_udp.hpp"
#include "../support/run_command.hpp"
#include "../support/scratch_dir.hpp"
#include "cli_processes.hpp"
#include "core/endpoint.hpp"

namespace {

using namespace std::chrono_literals;
using natpunch::cli_test::Process;
using natpunch::cli_test::read_event;
using natpunch::cli_test::Rendezvous;
using natpunch::test_support::SilentUdpPort;

// A self-signed certificate for 127.0.0.1 (its own CA), made with openssl.
struct Certificate {
  std::string cert, key;
};

class TempDir : public natpunch::test_support::ScratchDir {
 public:
  TempDir() : ScratchDir("natpunch-stream-test-" + std::to_string(getpid())) {}
};

std::optional<Certificate> make_certificate(const TempDir& dir, const std::string& name) {
  Certificate c{dir.file(name + ".crt"), dir.file(name + ".key")};
  const auto made = natpunch::test_support::run_command(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=" + name +
      " -addext subjectAltName=IP:127.0.0.1 -keyout " + c.key + " -out " + c.cert + " 2>/dev/null");
  if (made.exit_code != 0) return std::nullopt;
  return c;
}

struct StreamServer {
  std::unique_ptr<Rendezvous> server;
  std::string udp;  // its UDP address, for the listener
  std::uint16_t tcp = 0, tls = 0;
};

// A rendezvous with a TCP and/or TLS listener on free loopback ports.
std::optional<StreamServer> start_server(bool with_tcp, const Certificate* tls) {
  std::vector<std::string> extra;
  if (with_tcp) extra.insert(extra.end(), {"--tcp", "127.0.0.1:0"});
  if (tls) extra.insert(extra.end(), {"--tls", "127.0.0.1:0", "--tls-cert", tls->cert, "--tls-key", tls->key});
  StreamServer s;
  s.server = std::make_unique<Rendezvous>(extra);
  if (!s.server->ready()) return std::nullopt;
  s.udp = s.server->address;
  for (int listeners = (with_tcp ? 1 : 0) + (tls ? 1 : 0); listeners > 0; --listeners) {
    auto j = read_event(s.server->process, "listening", 5000ms);
    if (!j) return std::nullopt;
    const auto at = natpunch::Endpoint::parse((*j)["address"].get<std::string>());
    if (!at) return std::nullopt;
    ((*j)["transport"] == "tcp" ? s.tcp : s.tls) = at->port;
  }
  return s;
}

struct Outcome {
  int exit_code = -1;
  nlohmann::json result;
  std::chrono::steady_clock::duration took{};
};

// A normal listener over UDP, and a connector whose UDP is swallowed.
std::pair<Outcome, Outcome> run_blocked_pair(const StreamServer& s, const std::vector<std::string>& connector_extra) {
  SilentUdpPort silent;
  Process listener({"listen", "--rendezvous", s.udp, "--accept-any", "--json", "--wait", "15", "--no-nat-probe"});
  auto identity = listener.read_json(5000ms);
  if (!identity || (*identity)["event"] != "identity") return {};
  std::vector<std::string> args{"connect",      "--rendezvous", "127.0.0.1:" + std::to_string(silent.port),
                                "--peer",       (*identity)["identity"].get<std::string>(),
                                "--json",       "--wait",
                                "15",           "--no-nat-probe"};
  args.insert(args.end(), connector_extra.begin(), connector_extra.end());
  const auto started = std::chrono::steady_clock::now();
  Process connector(args);
  Outcome l, c;
  (void)connector.read_json(5000ms);  // identity
  if (auto j = read_event(connector, "result", 20000ms)) c.result = *j;
  c.exit_code = connector.wait(5000ms);
  c.took = std::chrono::steady_clock::now() - started;
  if (c.exit_code == 0) {
    if (auto j = read_event(listener, "result", 10000ms)) l.result = *j;
    l.exit_code = listener.wait(5000ms);
  } else {
    l.exit_code = listener.interrupt_and_wait();
  }
  return {l, c};
}

struct StreamCase {
  const char* name;
  bool server_tcp;  // the server listens on TCP too (else the connector's TCP attempt is refused)
  const char* transport;
};

class RegistersOverAStream : public testing::TestWithParam<StreamCase> {};

TEST_P(RegistersOverAStream, ConnectorWhoseUdpIsSwallowedRelaysOverIt) {
  const auto& param = GetParam();
  TempDir dir;
  const auto cert = make_certificate(dir, "rendezvous");
  ASSERT_TRUE(cert) << "openssl could not make a certificate";
  auto s = start_server(param.server_tcp, &*cert);
  ASSERT_TRUE(s);
  // Without a TCP listener, a port that refuses: a closed one next to TLS.
  const std::uint16_t tcp_port = param.server_tcp ? s->tcp : s->tls;  // TLS bytes on TCP framing: no answer
  auto [l, c] = run_blocked_pair(*s, {"--rendezvous-tcp-port", std::to_string(tcp_port), "--rendezvous-tls-port",
                                      std::to_string(s->tls), "--rendezvous-tls-ca", cert->cert});
  ASSERT_EQ(c.exit_code, 0) << c.result.dump();
  ASSERT_EQ(l.exit_code, 0) << l.result.dump();
  EXPECT_EQ(c.result["rendezvous_transport"], param.transport) << c.result.dump();
  EXPECT_EQ(l.result["rendezvous_transport"], "udp");
  for (const auto* r : {&l.result, &c.result}) {
    EXPECT_EQ((*r)["route"], "relay") << r->dump();
    EXPECT_EQ((*r)["probes_sent"], 0) << "a side whose UDP is blocked is relay-only: " << r->dump();
    EXPECT_EQ((*r)["test_datagram"], true) << r->dump();
  }
  EXPECT_EQ(c.result["received"], "natpunch test from listen");
  EXPECT_EQ(l.result["received"], "natpunch test from connect");
}

INSTANTIATE_TEST_SUITE_P(Transports, RegistersOverAStream,
                         testing::Values(StreamCase{"Tcp", true, "tcp"}, StreamCase{"TlsAfterTcpGetsNoAnswer", false, "tls"}),
                         [](const testing::TestParamInfo<StreamCase>& info) { return std::string(info.param.name); });

// `listen --sessions N` (natpunch::open_listener: a registration per
// caller) on a network that swallows UDP: every acceptor registers over
// TCP, callers on plain UDP reach it through the relay.
TEST(RendezvousStreamCli, ListenerServingSeveralCallersRegistersEachOverTcp) {
  auto s = start_server(true, nullptr);
  ASSERT_TRUE(s);
  SilentUdpPort silent;
  Process listener({"listen", "--rendezvous", "127.0.0.1:" + std::to_string(silent.port), "--accept-any", "--json",
                    "--wait", "15", "--no-nat-probe", "--sessions", "2", "--rendezvous-tcp-port",
                    std::to_string(s->tcp), "--rendezvous-tls-port", "0"});
  auto identity = listener.read_json(5000ms);
  ASSERT_TRUE(identity && (*identity)["event"] == "identity");
  for (int index = 1; index <= 2; ++index) {
    SCOPED_TRACE(index);
    Process connector({"connect", "--rendezvous", s->udp, "--peer", (*identity)["identity"].get<std::string>(),
                       "--json", "--wait", "15", "--no-nat-probe"});
    auto c = read_event(connector, "result", 20000ms);
    EXPECT_EQ(connector.wait(5000ms), 0);
    ASSERT_TRUE(c);
    EXPECT_EQ((*c)["test_datagram"], true) << c->dump();
    EXPECT_EQ((*c)["rendezvous_transport"], "udp");
    auto l = read_event(listener, "session", 10000ms);
    ASSERT_TRUE(l);
    EXPECT_EQ((*l)["rendezvous_transport"], "tcp") << l->dump();
    EXPECT_EQ((*l)["route"], "relay") << l->dump();
    EXPECT_EQ((*l)["test_datagram"], true) << l->dump();
  }
  EXPECT_EQ(listener.wait(10000ms), 0);
}

TEST(RendezvousStreamCli, CertificateFromAnotherCaIsRefusedAtOnceNamingTheServer) {
  TempDir dir;
  const auto cert = make_certificate(dir, "rendezvous");
  const auto other = make_certificate(dir, "someone-else");
  ASSERT_TRUE(cert && other);
  auto s = start_server(false, &*cert);
  ASSERT_TRUE(s);
  SilentUdpPort silent;
  const auto started = std::chrono::steady_clock::now();
  Process connector({"connect", "--rendezvous", "127.0.0.1:" + std::to_string(silent.port), "--peer",
                     std::string(64, 'a'), "--json", "--wait", "30", "--no-nat-probe", "--rendezvous-tcp-port",
                     std::to_string(s->tls), "--rendezvous-tls-port", std::to_string(s->tls), "--rendezvous-tls-ca",
                     other->cert});
  auto result = read_event(connector, "result", 20000ms);
  const int code = connector.wait(5000ms);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(result);
  EXPECT_EQ(code, 1);
  const std::string error = (*result)["error"].get<std::string>();
  EXPECT_NE(error.find("certificate"), std::string::npos) << error;
  EXPECT_NE(error.find("127.0.0.1:" + std::to_string(s->tls)), std::string::npos) << "names the server: " << error;
  EXPECT_EQ(error.find("no answer from the rendezvous"), std::string::npos) << error;
  EXPECT_EQ(error.find("without an answer"), std::string::npos) << "one reason, not the TCP attempt's too: " << error;
  EXPECT_LT(took, 15s) << "refused when the handshake fails, not at the end of --wait";
}

int connect_tcp(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True when the server closed `fd` within `ms` (EOF or reset).
bool closed_within(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, ms) != 1) return false;
  char byte = 0;
  return ::read(fd, &byte, 1) <= 0;
}

// --stream-max-connections is wired to the listener: the connection over
// the table is closed at once, the others are held (they have 10 s to send
// a first frame).
TEST(RendezvousStreamCli, ConnectionsOverTheCapAreClosedAtOnce) {
  StreamServer capped;
  {
    std::vector<std::string> extra{"--tcp", "127.0.0.1:0", "--stream-max-connections", "4"};
    capped.server = std::make_unique<Rendezvous>(extra);
    ASSERT_TRUE(capped.server->ready());
    auto j = read_event(capped.server->process, "listening", 5000ms);
    ASSERT_TRUE(j);
    capped.tcp = natpunch::Endpoint::parse((*j)["address"].get<std::string>())->port;
  }
  std::vector<int> held;
  for (int i = 0; i < 4; ++i) held.push_back(connect_tcp(capped.tcp));
  for (int fd : held) ASSERT_GE(fd, 0);
  const int over = connect_tcp(capped.tcp);
  ASSERT_GE(over, 0);  // the kernel accepts; the server closes it
  EXPECT_TRUE(closed_within(over, 3000)) << "the fifth connection is closed at once";
  for (int fd : held) EXPECT_FALSE(closed_within(fd, 50)) << "the first four are held";
  for (int fd : held) ::close(fd);
  ::close(over);
}

// Something that is not our framing (an HTTP request: its first two bytes
// read as a length far over the largest message) is not waited for.
TEST(RendezvousStreamCli, ABrokenFrameClosesTheConnectionAtOnce) {
  auto s = start_server(true, nullptr);
  ASSERT_TRUE(s);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(s->tcp);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 3000), 1) << "closed within 3 s";
  char byte = 0;
  EXPECT_LE(::read(fd, &byte, 1), 0) << "nothing answered, the connection closed";
  ::close(fd);
}

TEST(RendezvousStreamCli, TlsWithoutCertificateOrKeyIsAUsageError) {
  const auto r = natpunch::test_support::run_command(std::string(NATPUNCH_BINARY) +
                                                    " rendezvous --listen 127.0.0.1:0 --tls 0 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--tls needs --tls-cert"), std::string::npos) << r.output;
}

// `probe` needs UDP (STUN): where UDP gets no answer at all but the
// rendezvous answers over TCP, it says in one line that UDP is blocked
// ("udp_blocked": true under --json, exit 1), instead of blaming the server.
TEST(RendezvousStreamCli, ProbeWhereOnlyTcpAnswersSaysUdpIsBlockedInOneLine) {
  auto s = start_server(true, nullptr);
  ASSERT_TRUE(s);
  SilentUdpPort silent;
  TempDir dir;
  const auto started = std::chrono::steady_clock::now();
  const auto r = natpunch::test_support::run_command(
      std::string(NATPUNCH_BINARY) + " probe --rendezvous 127.0.0.1:" + std::to_string(silent.port) +
      " --rendezvous-tcp-port " + std::to_string(s->tcp) + " --rendezvous-tls-port 0 --json 2>" + dir.file("err"));
  const auto took = std::chrono::steady_clock::now() - started;
  const auto err = natpunch::test_support::run_command("cat " + dir.file("err")).output;
  EXPECT_EQ(r.exit_code, 1) << r.output << err;
  const auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.output;
  EXPECT_EQ(j.value("udp_blocked", nlohmann::json()), true) << j.dump();
  EXPECT_EQ(j.value("interrupted", true), false) << j.dump();
  EXPECT_NE(j.value("error", "").find("UDP is blocked"), std::string::npos) << j.dump();
  EXPECT_EQ(err, "error: " + j.value("error", "") + "\n") << "one line, the same words";
  EXPECT_NE(err.find("TCP at 127.0.0.1:" + std::to_string(s->tcp)), std::string::npos) << err;
  EXPECT_LT(took, 10s) << "bounded: STUN's retransmissions, then 1.5 s per check";
}

// `turn allocate --rendezvous --no-stream-fallback` registers over UDP
// only: where UDP gets no answer but the rendezvous answers over TCP on the
// same port number, it says so in one line and names the way around (the
// fallback itself: TurnCli.RendezvousOverTcpWhereUdpIsBlocked).
TEST(RendezvousStreamCli, TurnAllocateWithoutStreamFallbackWhereOnlyTcpAnswersSaysUdpIsBlocked) {
  auto s = start_server(true, nullptr);
  ASSERT_TRUE(s);
  SilentUdpPort silent(s->tcp);  // UDP silent, TCP the rendezvous's: one port number
  if (silent.port == 0) GTEST_SKIP() << "UDP port " << s->tcp << " is taken";
  TempDir dir;
  const auto r = natpunch::test_support::run_command(std::string(NATPUNCH_BINARY) +
                                                    " turn allocate --rendezvous 127.0.0.1:" + std::to_string(s->tcp) +
                                                    " --no-stream-fallback --timeout 2 --json 2>" + dir.file("err"));
  const auto err = natpunch::test_support::run_command("cat " + dir.file("err")).output;
  EXPECT_EQ(r.exit_code, 1) << r.output << err;
  const auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.output;
  EXPECT_EQ(j.value("udp_blocked", false), true) << j.dump();
  EXPECT_NE(j.value("error", "").find("UDP is blocked"), std::string::npos) << j.dump();
  EXPECT_NE(j.value("error", "").find("--no-stream-fallback"), std::string::npos) << j.dump();
  EXPECT_EQ(err, "error: " + j.value("error", "") + "\n") << "one line, the same words";
}

struct NoStunCase {
  const char* name;
  bool udp_swallowed;  // else the rendezvous answers over UDP (but not STUN: no --stun-alt)
  const char* says;
  const char* never_says;
};

class NoStunAnswer : public testing::TestWithParam<NoStunCase> {};

// `connect` learning its NAT gets no STUN answer: it says why once it has
// registered -- UDP blocked on this network (nothing came back over UDP,
// the registration went over TCP) or a rendezvous without --stun-alt (it
// answers its registration over UDP) -- never blaming the server for the
// network. The peer is unknown: once the connector waits for it, Ctrl-C.
TEST_P(NoStunAnswer, SaysWhyByHowItRegistered) {
  const auto& c = GetParam();
  auto s = start_server(true, nullptr);
  ASSERT_TRUE(s);
  SilentUdpPort silent;
  const std::string rendezvous = c.udp_swallowed ? "127.0.0.1:" + std::to_string(silent.port) : s->udp;
  // stderr (the progress lines) read as stdout.
  natpunch::test_support::ChildProcess connector(
      "/bin/sh", {"-c", "exec " + std::string(NATPUNCH_BINARY) + " connect --rendezvous " + rendezvous +
                            " --rendezvous-tcp-port " + std::to_string(s->tcp) + " --rendezvous-tls-port 0 --peer " +
                            std::string(64, 'a') + " --wait 15 2>&1"});
  std::string err;
  while (auto line = connector.read_line(10000ms)) {
    err += *line + "\n";
    if (line->find("is not registered") != std::string::npos) break;  // waiting for the peer: all was said
  }
  EXPECT_EQ(connector.interrupt_and_wait(), 130) << err;
  EXPECT_NE(err.find(c.says), std::string::npos) << err;
  EXPECT_EQ(err.find(c.never_says), std::string::npos) << err;
  const auto registered = err.find("registered at"), why = err.find(c.says);
  EXPECT_LT(registered, why) << "said once the registration shows which: " << err;
}

INSTANTIATE_TEST_SUITE_P(
    Networks, NoStunAnswer,
    testing::Values(NoStunCase{"UdpBlocked", true, "warning: UDP is blocked on this network", "--stun-alt"},
                    NoStunCase{"ServerWithoutStunAlt", false, "though it answers over UDP (start it with --stun-alt",
                               "UDP is blocked"}),
    [](const testing::TestParamInfo<NoStunCase>& info) { return std::string(info.param.name); });

// Ctrl-C while the connector's fallback blocks in a TCP connect or a TLS
// handshake (both wait up to 3 s for a server that drops SYNs or never
// answers): it ends within a second with the usual report and exit 130,
// not when the connect gives up.
//
// The blackhole: a loopback listener with a backlog of 0 whose accept
// queue holds one connection already; the kernel drops every further SYN
// (a full accept queue), so a connect to it waits in SYN-SENT. The stalled
// handshake: a listener that never accepts; the kernel completes the TCP
// handshake, nobody answers the ClientHello.
struct TcpListener {
  int fd = -1, filler = -1;
  std::uint16_t port = 0;
  // `listening`: false gives a bound port without a listener (refused).
  TcpListener(bool listening, int backlog) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof a;
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), n) == 0 &&
        (!listening || ::listen(fd, backlog) == 0) && ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n) == 0)
      port = ntohs(a.sin_port);
  }
  ~TcpListener() {
    if (filler >= 0) ::close(filler);
    if (fd >= 0) ::close(fd);
  }
};

// Whether some socket to 127.0.0.1:`port` is in `state` (ss's name).
bool socket_in_state(const std::string& state, std::uint16_t port) {
  const auto r = natpunch::test_support::run_command("ss -Htn state " + state + " '( dport = :" +
                                                     std::to_string(port) + " )' 2>/dev/null");
  return r.output.find("127.0.0.1:" + std::to_string(port)) != std::string::npos;
}

struct InterruptCase {
  const char* name;
  bool handshake;  // false: interrupted in the TCP connect; true: in the TLS handshake
};

class CtrlCDuringAStreamConnect : public testing::TestWithParam<InterruptCase> {};

TEST_P(CtrlCDuringAStreamConnect, EndsWithinASecondWithTheReportAndExit130) {
  const bool handshake = GetParam().handshake;
  SilentUdpPort silent;
  TcpListener refused(false, 0);
  TcpListener blackhole(true, 0);
  ASSERT_NE(blackhole.port, 0);
  if (!handshake) {
    blackhole.filler = connect_tcp(blackhole.port);
    ASSERT_GE(blackhole.filler, 0);
  }
  // TCP: the blackhole; TLS after it (a closed port, refused at once), or
  // TCP refused at once and TLS the stalled listener.
  const auto tcp = handshake ? refused.port : blackhole.port;
  const auto tls = handshake ? blackhole.port : refused.port;
  Process connector({"connect", "--rendezvous", "127.0.0.1:" + std::to_string(silent.port), "--peer",
                     std::string(64, 'a'), "--json", "--wait", "30", "--no-nat-probe", "--rendezvous-tcp-port",
                     std::to_string(tcp), "--rendezvous-tls-port", std::to_string(tls)});
  // UDP gets no answer for 2 s, then the fallback connects.
  const char* state = handshake ? "established" : "syn-sent";
  bool waiting = false;
  for (int i = 0; i < 200 && !(waiting = socket_in_state(state, blackhole.port)); ++i)
    std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(waiting) << "the connector never reached the " << state << " connection";
  const auto signalled = std::chrono::steady_clock::now();
  connector.interrupt();
  const int code = connector.wait(5000ms);
  const auto took = std::chrono::steady_clock::now() - signalled;
  EXPECT_EQ(code, 130);
  EXPECT_LT(took, 1s) << "Ctrl-C waited for the " << (handshake ? "handshake" : "connect");
  auto result = read_event(connector, "result", 1000ms);
  ASSERT_TRUE(result) << "no result event";
  EXPECT_EQ((*result).value("interrupted", false), true) << result->dump();
}

INSTANTIATE_TEST_SUITE_P(States, CtrlCDuringAStreamConnect,
                         testing::Values(InterruptCase{"TcpConnectToABlackhole", false},
                                         InterruptCase{"TlsHandshakeNobodyAnswers", true}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace

// `natpunch rendezvous` as a real process on loopback, with two clients
// driven by io::RendezvousClientRunner: matching session info and relay
// both ways; identity files; usage errors; clean stop on SIGINT.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "../support/child_process.hpp"
#include "../support/run_command.hpp"
#include "io/rendezvous_client_runner.hpp"

namespace {

using namespace natpunch;
using namespace std::chrono_literals;

// `natpunch ARGS...` as a child process whose stdout we read line by line;
// stopped with SIGINT (interrupt_and_wait).
struct ServerProcess : natpunch::test_support::ChildProcess {
  explicit ServerProcess(const std::vector<std::string>& args) : ChildProcess(NATPUNCH_BINARY, args) {}
};

std::filesystem::path temp_dir() {
  auto dir = std::filesystem::temp_directory_path() / ("natpunch-rdv-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

rendezvous::ClientConfig client_config(const Endpoint& server, const rendezvous::PublicKey& server_key) {
  rendezvous::ClientConfig c;
  c.server = server;
  c.identity = rendezvous::Identity::generate(rendezvous::system_random_bytes());
  c.pinned_server_key = server_key;
  c.info.mapping = nat::MappingBehavior::EndpointIndependent;
  c.info.filtering = nat::FilteringBehavior::AddressAndPortDependent;
  c.info.carrier_profile = "kpn-nl";
  c.initial_retransmit = 100ms;
  return c;
}

TEST(RendezvousCli, TwoClientsGetMatchingSessionsAndRelayBothWays) {
  ServerProcess server({"rendezvous", "--listen", "127.0.0.1:0", "--json-log", "--start-delay-ms", "300"});
  ASSERT_TRUE(server.started());
  auto ready_line = server.read_line(5000ms);
  ASSERT_TRUE(ready_line);
  auto ready = nlohmann::json::parse(*ready_line, nullptr, false);
  ASSERT_FALSE(ready.is_discarded()) << *ready_line;
  ASSERT_EQ(ready["event"], "listening");
  const auto server_endpoint = Endpoint::parse(ready["address"].get<std::string>());
  const auto server_key = rendezvous::parse_public_key(ready["server_key"].get<std::string>());
  ASSERT_TRUE(server_endpoint && server_key);

  const Endpoint any{IpAddress::v4({127, 0, 0, 1}), 0};
  auto a_config = client_config(*server_endpoint, *server_key);
  auto b_config = client_config(*server_endpoint, *server_key);
  b_config.accept_policy = rendezvous::accept_from({a_config.identity.public_key});
  auto a = io::RendezvousClientRunner::open(any, a_config);
  auto b = io::RendezvousClientRunner::open(any, b_config);
  ASSERT_TRUE(a && b);
  auto a_seen = (*a)->wait_registered(5s);
  auto b_seen = (*b)->wait_registered(5s);
  ASSERT_TRUE(a_seen) << a_seen.error();
  ASSERT_TRUE(b_seen) << b_seen.error();
  EXPECT_EQ(*a_seen, (*a)->local_endpoint());

  auto callee = std::async(std::launch::async, [&] { return (*b)->wait_for_session(5s); });
  auto sa = (*a)->connect(b_config.identity.public_key, 5s);
  auto sb = callee.get();
  ASSERT_TRUE(sa) << sa.error();
  ASSERT_TRUE(sb) << sb.error();
  EXPECT_EQ(sa->session_id, sb->session_id);
  EXPECT_EQ(sa->session_key, sb->session_key);
  EXPECT_EQ(sa->peer_observed, *b_seen);
  EXPECT_EQ(sb->peer_observed, *a_seen);
  EXPECT_EQ(sb->peer_info.carrier_profile, "kpn-nl");
  EXPECT_EQ(sa->peer, b_config.identity.public_key);
  // The common start time agrees to within scheduling noise on one host.
  const auto skew = sa->start_at > sb->start_at ? sa->start_at - sb->start_at : sb->start_at - sa->start_at;
  EXPECT_LT(skew, 100ms);

  const std::vector<std::uint8_t> ping{'p', 'i', 'n', 'g'}, pong{'p', 'o', 'n', 'g'};
  ASSERT_TRUE((*a)->send_relay(sa->session_id, ping));
  auto at_b = (*b)->receive_relay(sb->session_id, 3s);
  ASSERT_TRUE(at_b);
  EXPECT_EQ(*at_b, ping);
  ASSERT_TRUE((*b)->send_relay(sb->session_id, pong));
  auto at_a = (*a)->receive_relay(sa->session_id, 3s);
  ASSERT_TRUE(at_a);
  EXPECT_EQ(*at_a, pong);

  EXPECT_EQ(server.interrupt_and_wait(), 0) << "Ctrl-C stops the server cleanly";
  std::vector<nlohmann::json> log;
  while (auto line = server.read_line(2000ms)) log.push_back(nlohmann::json::parse(*line, nullptr, false));
  int registered = 0, sessions = 0;
  std::optional<nlohmann::json> stopped;
  for (const auto& j : log) {
    ASSERT_FALSE(j.is_discarded());
    if (j["event"] == "registered") ++registered;
    if (j["event"] == "session-created") ++sessions;
    if (j["event"] == "stopped") stopped = j;
  }
  EXPECT_EQ(registered, 2);
  EXPECT_EQ(sessions, 1);
  ASSERT_TRUE(stopped);
  EXPECT_EQ((*stopped)["counters"]["relay_packets"], 2);
  EXPECT_EQ((*stopped)["counters"]["sessions_created"], 1);
}

TEST(RendezvousCli, IdentityFileIsCreatedPrivateAndKeepsTheServerKey) {
  const auto path = temp_dir() / "server.key";
  std::filesystem::remove(path);
  std::string first_key;
  for (int run = 0; run < 2; ++run) {
    ServerProcess server({"rendezvous", "--listen", "127.0.0.1:0", "--json-log", "--identity", path.string()});
    auto line = server.read_line(5000ms);
    ASSERT_TRUE(line);
    const auto key = nlohmann::json::parse(*line)["server_key"].get<std::string>();
    if (run == 0) first_key = key;
    EXPECT_EQ(key, first_key) << "the same file gives the same server key";
    EXPECT_EQ(server.interrupt_and_wait(), 0);
  }
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::filesystem::remove_all(path.parent_path());
}

// A UDP port free in both families: a dual-stack [::]:0 socket holds the
// number for IPv4 and IPv6 alike while it lives (0 when IPv6 is missing).
std::uint16_t port_free_in_both_families() {
  const int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  const int off = 0;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  socklen_t n = sizeof a;
  std::uint16_t port = 0;
  if (::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) == 0 &&
      ::bind(fd, reinterpret_cast<sockaddr*>(&a), n) == 0 && ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n) == 0)
    port = ntohs(a.sin6_port);
  ::close(fd);
  return port;
}

class DualStackWildcards : public testing::TestWithParam<bool> {};

// `--listen [::]:P,0.0.0.0:P` (either order): the IPv6 wildcard socket is
// IPv6-only, so the IPv4 one binds the same port, and each family's
// clients register on their own socket (seen as 127.0.0.1, not as a
// v4-mapped IPv6 address).
TEST_P(DualStackWildcards, BothFamiliesListenOnOnePort) {
  const std::uint16_t port = port_free_in_both_families();
  if (port == 0) GTEST_SKIP() << "no IPv6 on this host";
  const std::string v4 = "0.0.0.0:" + std::to_string(port), v6 = "[::]:" + std::to_string(port);
  ServerProcess server({"rendezvous", "--listen", GetParam() ? v6 + "," + v4 : v4 + "," + v6, "--json-log"});
  ASSERT_TRUE(server.started());
  std::optional<rendezvous::PublicKey> server_key;
  std::vector<std::string> listening;
  for (int k = 0; k < 2; ++k) {
    auto line = server.read_line(5000ms);
    ASSERT_TRUE(line) << "the server did not start (exit " << server.wait(5000ms) << ")";
    auto j = nlohmann::json::parse(*line, nullptr, false);
    ASSERT_TRUE(j.is_object() && j["event"] == "listening") << *line;
    listening.push_back(j["address"].get<std::string>());
    if (j.contains("server_key")) server_key = rendezvous::parse_public_key(j["server_key"].get<std::string>());
  }
  std::sort(listening.begin(), listening.end());
  EXPECT_EQ(listening, (std::vector<std::string>{v4, v6}));
  ASSERT_TRUE(server_key);
  for (const char* loopback : {"127.0.0.1", "::1"}) {
    SCOPED_TRACE(loopback);
    const auto address = *IpAddress::parse(loopback);
    auto client = io::RendezvousClientRunner::open(Endpoint{address, 0}, client_config(Endpoint{address, port}, *server_key));
    ASSERT_TRUE(client) << client.error();
    auto seen = (*client)->wait_registered(5s);
    ASSERT_TRUE(seen) << seen.error();
    EXPECT_EQ(*seen, (*client)->local_endpoint());
  }
  EXPECT_EQ(server.interrupt_and_wait(), 0);
}

INSTANTIATE_TEST_SUITE_P(Orders, DualStackWildcards, testing::Bool(),
                         [](const testing::TestParamInfo<bool>& info) { return info.param ? "Ipv6First" : "Ipv4First"; });

int natpunch_exit(const std::string& args) {
  return test_support::run_command(std::string(NATPUNCH_BINARY) + " " + args + " >/dev/null 2>&1").exit_code;
}

TEST(RendezvousCli, BadOptionsAndIdentityFilesExitWith2) {
  const auto dir = temp_dir();
  const auto corrupt = dir / "corrupt.key";
  std::ofstream(corrupt) << "natpunch-ed25519-seed-v1 nothex\n";
  std::filesystem::permissions(corrupt, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const auto shared = dir / "shared.key";
  std::ofstream(shared) << "natpunch-ed25519-seed-v1 " << std::string(64, 'a') << "\n";
  std::filesystem::permissions(shared, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                                           std::filesystem::perms::group_read);
  EXPECT_EQ(natpunch_exit("rendezvous --listen 1.2.3:4"), 2);
  EXPECT_EQ(natpunch_exit("rendezvous"), 2);
  EXPECT_EQ(natpunch_exit("rendezvous --listen 127.0.0.1:0 --max-sessions 0"), 2);
  EXPECT_EQ(natpunch_exit("rendezvous --listen 127.0.0.1:0 --max-registrations-per-identity 0"), 2);
  EXPECT_EQ(natpunch_exit("rendezvous --listen 127.0.0.1:0 --identity " + corrupt.string()), 2);
  EXPECT_EQ(natpunch_exit("rendezvous --listen 127.0.0.1:0 --identity " + shared.string()), 2);
  EXPECT_EQ(natpunch_exit("rendezvous --listen 127.0.0.1:0 --identity /nonexistent-dir/x.key"), 2);
  std::filesystem::remove_all(dir);
}

TEST(RendezvousCli, HelpTeachesTheOptions) {
  auto r = test_support::run_command(std::string(NATPUNCH_BINARY) + " rendezvous --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* word : {"--listen", "--identity", "--json-log", "--relay-session-bytes", "--max-registrations",
                           "--max-registrations-per-identity", "Example"})
    EXPECT_NE(r.output.find(word), std::string::npos) << word;
}

}  // namespace

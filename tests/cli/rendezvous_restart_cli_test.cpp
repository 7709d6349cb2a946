// The rendezvous server restarts under a registered listener (issue 8): a
// `natpunch listen --accept-any` registers, the server is stopped and
// started again on the same port with the same identity file, the listener
// registers again by itself (its next refresh is answered "not
// registered"), and a `natpunch connect` made after the restart reaches it.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

#include "../support/child_process.hpp"

namespace {

using namespace std::chrono_literals;
using natpunch::test_support::ChildProcess;

struct Process : ChildProcess {
  explicit Process(const std::vector<std::string>& args) : ChildProcess(NATPUNCH_BINARY, args) {}
};

// The next JSON line whose "event" is `event`, skipping others; nullopt after `timeout`.
std::optional<nlohmann::json> next_event(ChildProcess& p, const std::string& event, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto j = p.read_json(left);
    if (!j) return std::nullopt;
    if ((*j)["event"] == event) return j;
  }
  return std::nullopt;
}

std::vector<std::string> rendezvous_args(const std::string& listen, const std::string& identity) {
  // A 4 s registration lifetime makes clients refresh every second, so the
  // restart is noticed within about a second instead of 30.
  return {"rendezvous", "--listen", listen,        "--json-log", "--identity", identity, "--registration-lifetime",
          "4",          "--start-delay-ms", "200"};
}

TEST(RendezvousRestartCli, ListenerReRegistersByItselfAndIsReachableAfterARestart) {
  const auto dir = std::filesystem::temp_directory_path() / ("natpunch-restart-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string identity = (dir / "server.key").string();

  std::optional<Process> server;
  server.emplace(rendezvous_args("127.0.0.1:0", identity));
  auto ready = next_event(*server, "listening", 5000ms);
  ASSERT_TRUE(ready);
  const std::string address = (*ready)["address"].get<std::string>();
  const std::string server_key = (*ready)["server_key"].get<std::string>();

  Process listener({"listen", "--rendezvous", address, "--server-key", server_key, "--accept-any", "--json", "--wait",
                    "30"});
  auto own = listener.read_json(5000ms);
  ASSERT_TRUE(own && (*own)["event"] == "identity") << "listen prints its identity first";
  const std::string listener_identity = (*own)["identity"].get<std::string>();
  auto first = next_event(*server, "registered", 5000ms);
  ASSERT_TRUE(first) << "the listener registers";
  EXPECT_EQ((*first)["identity"], listener_identity);

  // Restart: same port, same key; the new process knows nobody.
  ASSERT_EQ(server->interrupt_and_wait(), 0);
  server.reset();
  server.emplace(rendezvous_args(address, identity));
  auto again = next_event(*server, "listening", 5000ms);
  ASSERT_TRUE(again) << "the port is free again at once (UDP)";
  EXPECT_EQ((*again)["address"], address);
  EXPECT_EQ((*again)["server_key"], server_key);
  const auto restarted_at = std::chrono::steady_clock::now();
  auto re_registered = next_event(*server, "registered", 10000ms);
  ASSERT_TRUE(re_registered) << "the listener did not register again by itself";
  EXPECT_EQ((*re_registered)["identity"], listener_identity);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - restarted_at);
  std::printf("[restart] listener registered again %lld ms after the server came back\n",
              static_cast<long long>(took.count()));

  Process connector({"connect", "--rendezvous", address, "--server-key", server_key, "--peer", listener_identity,
                     "--json", "--wait", "10"});
  auto connector_identity = connector.read_json(5000ms);
  ASSERT_TRUE(connector_identity);
  auto connected = next_event(connector, "result", 15000ms);
  ASSERT_TRUE(connected) << "connect printed no result";
  EXPECT_EQ((*connected)["event"], "result") << connected->dump();
  EXPECT_EQ((*connected)["route"], "direct") << connected->dump();
  EXPECT_EQ((*connected)["test_datagram"], true) << connected->dump();
  EXPECT_EQ(connector.wait(5000ms), 0);
  auto accepted = next_event(listener, "result", 15000ms);
  ASSERT_TRUE(accepted);
  EXPECT_EQ((*accepted)["event"], "result") << accepted->dump();
  EXPECT_EQ((*accepted)["route"], "direct") << accepted->dump();
  EXPECT_EQ((*accepted)["session_id"], (*connected)["session_id"]);
  EXPECT_EQ(listener.wait(5000ms), 0);
  EXPECT_TRUE(next_event(*server, "session-created", 2000ms)) << "the session went through the restarted server";
  EXPECT_EQ(server->interrupt_and_wait(), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace

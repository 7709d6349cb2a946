// One identity, several sessions, on loopback with a real `natpunch
// rendezvous`: `natpunch listen --sessions 3` serving three concurrent
// `natpunch connect`s (each its own session and socket, each exchanging the
// test datagram), a connect started before its listener registered, and
// the natpunch::Listener API while the same identity connects elsewhere.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <natpunch/session.hpp>

#include "../support/child_process.hpp"
#include "background_listen.hpp"
#include "cli_processes.hpp"

namespace {

using namespace std::chrono_literals;

using natpunch::cli_test::listen_in_background;
using natpunch::cli_test::Process;
using natpunch::cli_test::read_event;
using natpunch::cli_test::Rendezvous;

// A shell around natpunch so stderr (progress lines) reaches our pipe too.
struct ShellProcess : natpunch::test_support::ChildProcess {
  explicit ShellProcess(const std::string& command) : ChildProcess("/bin/sh", {"-c", command + " 2>&1"}) {}
};

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("np-listener-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::string keygen(const std::filesystem::path& file) {
  Process p({"keygen", "--identity", file.string()});
  auto line = p.read_line(5000ms);
  p.wait(5000ms);
  return line.value_or("");
}


TEST(ListenCli, SessionsThreeServesThreeConcurrentCallers) {
  Rendezvous server;
  ASSERT_TRUE(server.ready());
  Process listener({"listen", "--rendezvous", server.address, "--accept-any", "--json", "--wait", "20",
                    "--sessions", "3"});
  auto identity = listener.read_json(5000ms);
  ASSERT_TRUE(identity && (*identity)["event"] == "identity");
  const std::string key = (*identity)["identity"].get<std::string>();
  std::this_thread::sleep_for(300ms);  // registered (connect would keep asking anyway)
  std::vector<std::unique_ptr<Process>> callers;
  for (int i = 0; i < 3; ++i)
    callers.push_back(std::make_unique<Process>(std::vector<std::string>{
        "connect", "--rendezvous", server.address, "--peer", key, "--json", "--wait", "20"}));
  std::set<std::uint64_t> caller_sessions;
  for (auto& c : callers) {
    auto result = read_event(*c, "result", 30000ms);
    ASSERT_TRUE(result);
    EXPECT_EQ((*result)["test_datagram"], true) << result->dump();
    EXPECT_EQ((*result)["received"], "natpunch test from listen");
    EXPECT_EQ((*result)["route"], "direct") << result->dump();
    caller_sessions.insert((*result)["session_id"].get<std::uint64_t>());
    EXPECT_EQ(c->wait(5000ms), 0);
  }
  EXPECT_EQ(caller_sessions.size(), 3u);
  std::set<std::uint64_t> listener_sessions;
  std::set<std::string> listener_sockets;  // each session on its own socket
  std::set<int> indexes;
  for (int i = 0; i < 3; ++i) {
    auto s = read_event(listener, "session", 10000ms);
    ASSERT_TRUE(s) << i;
    EXPECT_EQ((*s)["test_datagram"], true) << s->dump();
    EXPECT_EQ((*s)["route"], "direct");
    EXPECT_GE((*s)["time_to_connect_ms"].get<double>(), 0.0);
    listener_sessions.insert((*s)["session_id"].get<std::uint64_t>());
    listener_sockets.insert((*s)["observed"].get<std::string>());
    indexes.insert((*s)["index"].get<int>());
  }
  EXPECT_EQ(listener_sessions, caller_sessions);
  EXPECT_EQ(listener_sockets.size(), 3u);
  EXPECT_EQ(indexes, (std::set<int>{1, 2, 3}));
  auto result = read_event(listener, "result", 10000ms);
  ASSERT_TRUE(result);
  EXPECT_EQ((*result)["sessions"], 3);
  EXPECT_EQ((*result)["sessions_ok"], 3);
  EXPECT_EQ(listener.wait(5000ms), 0);
}

// `rendezvous --max-registrations-per-identity 1`: a second listener with
// the same identity file is refused and says why.
TEST(ListenCli, AnIdentityOverItsRegistrationLimitIsToldWhy) {
  Rendezvous server({"--max-registrations-per-identity", "1"});
  ASSERT_TRUE(server.ready());
  TempDir dir;
  const std::string key = (dir.path / "me.key").string();
  Process first({"listen", "--rendezvous", server.address, "--identity", key, "--accept-any", "--json", "--wait", "20"});
  ASSERT_TRUE(read_event(server.process, "registered", 5000ms)) << "the first listener registered";
  ShellProcess second(std::string(NATPUNCH_BINARY) + " listen --rendezvous " + server.address + " --identity " + key +
                      " --accept-any --wait 2");
  std::string output;
  while (auto line = second.read_line(8000ms)) output += *line + "\n";
  EXPECT_EQ(second.wait(5000ms), 1) << output;
  EXPECT_NE(output.find("too many registrations for this identity"), std::string::npos) << output;
  first.interrupt();
}

TEST(ListenCli, SessionsTextReportsEachSession) {
  Rendezvous server;
  ASSERT_TRUE(server.ready());
  Process listener({"listen", "--rendezvous", server.address, "--accept-any", "--wait", "20", "--sessions", "2"});
  auto first = listener.read_line(5000ms);
  ASSERT_TRUE(first && first->rfind("identity: ", 0) == 0);
  const std::string key = first->substr(10);
  std::vector<std::unique_ptr<Process>> callers;
  for (int i = 0; i < 2; ++i)
    callers.push_back(std::make_unique<Process>(
        std::vector<std::string>{"connect", "--rendezvous", server.address, "--peer", key, "--wait", "20"}));
  for (auto& c : callers) EXPECT_EQ(c->wait(30000ms), 0);
  int sessions = 0;
  std::optional<std::string> summary;
  while (auto line = listener.read_line(10000ms)) {
    if (line->rfind("session ", 0) == 0) {
      ++sessions;
      EXPECT_NE(line->find("route: direct"), std::string::npos) << *line;
      EXPECT_NE(line->find("time-to-connect: "), std::string::npos) << *line;
      EXPECT_NE(line->find("test datagram: ok"), std::string::npos) << *line;
    }
    if (line->rfind("served ", 0) == 0) {
      summary = *line;
      break;
    }
  }
  EXPECT_EQ(sessions, 2);
  ASSERT_TRUE(summary);
  EXPECT_EQ(*summary, "served 2 session(s), 2 ok");
  EXPECT_EQ(listener.wait(5000ms), 0);
}

TEST(ListenCli, SessionsWithNoCallerEndsAfterTheWait) {
  Rendezvous server;
  ASSERT_TRUE(server.ready());
  Process listener({"listen", "--rendezvous", server.address, "--accept-any", "--json", "--wait", "1",
                    "--sessions", "2"});
  auto result = read_event(listener, "result", 10000ms);
  ASSERT_TRUE(result);
  EXPECT_EQ((*result)["sessions"], 0);
  EXPECT_EQ(listener.wait(5000ms), 1);
}

// Task: a connect started before the listener registered still succeeds,
// saying meanwhile that it waits.
TEST(ConnectCli, ConnectStartedBeforeTheListenerKeepsAskingUntilItRegisters) {
  Rendezvous server;
  ASSERT_TRUE(server.ready());
  TempDir dir;
  const auto key_file = dir.path / "listener.key";
  const std::string key = keygen(key_file);
  ASSERT_EQ(key.size(), 64u);
  ShellProcess caller(std::string(NATPUNCH_BINARY) + " connect --rendezvous " + server.address + " --peer " + key +
                      " --json --wait 20");
  std::this_thread::sleep_for(1500ms);
  Process listener({"listen", "--rendezvous", server.address, "--accept-any", "--json", "--wait", "20", "--identity",
                    key_file.string()});
  bool told = false;
  std::optional<nlohmann::json> result;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!result && std::chrono::steady_clock::now() < deadline) {
    auto line = caller.read_line(20000ms);
    if (!line) break;
    if (line->find("is not registered") != std::string::npos) told = true;
    auto j = nlohmann::json::parse(*line, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.value("event", "") == "result") result = j;
  }
  EXPECT_TRUE(told) << "a progress line while the listener was missing";
  ASSERT_TRUE(result);
  EXPECT_EQ((*result)["test_datagram"], true) << result->dump();
  EXPECT_EQ((*result)["peer"], key);
  EXPECT_EQ(caller.wait(5000ms), 0);
  EXPECT_EQ(listener.wait(10000ms), 0);
}

TEST(ConnectCli, ConnectToAPeerThatNeverRegistersFailsWhenTheWaitEnds) {
  Rendezvous server;
  ASSERT_TRUE(server.ready());
  const auto start = std::chrono::steady_clock::now();
  Process caller({"connect", "--rendezvous", server.address, "--peer", std::string(64, 'a'), "--json", "--wait", "2"});
  EXPECT_EQ(caller.wait(10000ms), 1);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 1900ms) << "kept asking for the whole wait";
  EXPECT_LT(took, 8s);
}

// The library: one identity file serves two callers through a Listener and,
// at the same time, connects to another listener.
TEST(SessionApi, ListenerServesSeveralCallersWhileTheSameIdentityConnects) {
  Rendezvous server;
  ASSERT_TRUE(server.ready());
  TempDir dir;
  natpunch::SessionOptions base;
  base.rendezvous = server.address;
  base.wait = std::chrono::seconds(15);
  natpunch::SessionOptions mine = base;
  mine.identity_file = (dir.path / "me.key").string();
  auto listener = natpunch::open_listener(mine, {});
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  const std::string my_key = (*listener)->identity();
  ASSERT_EQ(my_key.size(), 64u);

  // Another peer listens; we call it with the same identity file.
  natpunch::SessionOptions other = base;
  other.identity_file = (dir.path / "other.key").string();
  auto [other_hex, other_listen] = listen_in_background(other);
  auto outgoing = std::async(std::launch::async, [&] { return natpunch::connect(mine, other_hex); });
  std::vector<std::future<natpunch::Result<std::unique_ptr<natpunch::Session>, natpunch::Error>>> callers;
  for (int i = 0; i < 2; ++i)
    callers.push_back(std::async(std::launch::async, [&] { return natpunch::connect(base, my_key); }));

  std::vector<std::unique_ptr<natpunch::Session>> served;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (served.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    auto s = (*listener)->accept(500ms);
    ASSERT_TRUE(s.ok()) << s.error().message;
    if (*s) served.push_back(std::move(s.value()));
  }
  ASSERT_EQ(served.size(), 2u);
  EXPECT_EQ((*listener)->accepted(), 2u);
  std::set<std::string> peers;
  for (auto& f : callers) {
    auto c = f.get();
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ((*c)->info().peer, my_key);
    peers.insert((*c)->info().identity);
    const std::vector<std::uint8_t> hello{7, 7, 7};
    ASSERT_TRUE((*c)->send(hello));
    bool delivered = false;
    for (auto& s : served)
      if (s->info().peer == (*c)->info().identity) {
        auto got = s->receive(2000ms);
        delivered = got && *got == hello;
      }
    EXPECT_TRUE(delivered);
  }
  EXPECT_EQ(peers.size(), 2u);
  EXPECT_NE(served[0]->info().observed, served[1]->info().observed) << "each session on its own socket";
  auto out = outgoing.get();
  auto in = other_listen.get();
  ASSERT_TRUE(out.ok()) << out.error().message;
  ASSERT_TRUE(in.ok()) << in.error().message;
  EXPECT_EQ((*in)->info().peer, my_key);
  EXPECT_EQ((*out)->info().identity, my_key);
  ASSERT_TRUE((*out)->send(std::vector<std::uint8_t>{1}));
  EXPECT_TRUE((*in)->receive(2000ms));
  (*listener)->close();
  auto after = (*listener)->accept(10ms);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().kind, natpunch::ErrorKind::kInterrupted);
}

TEST(SessionApi, ListenerWithoutAServerFailsFast) {
  natpunch::SessionOptions o;
  o.rendezvous = "127.0.0.1:9";  // discard: nobody answers
  const auto start = std::chrono::steady_clock::now();
  auto l = natpunch::open_listener(o, {});
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().kind, natpunch::ErrorKind::kNoAnswer);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  auto bad = natpunch::open_listener(o, {"not-a-key"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, natpunch::ErrorKind::kBadInput);
}

}  // namespace

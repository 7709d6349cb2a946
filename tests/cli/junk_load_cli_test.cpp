// Junk load on the real servers over loopback (issue 8): while junk
// generators flood `natpunch stun-server` / `natpunch measure-server` with
// random, oversized, truncated and hostile-but-valid datagrams from many
// source ports, an honest client sends N requests. The server must answer
// the honest client (>= 99 % of requests, each allowed the usual
// retransmissions) and its memory (VmRSS, peak VmHWM, from /proc) must grow
// by less than a stated bound. Bounded: at most kJunkBudget datagrams and a
// few seconds per server; the numbers are printed.
//
// The junk comes from other loopback addresses (127.0.0.2-5) than the
// honest client (127.0.0.1): both servers rate-limit per source address,
// and an attacker who shares the victim's address is out of scope (it can
// always spend the victim's budget).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/endpoint.hpp"
#include "stun/binding_request.hpp"
#include "stun/message.hpp"
#include "wire/measure_messages.hpp"
#include "../support/child_process.hpp"
#include "../support/loopback_udp.hpp"

namespace {

using namespace natpunch;
using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;

constexpr std::size_t kHonestRequests = 150;
constexpr int kAttemptsPerRequest = 5;  // a client retransmits (RFC 8489: up to 7 sends); the kernel drops some of a flood before any server sees it
constexpr auto kAttemptTimeout = 250ms;
constexpr auto kHonestSpacing = 15ms;   // ~50 requests/s, under both servers' per-source limits
constexpr std::size_t kJunkBudget = 120'000;
constexpr double kJunkPerSecond = 25'000;  // 500x the honest client's rate
constexpr auto kJunkMaxTime = 8s;
constexpr std::int64_t kMemoryBoundKb = 16 * 1024;

// The server under test: a child whose stdout we read and whose /proc we watch.
using ServerProcess = test_support::ChildProcess;
using test_support::listening_endpoint;
using test_support::local_endpoint;
using test_support::open_udp;

sockaddr_in to_sockaddr(const Endpoint& e) { return test_support::to_sockaddr_v4(e); }

// What the protocol looks like to the junk generator and the honest client.
struct Protocol {
  // An honest request numbered `n` and the check of its answer.
  std::function<Bytes(std::uint32_t n)> request;
  std::function<bool(std::uint32_t n, const Bytes& reply, const Endpoint& self)> answers;
  // Valid requests that cost the server something (queued replies, CHANGE-REQUEST).
  std::function<Bytes(std::mt19937_64&)> hostile_valid;
};

stun::TransactionId transaction_of(std::uint32_t n) {
  stun::TransactionId id{};
  for (int i = 0; i < 4; ++i) id[i] = static_cast<std::uint8_t>(n >> (8 * i));
  id[11] = 0x5a;
  return id;
}

Protocol stun_protocol() {
  Protocol p;
  p.request = [](std::uint32_t n) { return stun::make_binding_request(transaction_of(n)); };
  p.answers = [](std::uint32_t n, const Bytes& reply, const Endpoint& self) {
    auto m = stun::MessageView::decode(reply);
    return m.ok() && m->message_class() == stun::MessageClass::SuccessResponse &&
           m->transaction_id() == transaction_of(n) && m->xor_mapped_address() == self;
  };
  p.hostile_valid = [](std::mt19937_64& rng) {
    stun::TransactionId id{};
    for (auto& b : id) b = static_cast<std::uint8_t>(rng());
    return stun::make_binding_request(id, rng() & 1, rng() & 1);
  };
  return p;
}

Protocol measure_protocol() {
  Protocol p;
  p.request = [](std::uint32_t n) {
    const auto bytes = wire::encode(wire::ReflectRequest{n});
    return Bytes(bytes.begin(), bytes.end());
  };
  p.answers = [](std::uint32_t n, const Bytes& reply, const Endpoint& self) {
    auto m = wire::decode_measure(reply);
    if (!m) return false;
    const auto* r = std::get_if<wire::Reflection>(&m.value());
    return r != nullptr && r->id == n && r->observed == self;
  };
  p.hostile_valid = [](std::mt19937_64& rng) {
    // The most expensive requests there are: replies held for the longest
    // delay the server allows, or probes it must send later.
    const auto id = static_cast<std::uint32_t>(rng());
    const auto bytes = (rng() & 1) ? wire::encode(wire::DelayedReflectRequest{id, wire::kMaxDelayMs})
                                   : wire::encode(wire::ScheduleProbeRequest{id, 3'600'000, (rng() & 1) != 0});
    return Bytes(bytes.begin(), bytes.end());
  };
  return p;
}

// One junk datagram of a rotating kind.
Bytes junk_datagram(std::mt19937_64& rng, const Protocol& protocol, std::uint64_t n) {
  auto random_bytes = [&](std::size_t size) {
    Bytes b(size);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    return b;
  };
  switch (n % 6) {
    case 0: return random_bytes(rng() % 1501);                   // garbage of any small size, empty included
    case 1: return random_bytes(8'000 + rng() % (65'507 - 8'000));  // oversized, up to the largest UDP payload
    case 2: {                                                     // a real request, truncated
      Bytes b = protocol.request(static_cast<std::uint32_t>(rng()));
      b.resize(rng() % b.size());
      return b;
    }
    case 3: {  // a real request with random bytes flipped (lengths, kinds, attribute headers)
      Bytes b = protocol.request(static_cast<std::uint32_t>(rng()));
      for (int i = 0; i < 3; ++i) b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
      return b;
    }
    case 4: {  // a real request with a long tail
      Bytes b = protocol.request(static_cast<std::uint32_t>(rng()));
      const auto tail = random_bytes(rng() % 2000);
      b.insert(b.end(), tail.begin(), tail.end());
      return b;
    }
    default: return protocol.hostile_valid(rng);
  }
}

struct JunkResult {
  std::uint64_t sent = 0;
  std::uint64_t sockets = 0;
};

// Floods `server` at about kJunkPerSecond until `stop` (or the budget / time
// cap), from 127.0.0.2-5, a new source port every 64 datagrams.
JunkResult run_junk(const Endpoint& server, const Protocol& protocol, const std::atomic<bool>& stop) {
  JunkResult r;
  std::mt19937_64 rng(0x6a756e6b);
  const auto to = to_sockaddr(server);
  const auto start = std::chrono::steady_clock::now();
  int fd = -1;
  while (!stop && r.sent < kJunkBudget) {
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if (elapsed > kJunkMaxTime) break;
    const auto due = static_cast<std::uint64_t>(std::chrono::duration<double>(elapsed).count() * kJunkPerSecond);
    if (r.sent >= due) {
      std::this_thread::sleep_for(1ms);
      continue;
    }
    if (r.sent % 64 == 0) {
      if (fd >= 0) close(fd);
      const auto source = static_cast<std::uint8_t>(2 + (r.sockets % 4));
      fd = open_udp(Endpoint{IpAddress::v4({127, 0, 0, source}), 0});
      ++r.sockets;
      if (fd < 0) break;
    }
    const Bytes b = junk_datagram(rng, protocol, r.sent);
    // Loopback refuses nothing but a full buffer; a lost junk datagram is fine.
    (void)sendto(fd, b.data(), b.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    ++r.sent;
  }
  if (fd >= 0) close(fd);
  return r;
}

struct HonestResult {
  std::size_t answered = 0;
  std::size_t answered_first_try = 0;
};

// n requests, each retransmitted until answered or out of attempts.
HonestResult run_honest(int fd, const Endpoint& server, const Protocol& protocol, std::uint32_t first_id,
                        std::size_t n) {
  HonestResult r;
  const auto to = to_sockaddr(server);
  const Endpoint self = local_endpoint(fd);
  Bytes in(65536);
  for (std::uint32_t id = first_id; id < first_id + n; ++id) {
    const Bytes request = protocol.request(id);
    bool answered = false;
    for (int attempt = 0; attempt < kAttemptsPerRequest && !answered; ++attempt) {
      sendto(fd, request.data(), request.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
      const auto deadline = std::chrono::steady_clock::now() + kAttemptTimeout;
      while (!answered) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        const auto got = recv(fd, in.data(), in.size(), 0);
        if (got < 0) continue;
        // Late answers to earlier requests are skipped.
        if (protocol.answers(id, Bytes(in.begin(), in.begin() + got), self)) {
          answered = true;
          ++r.answered;
          if (attempt == 0) ++r.answered_first_try;
        }
      }
    }
    std::this_thread::sleep_for(kHonestSpacing);
  }
  return r;
}

struct LoadCase {
  const char* name;
  std::vector<std::string> args;
  Protocol protocol;
};

void run_case(const LoadCase& c) {
  ServerProcess server(NATPUNCH_BINARY, c.args);
  auto endpoint = listening_endpoint(server);
  ASSERT_TRUE(endpoint) << c.name << " did not say where it listens";

  const int honest_fd = open_udp(Endpoint{IpAddress::v4({127, 0, 0, 1}), 0});
  ASSERT_GE(honest_fd, 0);
  // Warm up (first allocations, page faults) before the baseline.
  const auto warm = run_honest(honest_fd, *endpoint, c.protocol, 1, 20);
  ASSERT_EQ(warm.answered, 20u) << c.name << " does not answer an honest client without load";
  const auto rss_before = server.status_kb("VmRSS");
  ASSERT_GT(rss_before, 0);

  std::atomic<bool> stop{false};
  JunkResult junk;
  const auto started = std::chrono::steady_clock::now();
  std::thread flood([&] { junk = run_junk(*endpoint, c.protocol, stop); });
  std::this_thread::sleep_for(200ms);  // the flood is on before the first honest request
  const auto honest = run_honest(honest_fd, *endpoint, c.protocol, 1000, kHonestRequests);
  stop = true;
  flood.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::this_thread::sleep_for(300ms);  // let the server drain its socket
  const auto rss_after = server.status_kb("VmRSS");
  const auto hwm = server.status_kb("VmHWM");
  close(honest_fd);

  const double success = 100.0 * static_cast<double>(honest.answered) / kHonestRequests;
  const double first_try = 100.0 * static_cast<double>(honest.answered_first_try) / kHonestRequests;
  std::printf(
      "[junk-load] %s: %llu junk datagrams from %llu source ports in %.1f s (%.0f/s); honest %zu/%zu answered "
      "(%.1f %%, %.1f %% first try); VmRSS %lld kB -> %lld kB (+%lld kB), peak VmHWM %lld kB (+%lld kB over "
      "the baseline; bound %lld kB)\n",
      c.name, static_cast<unsigned long long>(junk.sent), static_cast<unsigned long long>(junk.sockets), seconds,
      static_cast<double>(junk.sent) / seconds, honest.answered, kHonestRequests, success, first_try,
      static_cast<long long>(rss_before), static_cast<long long>(rss_after),
      static_cast<long long>(rss_after - rss_before), static_cast<long long>(hwm),
      static_cast<long long>(hwm - rss_before), static_cast<long long>(kMemoryBoundKb));

  EXPECT_GT(junk.sent, 10'000u) << "the flood did not happen";
  EXPECT_GE(success, 99.0) << c.name << " left honest requests unanswered under junk load";
  EXPECT_LT(rss_after - rss_before, kMemoryBoundKb) << c.name << " memory grew under junk load";
  EXPECT_LT(hwm - rss_before, kMemoryBoundKb) << c.name << " memory peaked under junk load";

  EXPECT_EQ(server.interrupt_and_wait(), 0) << c.name << " survives the flood and stops cleanly";
  // The final counters show the junk arrived and was refused.
  std::optional<std::string> stopped;
  while (auto line = server.read_line(2000ms))
    if (line->rfind("stopped: ", 0) == 0) stopped = line;
  ASSERT_TRUE(stopped) << c.name << " printed no final counters";
  std::printf("[junk-load] %s counters: %s\n", c.name, stopped->c_str());
  EXPECT_NE(stopped->find("dropped_malformed="), std::string::npos);
  EXPECT_EQ(stopped->find("dropped_malformed=0 "), std::string::npos) << "no junk reached " << c.name;
}

TEST(JunkLoadCli, StunServerAnswersHonestClientsUnderAJunkFlood) {
  run_case({"stun-server",
            {"stun-server", "--listen", "127.0.0.1:0", "--rate", "100", "--burst", "200"},
            stun_protocol()});
}

TEST(JunkLoadCli, MeasureServerAnswersHonestClientsUnderAJunkFlood) {
  run_case({"measure-server", {"measure-server", "--listen", "127.0.0.1:0", "--ports", "none"}, measure_protocol()});
}

}  // namespace

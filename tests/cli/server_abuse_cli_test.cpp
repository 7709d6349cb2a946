// Attacks on the real server processes over loopback (issue 23, findings 8-10),
// each bounded in count and time (a few seconds):
// - an abuser on the honest clients' own address (127.0.0.1, as behind a
//   carrier-grade NAT) floods `stun-server` / `measure-server` from one
//   port or from thousands of new ports: the honest clients, already
//   talking to the server, must get >= 99 % of their answers;
// - the STUN reply sizes on the wire (the amplification factors SECURITY.md
//   quotes) and the validation of --software;
// - `measure-server --log` flooded with collection packets from 200
//   addresses stays within --log-max-bytes.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "stun/binding_request.hpp"
#include "stun/message.hpp"
#include "wire/measure_messages.hpp"
#include "../support/child_process.hpp"
#include "../support/loopback_udp.hpp"

namespace {

using namespace natpunch;
using namespace std::chrono_literals;
using test_support::ChildProcess;
using test_support::listening_endpoint;
using test_support::local_endpoint;
using test_support::open_udp;
using test_support::send_to;
using Bytes = std::vector<std::uint8_t>;

constexpr int kHonestClients = 10;
constexpr auto kHonestSpacing = 500ms;  // per client: 2 requests/s
constexpr int kAttempts = 3;            // like a client's retransmissions
constexpr auto kAttemptTimeout = 250ms;
constexpr auto kAttackTime = 3s;

struct Protocol {
  std::function<Bytes(std::uint32_t n)> request;
  std::function<bool(std::uint32_t n, const Bytes& reply)> answers;
};

stun::TransactionId transaction_of(std::uint32_t n) {
  stun::TransactionId id{};
  for (int i = 0; i < 4; ++i) id[i] = static_cast<std::uint8_t>(n >> (8 * i));
  id[11] = 0x77;
  return id;
}

Protocol stun_protocol() {
  return {[](std::uint32_t n) { return stun::make_binding_request(transaction_of(n)); },
          [](std::uint32_t n, const Bytes& reply) {
            auto m = stun::MessageView::decode(reply);
            return m.ok() && m->message_class() == stun::MessageClass::SuccessResponse &&
                   m->transaction_id() == transaction_of(n);
          }};
}

Protocol measure_protocol() {
  return {[](std::uint32_t n) {
            const auto b = wire::encode(wire::ReflectRequest{n});
            return Bytes(b.begin(), b.end());
          },
          [](std::uint32_t n, const Bytes& reply) {
            auto m = wire::decode_measure(reply);
            const auto* r = m ? std::get_if<wire::Reflection>(&m.value()) : nullptr;
            return r != nullptr && r->id == n;
          }};
}

// Sends `request(n)` and waits for its answer, retransmitting; true when answered.
bool ask(int fd, const Endpoint& server, const Protocol& p, std::uint32_t n) {
  const Bytes request = p.request(n);
  Bytes in(2048);
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    send_to(fd, server, request.data(), request.size());
    const auto deadline = std::chrono::steady_clock::now() + kAttemptTimeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd pfd{fd, POLLIN, 0};
      if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
      const auto got = recv(fd, in.data(), in.size(), 0);
      if (got > 0 && p.answers(n, Bytes(in.begin(), in.begin() + got))) return true;
    }
  }
  return false;
}

enum class AttackPorts { One, New };

struct SharedAddressResult {
  int honest_sent = 0;
  int honest_answered = 0;
  std::uint64_t attack_sent = 0;
};

// Honest clients on 127.0.0.1 that have talked to the server before; an
// abuser on 127.0.0.1 too, at `per_second` from one port or a new socket
// (port) for every 8 datagrams.
SharedAddressResult shared_address_attack(const Endpoint& server, const Protocol& p, AttackPorts ports,
                                          double per_second) {
  SharedAddressResult r;
  std::vector<int> honest;
  std::uint32_t n = 1;
  for (int i = 0; i < kHonestClients; ++i) {
    honest.push_back(open_udp(Endpoint{IpAddress::v4({127, 0, 0, 1}), 0}));
    EXPECT_GE(honest.back(), 0);
    EXPECT_TRUE(ask(honest.back(), server, p, n++)) << "no answer without load";
    EXPECT_TRUE(ask(honest.back(), server, p, n++));
  }
  std::atomic<bool> stop{false};
  std::thread abuser([&] {
    const Bytes junk = p.request(0xfffffff0u);
    const auto start = std::chrono::steady_clock::now();
    int fd = -1;
    while (!stop && std::chrono::steady_clock::now() - start < kAttackTime + 2s) {
      const auto due = static_cast<std::uint64_t>(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() * per_second);
      if (r.attack_sent >= due) {
        std::this_thread::sleep_for(1ms);
        continue;
      }
      if (fd < 0 || (ports == AttackPorts::New && r.attack_sent % 8 == 0)) {
        if (fd >= 0) close(fd);
        fd = open_udp(Endpoint{IpAddress::v4({127, 0, 0, 1}), 0}, true);
        if (fd < 0) break;
      }
      send_to(fd, server, junk.data(), junk.size(), MSG_DONTWAIT);
      ++r.attack_sent;
    }
    if (fd >= 0) close(fd);
  });
  std::this_thread::sleep_for(300ms);  // the flood is on before the first honest request
  const auto end = std::chrono::steady_clock::now() + kAttackTime;
  while (std::chrono::steady_clock::now() < end) {
    for (int fd : honest) {
      ++r.honest_sent;
      if (ask(fd, server, p, n++)) ++r.honest_answered;
    }
    std::this_thread::sleep_for(kHonestSpacing);
  }
  stop = true;
  abuser.join();
  for (int fd : honest) close(fd);
  return r;
}

struct SharedAddressCase {
  const char* name;
  std::vector<std::string> args;
  Protocol protocol;
  AttackPorts ports;
  double per_second;
};

void run_shared_address(const SharedAddressCase& c) {
  ChildProcess server(NATPUNCH_BINARY, c.args);
  auto endpoint = listening_endpoint(server);
  ASSERT_TRUE(endpoint) << c.name << " did not say where it listens";
  const auto r = shared_address_attack(*endpoint, c.protocol, c.ports, c.per_second);
  const double share = r.honest_sent == 0 ? 0 : static_cast<double>(r.honest_answered) / r.honest_sent;
  std::printf("[shared-address] %s: abuser sent %llu datagrams from 127.0.0.1; honest clients on 127.0.0.1 got "
              "%d/%d answers (%.1f %%)\n",
              c.name, static_cast<unsigned long long>(r.attack_sent), r.honest_answered, r.honest_sent, 100 * share);
  EXPECT_GT(r.attack_sent, static_cast<std::uint64_t>(c.per_second * 2)) << "the flood did not happen";
  EXPECT_GE(share, 0.99);
  EXPECT_EQ(server.interrupt_and_wait(), 0);
}

TEST(ServerAbuseCli, StunSharedAddressOnePort) {
  run_shared_address({"stun-server one port 4000/s", {"stun-server", "--listen", "127.0.0.1:0"}, stun_protocol(),
                      AttackPorts::One, 4000});
}

TEST(ServerAbuseCli, StunSharedAddressNewPorts) {
  run_shared_address({"stun-server new ports 4000/s", {"stun-server", "--listen", "127.0.0.1:0"}, stun_protocol(),
                      AttackPorts::New, 4000});
}

TEST(ServerAbuseCli, MeasureSharedAddressNewPorts) {
  run_shared_address({"measure-server new ports 20000/s",
                      {"measure-server", "--listen", "127.0.0.1:0", "--ports", "none"},
                      measure_protocol(),
                      AttackPorts::New,
                      20000});
}

// --- STUN reply sizes on the wire (finding 8) --------------------------------

// One 20-byte Binding request, the size of what comes back.
std::size_t reply_size(const Endpoint& server, bool classic) {
  const int fd = open_udp(Endpoint{IpAddress::v4({127, 0, 0, 1}), 0});
  EXPECT_GE(fd, 0);
  // A bare Binding request: the 20-byte header and nothing else (no
  // FINGERPRINT), the smallest request an attacker can send.
  Bytes request(20, 0x5c);
  request[0] = 0x00;
  request[1] = 0x01;  // Binding request
  request[2] = 0x00;
  request[3] = 0x00;  // no attributes
  const std::uint32_t cookie = classic ? 0x12345678u : stun::kMagicCookie;  // classic: an RFC 3489 client
  for (int i = 0; i < 4; ++i) request[4 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(cookie >> (24 - 8 * i));
  std::size_t size = 0;
  for (int attempt = 0; attempt < 3 && size == 0; ++attempt) {
    send_to(fd, server, request.data(), request.size());
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 1000) > 0) {
      Bytes in(2048);
      const auto got = recv(fd, in.data(), in.size(), 0);
      if (got > 0) size = static_cast<std::size_t>(got);
    }
  }
  close(fd);
  return size;
}

TEST(ServerAbuseCli, StunRepliesAreAsSmallAsTheRfcsAllow) {
  struct Row {
    const char* name;
    std::vector<std::string> args;
    bool classic;
    std::size_t expected;
  };
  const std::vector<Row> rows = {
      {"modern", {"stun-server", "--listen", "127.0.0.1:0", "--threads", "1"}, false, 32},
      {"classic", {"stun-server", "--listen", "127.0.0.1:0", "--threads", "1"}, true, 32},
      {"modern --software", {"stun-server", "--listen", "127.0.0.1:0", "--threads", "1", "--software", "natpunch"},
       false, 32},
      {"modern --alt", {"stun-server", "--listen", "127.0.0.1:34781", "--alt", "127.0.0.2:34782", "--threads", "1"},
       false, 56},
  };
  for (const auto& row : rows) {
    ChildProcess server(NATPUNCH_BINARY, row.args);
    auto endpoint = listening_endpoint(server);
    ASSERT_TRUE(endpoint) << row.name;
    const auto size = reply_size(*endpoint, row.classic);
    std::printf("[stun-wire-size] %s: 20-byte request -> %zu-byte reply (%.1fx; %.2fx with IP and UDP headers)\n",
                row.name, size, static_cast<double>(size) / 20, static_cast<double>(size + 28) / 48);
    EXPECT_EQ(size, row.expected) << row.name;
    EXPECT_EQ(server.interrupt_and_wait(), 0);
  }
}

TEST(ServerAbuseCli, StunServerRefusesAnUnusableSoftwareString) {
  for (const std::string& bad : {std::string(1000, 'x'), std::string(128, 'x'), std::string("tab\there")}) {
    ChildProcess server(NATPUNCH_BINARY, {"stun-server", "--listen", "127.0.0.1:0", "--software", bad});
    EXPECT_EQ(server.wait(5000ms), 2) << "--software of " << bad.size() << " characters";
  }
}

// --- measure-server --log under a collection flood (finding 9) ----------------

TEST(ServerAbuseCli, MeasureServerLogStaysWithinItsCap) {
  const auto dir = std::filesystem::temp_directory_path() / ("natpunch-logcap-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto log = dir / "server.csv";
  constexpr std::uintmax_t kCap = 64 * 1024;
  {
    ChildProcess server(NATPUNCH_BINARY, {"measure-server", "--listen", "127.0.0.1:0", "--ports", "none", "--log",
                                          log.string(), "--log-max-bytes", std::to_string(kCap)});
    auto endpoint = listening_endpoint(server);
    ASSERT_TRUE(endpoint);
    // 200 addresses x 40 collection packets (~64 bytes of CSV each): about
    // eight times the cap.
    std::uint64_t sent = 0;
    for (int a = 0; a < 200; ++a) {
      const int fd = open_udp(Endpoint{IpAddress::v4({127, 0, 10, static_cast<std::uint8_t>(1 + a)}), 0});
      ASSERT_GE(fd, 0);
      for (int k = 0; k < 40; ++k) {
        wire::Uuid uuid{};
        uuid[0] = static_cast<std::uint8_t>(a);
        uuid[1] = static_cast<std::uint8_t>(k);
        const auto b = wire::encode(wire::CollectPacket{static_cast<std::uint32_t>(k), uuid, 1});
        if (send_to(fd, *endpoint, b.data(), b.size())) ++sent;
      }
      close(fd);
      std::this_thread::sleep_for(2ms);
    }
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(server.interrupt_and_wait(), 0);
    std::uintmax_t total = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      const auto size = std::filesystem::file_size(entry.path());
      total += size;
      std::printf("[measure-log-cap] %s: %ju bytes\n", entry.path().filename().c_str(), size);
      EXPECT_LE(size, kCap) << entry.path();
    }
    std::printf("[measure-log-cap] %llu collection packets; %ju bytes on disk in all (cap %ju per file, one "
                "rotated file kept)\n",
                static_cast<unsigned long long>(sent), total, kCap);
    EXPECT_LE(total, 2 * kCap);
    EXPECT_GT(std::filesystem::file_size(log), 0u);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace

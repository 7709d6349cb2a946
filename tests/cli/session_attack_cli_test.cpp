// Attacks on an open session over real loopback sockets (issue 23, findings
// 1 and 2), performed as root: an AF_PACKET socket on `lo` sees the peers'
// datagrams and a raw IPv4 socket sends copies with a forged source
// address. Two library sessions (natpunch::connect / natpunch::listen) meet
// at a real `natpunch rendezvous` and punch directly; then
//  - reflection: every datagram the caller sends to the listener is also
//    bounced back to the caller, from the listener's endpoint. The caller
//    must deliver none of its own datagrams, lose none of the listener's
//    to the "duplicates" they used to make, and count each bounce as
//    rejected.
//  - redirection: every datagram the caller sends to the listener is
//    replayed to the listener from a victim's address (a UDP socket of the
//    test). The listener must keep its path: the victim receives nothing,
//    and the caller still gets the listener's stream.
// The sans-IO versions of both are in punch_session_channel_test.cpp.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <natpunch/session.hpp>

#include "background_listen.hpp"
#include "cli_processes.hpp"
#include "core/endpoint.hpp"

namespace {

using namespace natpunch;
using namespace std::chrono_literals;
using natpunch::cli_test::listen_in_background;
using natpunch::cli_test::Rendezvous;

std::uint16_t checksum(const std::uint8_t* data, std::size_t size, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < size; i += 2) sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
  if (size % 2) sum += static_cast<std::uint32_t>(data[size - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// Sees every IPv4/UDP datagram that arrives on `lo` and may send forged
// ones. `on_datagram(from, to, payload)` runs on the capture thread.
class LoopbackForger {
 public:
  using Sink = std::function<void(const Endpoint& from, const Endpoint& to, std::span<const std::uint8_t>)>;

  bool open() {
    capture_ = ::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
    raw_ = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (capture_ < 0 || raw_ < 0) return false;
    sockaddr_ll at{};
    at.sll_family = AF_PACKET;
    at.sll_protocol = htons(ETH_P_IP);
    at.sll_ifindex = static_cast<int>(if_nametoindex("lo"));
    const int big = 4 << 20;
    ::setsockopt(capture_, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    return ::bind(capture_, reinterpret_cast<sockaddr*>(&at), sizeof at) == 0;
  }
  ~LoopbackForger() {
    stop();
    if (capture_ >= 0) ::close(capture_);
    if (raw_ >= 0) ::close(raw_);
  }

  void start(Sink sink) {
    sink_ = std::move(sink);
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }

  // An IPv4/UDP datagram from `from` (forged) to `to`.
  bool send(const Endpoint& from, const Endpoint& to, std::span<const std::uint8_t> payload) {
    std::vector<std::uint8_t> packet(20 + 8 + payload.size());
    const auto udp_length = static_cast<std::uint16_t>(8 + payload.size());
    packet[0] = 0x45;
    packet[2] = static_cast<std::uint8_t>(packet.size() >> 8);
    packet[3] = static_cast<std::uint8_t>(packet.size());
    packet[8] = 64;
    packet[9] = IPPROTO_UDP;
    std::memcpy(packet.data() + 12, from.address.data(), 4);
    std::memcpy(packet.data() + 16, to.address.data(), 4);
    std::uint8_t* udp = packet.data() + 20;
    udp[0] = static_cast<std::uint8_t>(from.port >> 8);
    udp[1] = static_cast<std::uint8_t>(from.port);
    udp[2] = static_cast<std::uint8_t>(to.port >> 8);
    udp[3] = static_cast<std::uint8_t>(to.port);
    udp[4] = static_cast<std::uint8_t>(udp_length >> 8);
    udp[5] = static_cast<std::uint8_t>(udp_length);
    std::memcpy(udp + 8, payload.data(), payload.size());
    // Pseudo-header: addresses, protocol, UDP length.
    std::uint32_t pseudo = IPPROTO_UDP + udp_length;
    for (int i = 12; i < 20; i += 2) pseudo += static_cast<std::uint32_t>(packet[i] << 8 | packet[i + 1]);
    std::uint16_t sum = checksum(udp, udp_length, pseudo);
    if (sum == 0) sum = 0xffff;
    udp[6] = static_cast<std::uint8_t>(sum >> 8);
    udp[7] = static_cast<std::uint8_t>(sum);
    const std::uint16_t header_sum = checksum(packet.data(), 20);
    packet[10] = static_cast<std::uint8_t>(header_sum >> 8);
    packet[11] = static_cast<std::uint8_t>(header_sum);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    std::memcpy(&dst.sin_addr, to.address.data(), 4);
    return ::sendto(raw_, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst) ==
           static_cast<ssize_t>(packet.size());
  }

 private:
  void run() {
    std::vector<std::uint8_t> buffer(65536);
    while (!stopping_) {
      pollfd p{capture_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      sockaddr_ll from{};
      socklen_t length = sizeof from;
      const auto n = ::recvfrom(capture_, buffer.data(), buffer.size(), 0, reinterpret_cast<sockaddr*>(&from), &length);
      // On lo each packet passes twice: once leaving (OUTGOING), once arriving (HOST).
      if (n < 28 || from.sll_pkttype != PACKET_HOST) continue;
      const std::uint8_t* ip = buffer.data();
      const std::size_t header = static_cast<std::size_t>(ip[0] & 0x0f) * 4;
      if ((ip[0] >> 4) != 4 || ip[9] != IPPROTO_UDP || static_cast<std::size_t>(n) < header + 8) continue;
      const std::uint8_t* udp = ip + header;
      const Endpoint src{IpAddress::v4({ip[12], ip[13], ip[14], ip[15]}), static_cast<std::uint16_t>(udp[0] << 8 | udp[1])};
      const Endpoint dst{IpAddress::v4({ip[16], ip[17], ip[18], ip[19]}), static_cast<std::uint16_t>(udp[2] << 8 | udp[3])};
      const std::size_t udp_length = static_cast<std::size_t>(udp[4] << 8 | udp[5]);
      if (udp_length < 8 || header + udp_length > static_cast<std::size_t>(n)) continue;
      sink_(src, dst, std::span<const std::uint8_t>(udp + 8, udp_length - 8));
    }
  }

  int capture_ = -1, raw_ = -1;
  Sink sink_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

bool looks_like_session_datagram(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= 2 && bytes[0] == 'N' && bytes[1] == 'D';
}

struct OpenPair {
  std::unique_ptr<Session> caller, listener;
  Endpoint caller_at, listener_at;  // their direct-path endpoints
};

// A direct session between two library peers on loopback.
std::optional<OpenPair> open_pair(const std::string& rendezvous) {
  SessionOptions options;
  options.rendezvous = rendezvous;
  options.wait = std::chrono::seconds(10);
  options.nat.mapping = natpunch::NatBehavior::kEndpointIndependent;  // a plain hole punch from the registered sockets
  options.nat.filtering = natpunch::NatBehavior::kEndpointIndependent;
  auto [key, listening] = listen_in_background(options);
  auto connected = natpunch::connect(options, key);
  auto listened = listening.get();
  if (!connected || !listened) return std::nullopt;
  OpenPair p{std::move(connected.value()), std::move(listened.value()), {}, {}};
  // Opened on the relay at the pairing (the default): the punch moves both
  // direct within a few probes on loopback.
  for (int i = 0; i < 2500 && (p.caller->stats().upgrading || p.listener->stats().upgrading); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const auto c = p.caller->stats(), l = p.listener->stats();
  if (c.route != SessionRoute::kDirect || l.route != SessionRoute::kDirect || c.local_socket != 0 ||
      l.local_socket != 0)
    return std::nullopt;
  p.caller_at = *Endpoint::parse(l.peer_endpoint);
  p.listener_at = *Endpoint::parse(c.peer_endpoint);
  return p;
}

std::vector<std::uint8_t> line(char who, int i) {
  const std::string text = std::string(1, who) + std::to_string(i);
  return {text.begin(), text.end()};
}

// Both send `count` numbered datagrams ("c1".., "l1"..), 10 ms apart;
// returns what each received, by text, with the number of copies.
struct Exchange {
  std::map<std::string, int> at_caller, at_listener;
};
Exchange exchange(OpenPair& p, int count) {
  Exchange e;
  std::atomic<bool> done{false};
  auto drain = [&](Session& s, std::map<std::string, int>& into) {
    while (!done) {
      while (auto d = s.receive(20ms)) ++into[std::string(d->begin(), d->end())];
    }
    while (auto d = s.receive(200ms)) ++into[std::string(d->begin(), d->end())];
  };
  std::thread caller_reader([&] { drain(*p.caller, e.at_caller); });
  std::thread listener_reader([&] { drain(*p.listener, e.at_listener); });
  for (int i = 1; i <= count; ++i) {
    p.caller->send(line('c', i));
    p.listener->send(line('l', i));
    std::this_thread::sleep_for(10ms);
  }
  std::this_thread::sleep_for(300ms);
  done = true;
  caller_reader.join();
  listener_reader.join();
  return e;
}

class SessionAttack : public testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "forging source addresses needs root (raw and packet sockets)";
    ASSERT_TRUE(forger_.open()) << "no raw/packet socket: " << std::strerror(errno);
    ASSERT_TRUE(server_.ready());
  }
  Rendezvous server_;
  LoopbackForger forger_;
};

// Finding 1: the caller's own datagrams, bounced back from the listener's
// endpoint, were delivered as the listener's data.
TEST_F(SessionAttack, ReflectedDatagramsAreNeverDeliveredAsThePeers) {
  auto pair = open_pair(server_.address);
  ASSERT_TRUE(pair) << "no direct session on loopback";
  std::atomic<int> reflected{0};
  forger_.start([&](const Endpoint& from, const Endpoint& to, std::span<const std::uint8_t> bytes) {
    if (from == pair->caller_at && to == pair->listener_at && looks_like_session_datagram(bytes) &&
        forger_.send(pair->listener_at, pair->caller_at, bytes))
      ++reflected;
  });
  constexpr int kCount = 60;
  const auto e = exchange(*pair, kCount);
  forger_.stop();
  std::this_thread::sleep_for(100ms);
  const auto stats = pair->caller->stats();
  int own = 0, listeners = 0, copies = 0;
  for (const auto& [text, n] : e.at_caller) {
    if (text[0] == 'c') own += n;
    if (text[0] == 'l') ++listeners;
    if (n > 1) copies += n - 1;
  }
  std::cerr << "[ attack ] reflected " << reflected << " of the caller's datagrams back to it; the caller delivered "
            << own << " of its own, " << listeners << " of the listener's " << kCount << ", rejected "
            << stats.rejected << ", duplicates dropped " << stats.duplicates_dropped << "\n";
  EXPECT_GE(reflected.load(), kCount / 2) << "the attack ran";
  EXPECT_EQ(own, 0) << "the caller's own datagrams came back as the peer's";
  EXPECT_EQ(copies, 0);
  EXPECT_GE(listeners, kCount * 9 / 10) << "the listener's datagrams arrive (loopback; 10 % margin for a loaded machine)";
  EXPECT_EQ(stats.duplicates_dropped, 0u) << "none of the listener's datagrams lost its number to a bounce";
  EXPECT_GE(stats.rejected, static_cast<std::uint64_t>(reflected.load()) * 9 / 10) << "each bounce was dropped";
  EXPECT_FALSE(stats.peer_closed);
  EXPECT_EQ(stats.route, SessionRoute::kDirect);
}

// Finding 2: the listener followed the source address of any authentic
// datagram, a replayed duplicate too, so one replay from a victim's
// address sent the victim the listener's whole stream.
TEST_F(SessionAttack, ReplayedDatagramsFromAVictimsAddressSendTheVictimNothing) {
  auto pair = open_pair(server_.address);
  ASSERT_TRUE(pair) << "no direct session on loopback";
  // The victim: a UDP socket that counts what reaches it.
  const int victim = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  ASSERT_GE(victim, 0);
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(victim, reinterpret_cast<sockaddr*>(&at), sizeof at), 0);
  socklen_t length = sizeof at;
  ASSERT_EQ(::getsockname(victim, reinterpret_cast<sockaddr*>(&at), &length), 0);
  const Endpoint victim_at{IpAddress::v4({127, 0, 0, 1}), ntohs(at.sin_port)};
  std::atomic<int> replayed{0};
  forger_.start([&](const Endpoint& from, const Endpoint& to, std::span<const std::uint8_t> bytes) {
    if (from == pair->caller_at && to == pair->listener_at && looks_like_session_datagram(bytes) &&
        forger_.send(victim_at, pair->listener_at, bytes))
      ++replayed;
  });
  constexpr int kCount = 60;
  const auto e = exchange(*pair, kCount);
  forger_.stop();
  std::this_thread::sleep_for(100ms);
  std::uint64_t victim_bytes = 0, victim_datagrams = 0;
  std::vector<std::uint8_t> buffer(65536);
  for (ssize_t n; (n = ::recv(victim, buffer.data(), buffer.size(), 0)) >= 0;) {
    victim_bytes += static_cast<std::uint64_t>(n);
    ++victim_datagrams;
  }
  ::close(victim);
  const auto stats = pair->listener->stats();
  int listeners = 0;
  for (const auto& [text, n] : e.at_caller) listeners += text[0] == 'l' ? 1 : 0;
  std::cerr << "[ attack ] replayed " << replayed << " of the caller's datagrams from " << victim_at.to_string()
            << "; the victim received " << victim_datagrams << " datagrams (" << victim_bytes
            << " bytes); the caller got " << listeners << " of the listener's " << kCount
            << "; listener: path switches " << stats.path_switches << ", challenges " << stats.path_challenges
            << ", duplicates dropped " << stats.duplicates_dropped << "\n";
  EXPECT_GE(replayed.load(), kCount / 2) << "the attack ran";
  EXPECT_EQ(victim_bytes, 0u) << "the listener sent the victim its stream";
  EXPECT_GE(listeners, kCount * 9 / 10) << "the caller kept getting the listener's datagrams";
  EXPECT_EQ(stats.path_switches, 0u);
  EXPECT_EQ(stats.peer_endpoint, pair->caller_at.to_string());
  EXPECT_GE(stats.duplicates_dropped, static_cast<std::uint64_t>(replayed.load()) * 9 / 10);
}

}  // namespace

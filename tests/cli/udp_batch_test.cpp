// io::SendBatch / io::RecvBatch over loopback sockets: what goes out in one
// sendmmsg() comes back in one recvmmsg() with its source and bytes intact.
#include "io/udp_batch.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <vector>

namespace natpunch::io {
namespace {

struct LoopbackSocket {
  int fd = -1;
  Endpoint at;
  explicit LoopbackSocket(bool v6 = false) {
    fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    sockaddr_storage local{};
    const Endpoint any{v6 ? *IpAddress::parse("::1") : IpAddress::v4(0x7f000001u), 0};
    const socklen_t length = to_sockaddr(any, v6 ? AF_INET6 : AF_INET, local);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), length) != 0) {
      EXPECT_TRUE(v6) << "cannot bind an IPv4 loopback socket";
      return;  // at.port stays 0
    }
    socklen_t got = sizeof local;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &got);
    at = from_sockaddr(local);
  }
  ~LoopbackSocket() { ::close(fd); }
};

TEST(UdpBatch, SockaddrRoundTripsAndMapsV4OnV6Sockets) {
  sockaddr_storage s{};
  const Endpoint v4{IpAddress::v4(0xC6336401u), 3478};  // 198.51.100.1
  ASSERT_EQ(to_sockaddr(v4, AF_INET, s), sizeof(sockaddr_in));
  EXPECT_EQ(from_sockaddr(s), v4);
  ASSERT_EQ(to_sockaddr(v4, AF_INET6, s), sizeof(sockaddr_in6));
  EXPECT_EQ(s.ss_family, AF_INET6);
  EXPECT_EQ(from_sockaddr(s), v4) << "v4-mapped comes back as IPv4";
  const Endpoint v6{*IpAddress::parse("2001:db8::7"), 9};
  ASSERT_EQ(to_sockaddr(v6, AF_INET6, s), sizeof(sockaddr_in6));
  EXPECT_EQ(from_sockaddr(s), v6);
  EXPECT_EQ(to_sockaddr(v6, AF_INET, s), 0u) << "an IPv6 endpoint cannot leave an IPv4 socket";
}

TEST(UdpBatch, ABatchArrivesWholeWithSourcesAndBytes) {
  LoopbackSocket a, b;
  SendBatch out(8, 64);
  for (std::uint8_t i = 0; i < 8; ++i) {
    const std::vector<std::uint8_t> payload(static_cast<std::size_t>(i) + 1, i);
    ASSERT_TRUE(out.add(b.at, payload, AF_INET));
  }
  EXPECT_FALSE(out.add(b.at, std::vector<std::uint8_t>(1), AF_INET)) << "full";
  const auto sent = out.flush(a.fd);
  EXPECT_EQ(sent.sent, 8u);
  EXPECT_EQ(sent.failed, 0u);
  EXPECT_TRUE(out.empty());

  RecvBatch in(16, 32);
  ASSERT_EQ(in.receive(b.fd), 8u);
  for (std::size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(in.from(i), a.at);
    ASSERT_EQ(in.bytes(i).size(), i + 1);
    EXPECT_EQ(in.bytes(i)[0], i);
    EXPECT_FALSE(in.truncated(i));
  }
  EXPECT_EQ(in.receive(b.fd), 0u) << "nothing left, and no blocking";
}

TEST(UdpBatch, OversizedDatagramIsMarkedTruncatedAndZeroCopyCommitWorks) {
  LoopbackSocket a, b;
  SendBatch out(2, 100);
  ASSERT_FALSE(out.add(b.at, std::vector<std::uint8_t>(101), AF_INET)) << "longer than a slot";
  auto slot = out.next_payload();
  ASSERT_EQ(slot.size(), 100u);
  std::fill(slot.begin(), slot.begin() + 40, 0xAB);
  ASSERT_TRUE(out.commit(40, b.at, AF_INET));
  EXPECT_EQ(out.flush(a.fd).sent, 1u);
  RecvBatch in(4, 16);
  ASSERT_EQ(in.receive(b.fd), 1u);
  EXPECT_TRUE(in.truncated(0));
}

TEST(UdpBatch, RefusedDatagramIsSkippedAndTheRestStillGoes) {
  LoopbackSocket a, b;
  SendBatch out(3, 8);
  const std::vector<std::uint8_t> payload{1, 2, 3};
  ASSERT_TRUE(out.add(b.at, payload, AF_INET));
  ASSERT_TRUE(out.add(Endpoint{IpAddress::v4(0x7f000001u), 0}, payload, AF_INET));  // port 0: EINVAL
  ASSERT_TRUE(out.add(b.at, payload, AF_INET));
  const auto sent = out.flush(a.fd);
  EXPECT_EQ(sent.sent, 2u);
  EXPECT_EQ(sent.failed, 1u);
  EXPECT_NE(sent.first_errno, 0);
  EXPECT_EQ(sent.first_failed, 1u);
  RecvBatch in(4, 16);
  EXPECT_EQ(in.receive(b.fd), 2u);
}

TEST(UdpBatch, CoalescedSendDeliversEveryDatagramInOrder) {
  // 100 full-length datagrams to b (runs of at most kMaxSegments become GSO
  // messages), then a short one to b and one to c: each arrives separately,
  // in order, with its own bytes.
  LoopbackSocket a, b, c;
  SendBatch out(128, 52);
  for (std::size_t i = 0; i < 100; ++i) {
    std::vector<std::uint8_t> payload(52, static_cast<std::uint8_t>(i));
    ASSERT_TRUE(out.add(b.at, payload, AF_INET));
  }
  ASSERT_TRUE(out.add(b.at, std::vector<std::uint8_t>(7, 0xEE), AF_INET));
  ASSERT_TRUE(out.add(c.at, std::vector<std::uint8_t>(52, 0xCC), AF_INET));
  const auto sent = out.send_coalesced(a.fd, 0, out.size());
  EXPECT_EQ(sent.sent, 102u);
  EXPECT_EQ(sent.failed, 0u);
  EXPECT_LE(sent.syscalls, 2u);
  RecvBatch in(128, 64);
  std::vector<std::vector<std::uint8_t>> got;
  while (std::size_t n = in.receive(b.fd))
    for (std::size_t i = 0; i < n; ++i) got.emplace_back(in.bytes(i).begin(), in.bytes(i).end());
  ASSERT_EQ(got.size(), 101u);
  for (std::size_t i = 0; i < 100; ++i) {
    ASSERT_EQ(got[i].size(), 52u) << i;
    EXPECT_EQ(got[i][0], i);
    EXPECT_EQ(got[i][51], i);
  }
  EXPECT_EQ(got[100], std::vector<std::uint8_t>(7, 0xEE));
  ASSERT_EQ(in.receive(c.fd), 1u);
  EXPECT_EQ(in.bytes(0).size(), 52u);
  EXPECT_EQ(in.from(0), a.at);
}

TEST(UdpBatch, Ipv6LoopbackWorksWhenAvailable) {
  LoopbackSocket a(true), b(true);
  if (a.at.port == 0 || b.at.port == 0) GTEST_SKIP() << "no IPv6 loopback here";
  SendBatch out(1, 8);
  ASSERT_TRUE(out.add(b.at, std::vector<std::uint8_t>{9}, AF_INET6));
  EXPECT_EQ(out.flush(a.fd).sent, 1u);
  RecvBatch in(1, 8);
  ASSERT_EQ(in.receive(b.fd), 1u);
  EXPECT_EQ(in.from(0), a.at);
}

}  // namespace
}  // namespace natpunch::io

// udp_blaster: a bounded UDP load generator and sink for bench/natd_bench.sh.
// Standalone (the bench script compiles it with c++), lab addresses only.
//
//   udp_blaster send --bind IP:PORT --to IP:PORT --count N --seconds S [--size B]
//       sends up to N datagrams of B payload bytes (default 18: 64-byte frames)
//       with sendmmsg in batches of 64, stopping after S seconds at the latest.
//   udp_blaster sink --bind IP:PORT --seconds S [--punch IP:PORT]
//       counts datagrams (recvmmsg) until S seconds pass or 1 s passes without
//       any after the first; with --punch it first sends one datagram there
//       (so a NAT maps the sink's port) and says "ready" on stderr.
// Both print one JSON line: packets, seconds (first to last packet for the
// sink), packets_per_second.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "udp_blaster: %s\n(usage: see the comment at the top of bench/udp_blaster.cpp)\n", why);
  std::exit(2);
}

sockaddr_in endpoint(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) usage("endpoint must be IP:PORT");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(std::atoi(text.c_str() + colon + 1)));
  if (inet_pton(AF_INET, text.substr(0, colon).c_str(), &a.sin_addr) != 1) usage("bad IPv4 address");
  return a;
}

int bound_socket(const sockaddr_in& local) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) usage("socket() failed");
  const int buffer = 8 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
    std::perror("bind");
    std::exit(1);
  }
  return fd;
}

double seconds_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

int send_mode(const sockaddr_in& local, const sockaddr_in& to, long count, double limit, std::size_t size) {
  const int fd = bound_socket(local);
  constexpr int kBatch = 64;
  std::vector<char> payload(size, 'x');
  iovec iov{payload.data(), payload.size()};
  std::vector<mmsghdr> messages(kBatch);
  for (auto& m : messages) {
    m.msg_hdr.msg_name = const_cast<sockaddr_in*>(&to);
    m.msg_hdr.msg_namelen = sizeof to;
    m.msg_hdr.msg_iov = &iov;
    m.msg_hdr.msg_iovlen = 1;
  }
  const auto start = Clock::now();
  long sent = 0;
  while (sent < count && seconds_between(start, Clock::now()) < limit) {
    const int n = ::sendmmsg(fd, messages.data(), static_cast<unsigned>(std::min<long>(kBatch, count - sent)), 0);
    if (n > 0) sent += n;  // ENOBUFS etc.: try again
  }
  const double elapsed = seconds_between(start, Clock::now());
  std::printf("{\"packets\":%ld,\"seconds\":%.6f,\"packets_per_second\":%.0f}\n", sent, elapsed, sent / elapsed);
  return 0;
}

int sink_mode(const sockaddr_in& local, double limit, const sockaddr_in* punch) {
  const int fd = bound_socket(local);
  if (punch) {
    const char hello[] = "punch";
    ::sendto(fd, hello, sizeof hello, 0, reinterpret_cast<const sockaddr*>(punch), sizeof *punch);
  }
  std::fprintf(stderr, "ready\n");
  constexpr int kBatch = 64;
  std::vector<std::array<char, 2048>> buffers(kBatch);
  std::vector<iovec> iovs(kBatch);
  std::vector<mmsghdr> messages(kBatch);
  for (int i = 0; i < kBatch; ++i) {
    iovs[i] = {buffers[i].data(), buffers[i].size()};
    messages[i].msg_hdr.msg_iov = &iovs[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  const auto start = Clock::now();
  Clock::time_point first{}, last{};
  long received = 0;
  for (;;) {
    const auto now = Clock::now();
    if (seconds_between(start, now) > limit) break;
    if (received > 0 && seconds_between(last, now) > 1.0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int n = ::recvmmsg(fd, messages.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) continue;
    if (received == 0) first = Clock::now();
    received += n;
    last = Clock::now();
  }
  const double span = received > 1 ? seconds_between(first, last) : 0;
  std::printf("{\"packets\":%ld,\"seconds\":%.6f,\"packets_per_second\":%.0f}\n", received, span,
              span > 0 ? received / span : 0.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage("give send or sink");
  const std::string mode = argv[1];
  std::string bind, to, punch;
  long count = 0;
  double limit = 0;
  std::size_t size = 18;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--bind") bind = value;
    else if (key == "--to") to = value;
    else if (key == "--punch") punch = value;
    else if (key == "--count") count = std::atol(value.c_str());
    else if (key == "--seconds") limit = std::atof(value.c_str());
    else if (key == "--size") size = static_cast<std::size_t>(std::atol(value.c_str()));
    else usage(("unknown option " + key).c_str());
  }
  if (bind.empty() || !(limit > 0) || limit > 120) usage("--bind and --seconds (0-120) are required");
  if (mode == "send") {
    if (to.empty() || count <= 0 || count > 100000000 || size > 1472) usage("send needs --to, --count 1..1e8, --size <= 1472");
    return send_mode(endpoint(bind), endpoint(to), count, limit, size);
  }
  if (mode == "sink") {
    if (punch.empty()) return sink_mode(endpoint(bind), limit, nullptr);
    const auto p = endpoint(punch);
    return sink_mode(endpoint(bind), limit, &p);
  }
  usage("mode must be send or sink");
}

// stun_load: a bounded STUN Binding load generator for bench/stun_bench.sh.
// The same generator drives `natpunch stun-server` and coturn, so their
// responses/s compare.
//
//   natpunch_stun_load --server IP:PORT [--sockets N] [--addresses A] [--window W] [--seconds S] [--warmup S]
//                      [--cpu-pid PID]
//
// With --cpu-pid (the server's process id) it also reports the CPU time
// (user + system, all threads, from /proc/PID/stat) the server used during
// the timed part, and responses per server CPU-second: on a machine shared
// with other jobs that compares servers more fairly than wall time.
//
// N sockets (default 8), socket i bound to 127.0.0.(1 + i mod A) (A
// defaults to N), so the load comes from A source addresses (a server may
// shard or rate-limit by source address; the bench runs servers without
// per-source limits); --addresses 1: every socket on 127.0.0.1, each on a
// port of its own, as phones behind one carrier NAT address. Each socket
// keeps at most W (default 128) requests in flight: it sends a sendmmsg()
// batch to refill its window, reads responses with recvmmsg(), and after
// 20 ms without any answer declares its window lost and starts over (so an
// overloaded server's drops cost throughput, not a stall). Requests are
// 20-byte RFC 8489 Binding requests with the magic cookie and a transaction
// id tagged by this run. Counted are only *valid* Binding success responses:
// they decode, echo a transaction id this run sent, and carry an
// XOR-MAPPED-ADDRESS equal to the socket's own address. Loopback only.
// Prints one JSON line: sent, valid, invalid, seconds, responses_per_second.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "io/udp_batch.hpp"
#include "stun/message.hpp"

namespace {

using namespace natpunch;
using SteadyClock = std::chrono::steady_clock;

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "stun_load: %s\n(usage: see the comment at the top of bench/stun_load.cpp)\n", why);
  std::exit(2);
}

constexpr std::size_t kBatch = 64;
constexpr std::array<std::uint8_t, 4> kTag{'n', 'p', 'l', 'g'};

// CPU seconds (utime + stime) of process `pid`, all threads; < 0 if unknown.
double process_cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && (fields >> field); ++i) {  // field 3 is the state
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

struct LoadSocket {
  int fd = -1;
  Endpoint local;
  std::size_t in_flight = 0;
  SteadyClock::time_point last_answer{};
  std::uint64_t next_id = 0;
  std::unique_ptr<io::SendBatch> out;
  std::unique_ptr<io::RecvBatch> in;
};

}  // namespace

int main(int argc, char** argv) {
  std::optional<Endpoint> server;
  std::size_t sockets = 8, window = 128, addresses = 0;
  double seconds = 3, warmup = 0.5;
  int cpu_pid = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--server") server = Endpoint::parse(value);
    else if (flag == "--sockets") sockets = static_cast<std::size_t>(std::atoi(value));
    else if (flag == "--addresses") addresses = static_cast<std::size_t>(std::atoi(value));
    else if (flag == "--window") window = static_cast<std::size_t>(std::atoi(value));
    else if (flag == "--seconds") seconds = std::atof(value);
    else if (flag == "--warmup") warmup = std::atof(value);
    else if (flag == "--cpu-pid") cpu_pid = std::atoi(value);
    else usage("unknown flag");
  }
  if (!server || !server->address.is_v4() || (server->address.v4_host_order() >> 24) != 127)
    usage("--server must be a 127.x.y.z:PORT loopback endpoint");
  if (sockets < 1 || sockets > 64) usage("--sockets must be 1-64");
  if (addresses == 0) addresses = sockets;
  if (addresses > sockets) usage("--addresses must be 1 to --sockets");
  if (window < 1 || window > 4096) usage("--window must be 1-4096");
  if (seconds <= 0 || seconds > 30 || warmup < 0 || warmup > 10) usage("--seconds in (0, 30], --warmup in [0, 10]");

  std::vector<LoadSocket> load(sockets);
  for (std::size_t i = 0; i < sockets; ++i) {
    auto& s = load[i];
    s.fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    sockaddr_storage local{};
    const Endpoint bind_at{IpAddress::v4(0x7f000001u + static_cast<std::uint32_t>(i % addresses)), 0};
    const socklen_t length = io::to_sockaddr(bind_at, AF_INET, local);
    if (s.fd < 0 || ::bind(s.fd, reinterpret_cast<sockaddr*>(&local), length) != 0) usage("cannot bind a load socket");
    const int buffer = 4 << 20;
    ::setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    socklen_t got = sizeof local;
    ::getsockname(s.fd, reinterpret_cast<sockaddr*>(&local), &got);
    s.local = io::from_sockaddr(local);
    s.out = std::make_unique<io::SendBatch>(kBatch, 20);
    s.in = std::make_unique<io::RecvBatch>(kBatch, 2048);
  }

  std::uint64_t sent = 0, valid = 0, invalid = 0;
  std::vector<pollfd> fds(sockets);
  for (std::size_t i = 0; i < sockets; ++i) fds[i] = pollfd{load[i].fd, POLLIN, 0};

  auto phase = [&](double duration) {
    const auto start = SteadyClock::now();
    const auto end = start + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(duration));
    for (auto& s : load) s.last_answer = start;
    while (SteadyClock::now() < end) {
      bool any = false;
      for (std::size_t i = 0; i < sockets; ++i) {
        auto& s = load[i];
        // Refill the window.
        while (s.in_flight < window) {
          const std::size_t n = std::min(kBatch, window - s.in_flight);
          for (std::size_t k = 0; k < n; ++k) {
            std::array<std::uint8_t, 20> request{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42};
            std::memcpy(request.data() + 8, kTag.data(), 4);
            const std::uint64_t id = (static_cast<std::uint64_t>(i) << 48) | s.next_id++;
            std::memcpy(request.data() + 12, &id, 8);
            s.out->add(*server, request, AF_INET);
          }
          const auto result = s.out->flush(s.fd);
          sent += result.sent;
          s.in_flight += result.sent;
          if (result.sent < n) break;
        }
        // Read what came back.
        for (;;) {
          const std::size_t n = s.in->receive(s.fd);
          if (n == 0) break;
          any = true;
          s.last_answer = SteadyClock::now();
          for (std::size_t k = 0; k < n; ++k) {
            const auto decoded = stun::MessageView::decode(s.in->bytes(k));
            bool ok = decoded && decoded->message_class() == stun::MessageClass::SuccessResponse &&
                      decoded->method() == stun::Method::Binding &&
                      std::memcmp(decoded->transaction_id().data(), kTag.data(), 4) == 0;
            if (ok) {
              const auto mapped = decoded->xor_mapped_address();
              ok = mapped && *mapped == s.local;
            }
            (ok ? valid : invalid) += 1;
            if (s.in_flight > 0) --s.in_flight;
          }
          if (n < s.in->capacity()) break;
        }
        if (s.in_flight > 0 && SteadyClock::now() - s.last_answer > std::chrono::milliseconds(20)) {
          s.in_flight = 0;  // the rest of the window is lost
          s.last_answer = SteadyClock::now();
        }
      }
      if (!any) ::poll(fds.data(), fds.size(), 1);
    }
    return std::chrono::duration<double>(SteadyClock::now() - start).count();
  };

  phase(warmup);
  sent = valid = invalid = 0;
  const double cpu_before = cpu_pid > 0 ? process_cpu_seconds(cpu_pid) : -1;
  const double elapsed = phase(seconds);
  const double cpu = cpu_pid > 0 && cpu_before >= 0 ? process_cpu_seconds(cpu_pid) - cpu_before : -1;
  std::printf("{\"server\":\"%s\",\"sockets\":%zu,\"addresses\":%zu,\"window\":%zu,\"sent\":%llu,\"valid\":%llu,\"invalid\":%llu,"
              "\"seconds\":%.4f,\"responses_per_second\":%.0f,\"server_cpu_seconds\":%.2f,"
              "\"responses_per_server_cpu_second\":%.0f}\n",
              server->to_string().c_str(), sockets, addresses, window, static_cast<unsigned long long>(sent),
              static_cast<unsigned long long>(valid), static_cast<unsigned long long>(invalid), elapsed,
              static_cast<double>(valid) / elapsed, cpu, cpu > 0 ? static_cast<double>(valid) / cpu : 0.0);
  for (auto& s : load) ::close(s.fd);
  return valid > 0 ? 0 : 1;
}

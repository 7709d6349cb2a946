// Heap allocations per packet on the two hot paths of issue 7, counted by
// replacing the global operator new in this binary, next to their cost:
//
//   ProbeEngine_Flush/N    io::PunchDriver::flush(): a punch::ProbingMachine
//                          hands out 2048 due probes, the driver groups them
//                          by socket and sends them with sendmmsg() from N
//                          loopback sockets to a sink (real syscalls)
//   StunServer_Handle      stun::Server::handle(): decode a Binding request,
//                          rate-limit its source (4096 distinct sources),
//                          build the response in place
//   StunServer_BatchPath   what one `natpunch stun-server` worker does per
//                          datagram: recvmmsg() into a RecvBatch, handle()
//                          into a SendBatch slot, sendmmsg() back, over
//                          loopback (the client side's syscalls included)
//   StunServer_GenericLoop/N the same on the one real-time loop
//                          (io::run_machine over io::UdpPorts): a
//                          stun::ServerMachine answers each N-byte request
//                          in place (the contract's answer(): written into
//                          the ports' send batch), 200 bytes being past a
//                          Transmit's inline bytes
//
// Each reports the counter allocs_per_packet (allocations inside the timed
// loop / packets); the benchmark fails (SkipWithError) if it is not 0.
// Sockets are opened before the timed loop (a probe socket is bound the
// first time the strategy uses it, which the warm-up round does).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "core/rng.hpp"
#include "io/punch_driver.hpp"
#include "io/udp_batch.hpp"
#include "io/udp_client.hpp"
#include "io/udp_ports.hpp"
#include "punch/port_chooser_chain.hpp"
#include "punch/probing_machine.hpp"
#include "stun/message.hpp"
#include "stun/server.hpp"
#include "stun/server_machine.hpp"

namespace {
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace

__attribute__((noinline)) void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept { return operator new(size, tag); }
// Out of line, so GCC does not pair an inlined free() with the operator
// new it sees at a call site and warn (-Wmismatched-new-delete).
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete[](void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, std::size_t) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace natpunch;

int open_loopback(Endpoint& at) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t length = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length);
  at = Endpoint{IpAddress::v4(0x7f000001u), ntohs(a.sin_port)};
  return fd;
}

void report(benchmark::State& state, std::uint64_t allocations, std::uint64_t packets) {
  const double per_packet = packets == 0 ? 0.0 : static_cast<double>(allocations) / static_cast<double>(packets);
  state.counters["allocs_per_packet"] = per_packet;
  state.counters["packets"] = static_cast<double>(packets);
  state.SetItemsProcessed(static_cast<std::int64_t>(packets));
  if (allocations != 0) state.SkipWithError("the hot path allocated");
}

void ProbeEngine_Flush(benchmark::State& state) {
  const auto sockets = static_cast<std::uint32_t>(state.range(0));
  Endpoint sink;
  const int sink_fd = open_loopback(sink);
  auto socket0 = io::UdpClient::open(Endpoint{IpAddress::v4(0x7f000001u), 0});
  io::PunchDriver driver(*socket0.value(), {});
  Rng rng(1);
  punch::ProbingConfig config;
  config.peer_address = sink.address;
  config.sockets = sockets;
  config.send_interval = std::chrono::nanoseconds(1);
  config.probe_budget = 1'000'000'000'000;
  // Every flush finds 2048+ probes due: the schedule started long ago.
  const auto start = Clock::now() - seconds(3600);
  punch::ProbingMachine machine(config, std::make_unique<punch::RepeatPortChooser>(sink.port, config.probe_budget),
                                rng, start);
  for (int i = 0; i < 4; ++i) driver.flush(machine);  // binds every socket
  const auto sent_before = driver.stats().datagrams_sent;
  const auto allocations_before = g_allocations.load();
  for (auto _ : state) driver.flush(machine);
  report(state, g_allocations.load() - allocations_before, driver.stats().datagrams_sent - sent_before);
  ::close(sink_fd);
}
BENCHMARK(ProbeEngine_Flush)->Arg(1)->Arg(256)->UseRealTime();

std::array<std::uint8_t, 20> binding_request(std::uint64_t id) {
  std::array<std::uint8_t, 20> r{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42};
  std::memcpy(r.data() + 8, &id, 8);
  return r;
}

void StunServer_Handle(benchmark::State& state) {
  stun::ServerConfig config;
  config.primary = *Endpoint::parse("127.0.0.1:3478");
  config.rate_limit = stun::RateLimitConfig{.requests_per_second = 1e9,  // on, but never refusing
                                            .burst = 1e9,
                                            .address_requests_per_second = 1e9,
                                            .address_burst = 1e9};
  stun::Server server(config);
  std::array<std::uint8_t, 2048> out{};
  std::uint64_t packets = 0;
  const auto allocations_before = g_allocations.load();
  for (auto _ : state) {
    const auto request = binding_request(packets);
    const Endpoint from{IpAddress::v4(0x64400000u + static_cast<std::uint32_t>(packets % 4096)), 40000};
    auto reply = server.handle(Clock::now(), request, from, stun::SocketIndex::PrimaryIpPrimaryPort, out);
    benchmark::DoNotOptimize(reply);
    ++packets;
  }
  report(state, g_allocations.load() - allocations_before, packets);
  if (server.counters().answered != packets) state.SkipWithError("not every request was answered");
}
BENCHMARK(StunServer_Handle);

void StunServer_BatchPath(benchmark::State& state) {
  constexpr std::size_t kBatch = 32;
  Endpoint server_at, client_at;
  const int server_fd = open_loopback(server_at);
  const int client_fd = open_loopback(client_at);
  stun::ServerConfig config;
  config.primary = server_at;
  config.rate_limit.reset();
  stun::Server server(config);
  io::SendBatch requests(kBatch, 20), replies(kBatch, 2048);
  io::RecvBatch received(kBatch, 65536), answers(kBatch, 2048);
  std::uint64_t id = 0, packets = 0;
  auto round = [&] {
    for (std::size_t k = 0; k < kBatch; ++k) requests.add(server_at, binding_request(++id), AF_INET);
    requests.flush(client_fd);
    const std::size_t n = received.receive(server_fd);
    const auto now = Clock::now();
    for (std::size_t k = 0; k < n; ++k) {
      const auto out = replies.next_payload();
      if (auto reply = server.handle(now, received.bytes(k), received.from(k), stun::SocketIndex::PrimaryIpPrimaryPort, out))
        replies.commit(reply->length, reply->to, AF_INET);
    }
    replies.flush(server_fd);
    answers.receive(client_fd);
    return answers.size();
  };
  round();
  const auto allocations_before = g_allocations.load();
  for (auto _ : state) packets += round();
  report(state, g_allocations.load() - allocations_before, packets);
  if (packets == 0) state.SkipWithError("no responses");
  ::close(server_fd);
  ::close(client_fd);
}
BENCHMARK(StunServer_BatchPath)->UseRealTime();

// A Binding request of `size` bytes (20: bare; more: padded with PADDING,
// so the response is padded to the same length, past what a Transmit holds
// inline).
std::vector<std::uint8_t> sized_request(std::uint64_t id, std::size_t size) {
  stun::TransactionId tid{};
  std::memcpy(tid.data(), &id, sizeof id);
  std::vector<std::uint8_t> buffer(size);
  stun::MessageBuilder b(buffer, stun::Method::Binding, stun::MessageClass::Request, tid);
  if (size > 20) b.add_padding(size - 24);
  buffer.resize(b.size());
  return buffer;
}

void StunServer_GenericLoop(benchmark::State& state) {
  constexpr std::size_t kBatch = 32;
  const auto request_size = static_cast<std::size_t>(state.range(0));
  Endpoint client_at;
  const int client_fd = open_loopback(client_at);
  io::UdpPortsOptions options;
  options.batch = kBatch;
  options.max_datagram = 65536;
  auto ports = io::UdpPorts::open(Endpoint{IpAddress::v4(0x7f000001u), 0}, options);
  const Endpoint server_at = (*ports)->bound_endpoint(0);
  stun::ServerConfig config;
  config.primary = server_at;
  config.rate_limit.reset();
  stun::ServerMachine machine(config);
  io::SendBatch requests(kBatch, 2048);
  io::RecvBatch answers(kBatch, 2048);
  std::vector<std::vector<std::uint8_t>> ready;  // made before the timed loop
  for (std::size_t k = 0; k < kBatch; ++k) ready.push_back(sized_request(k, request_size));
  io::DriveOptions drive;
  drive.stop_poll = milliseconds(20);  // a datagram lost on loopback costs one short wait, not a hang
  std::uint64_t packets = 0, target = 0;
  bool sized_right = true;
  auto round = [&] {
    for (std::size_t k = 0; k < kBatch; ++k) requests.add(server_at, ready[k], AF_INET);
    requests.flush(client_fd);
    target += kBatch;
    const auto deadline = Clock::now() + milliseconds(200);
    io::run_machine(
        machine, **ports, [&] { return machine.server().counters().received >= target || Clock::now() > deadline; },
        io::ignore_events, drive);
    target = machine.server().counters().received;
    answers.receive(client_fd);
    for (std::size_t k = 0; k < answers.size(); ++k) sized_right = sized_right && answers.bytes(k).size() >= request_size;
    return answers.size();
  };
  round();
  const auto allocations_before = g_allocations.load();
  for (auto _ : state) packets += round();
  report(state, g_allocations.load() - allocations_before, packets);
  if (packets == 0) state.SkipWithError("no responses");
  if (!sized_right) state.SkipWithError("a response was shorter than its request");
  ::close(client_fd);
}
// 20: a bare Binding request; 200: padded, so the response is too (past a Transmit's inline bytes).
BENCHMARK(StunServer_GenericLoop)->Arg(20)->Arg(200)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();

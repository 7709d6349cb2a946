// probe_load: whole-process throughput of the probe engine (io::PunchDriver
// driving a real punch::ProbingMachine) over loopback, next to the
// machine's limit measured in the same process: a minimal single-socket
// sendmmsg() loop sending the same 52-byte datagrams to the same sink.
// bench/probe_bench.sh runs it and prints the ratios.
//
//   natpunch_probe_load baseline --seconds S [--ports P]
//   natpunch_probe_load engine --sockets N --seconds S [--rate R] [--batch B] [--gso on|off]
//                              [--ports P] [--busy on|off]
//
// --ports P (engine): P sink sockets, and every probe goes to a uniformly
// random one of their ports -- the birthday attack's traffic pattern (no
// two consecutive probes of a socket share a destination, so UDP GSO has
// nothing to merge). Default 1: every probe to one sink port (the hard side
// of "one hard side", where GSO merges runs).
// --batch B: PunchDriverOptions::send_batch (default: the driver's).
// --busy off: PunchDriverOptions::busy_poll = false (for comparison).
//
// The engine's socket 0 is bound to 0.0.0.0:0, as `natpunch connect`
// binds it (io/peer_session.cpp); the baseline's socket is left unbound,
// which autobinds to the same wildcard. Everything goes to sink sockets this
// process binds on 127.0.0.1 and never reads: the kernel delivers each datagram to it (in the sender's
// context, as loopback does) and drops it once its buffer is full, the same
// for every mode. Nothing leaves the machine. Each mode runs a short
// warm-up (binds the sockets, faults in the buffers), then the timed part.
// Prints one JSON line: mode, sockets, packets, seconds, packets_per_second,
// syscalls.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "core/rng.hpp"
#include "io/punch_driver.hpp"
#include "io/udp_batch.hpp"
#include "io/udp_client.hpp"
#include "punch/port_chooser_chain.hpp"
#include "punch/probing_machine.hpp"

namespace {

using namespace natpunch;

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "probe_load: %s\n(usage: see the comment at the top of bench/probe_load.cpp)\n", why);
  std::exit(2);
}

struct Options {
  std::string mode;
  std::uint32_t sockets = 1;
  double seconds = 2;
  double rate = 0;
  std::uint32_t batch = 0;  // 0: the driver's default
  bool gso = true;
  std::uint32_t ports = 1;
  bool busy = true;
};

Options parse(int argc, char** argv) {
  Options o;
  if (argc < 2) usage("missing mode");
  o.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--sockets") o.sockets = static_cast<std::uint32_t>(std::atoi(value));
    else if (flag == "--seconds") o.seconds = std::atof(value);
    else if (flag == "--rate") o.rate = std::atof(value);
    else if (flag == "--batch") o.batch = static_cast<std::uint32_t>(std::atoi(value));
    else if (flag == "--gso") o.gso = std::string(value) != "off";
    else if (flag == "--ports") o.ports = static_cast<std::uint32_t>(std::atoi(value));
    else if (flag == "--busy") o.busy = std::string(value) != "off";
    else usage("unknown flag");
  }
  if (o.sockets < 1 || o.sockets > 4096) usage("--sockets must be 1-4096");
  if (o.seconds <= 0 || o.seconds > 30) usage("--seconds must be in (0, 30]");
  if (o.ports < 1 || o.ports > 1024) usage("--ports must be 1-1024");
  return o;
}

// The sink: bound, never read.
int open_sink(Endpoint& at) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) usage("cannot bind the sink");
  socklen_t length = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length);
  at = Endpoint{IpAddress::v4(0x7f000001u), ntohs(a.sin_port)};
  return fd;
}

// CPU seconds (user + system) this process has used: on a machine shared
// with other jobs, packets per CPU-second compares modes more fairly than
// packets per wall-second, which mostly measures the scheduler.
double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

// syscalls: send calls (sendmmsg); receive_syscalls: recvmmsg() calls
// (the engine's reads, busy-mode scans included).
void print(const char* mode, std::uint32_t sockets, std::uint64_t packets, double seconds, std::uint64_t syscalls,
           double cpu, std::uint64_t receive_syscalls = 0) {
  std::printf("{\"mode\":\"%s\",\"sockets\":%u,\"packets\":%llu,\"seconds\":%.4f,\"packets_per_second\":%.0f,"
              "\"syscalls\":%llu,\"receive_syscalls\":%llu,\"cpu_seconds\":%.4f,\"packets_per_cpu_second\":%.0f}\n",
              mode, sockets, static_cast<unsigned long long>(packets), seconds, static_cast<double>(packets) / seconds,
              static_cast<unsigned long long>(syscalls), static_cast<unsigned long long>(receive_syscalls), cpu,
              cpu > 0 ? static_cast<double>(packets) / cpu : 0.0);
}

// The machine's limit: one socket, sendmmsg() of 64 ready-made datagrams
// in a loop, nothing else. With --ports P the 64 go to random ones of the
// P sink ports (fixed once), so the kernel's delivery side -- P sink
// sockets instead of one -- matches the engine's random-port mode.
void baseline(const Options& o, const std::vector<std::uint16_t>& ports) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  io::SendBatch batch(64, 64);
  const std::array<std::uint8_t, wire::kProbeSize> payload{'N', 'P', 2, 1};
  Rng rng(2);
  for (std::size_t i = 0; i < batch.capacity(); ++i) {
    const auto port = ports[static_cast<std::size_t>(rng.uniform(0, ports.size() - 1))];
    batch.add(Endpoint{IpAddress::v4(0x7f000001u), port}, payload, AF_INET);
  }
  auto burst = [&](double seconds, std::uint64_t& sent, std::uint64_t& calls) {
    const auto start = std::chrono::steady_clock::now();
    const auto end = start + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
      for (int k = 0; k < 16; ++k) {
        const auto out = batch.send(fd, 0, batch.capacity());
        sent += out.sent;
        calls += out.syscalls;
      }
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  std::uint64_t sent = 0, calls = 0;
  burst(0.2, sent, calls);
  sent = calls = 0;
  const double cpu_before = cpu_seconds();
  const double seconds = burst(o.seconds, sent, calls);
  print(ports.size() > 1 ? "baseline_random_ports" : "baseline", 1, sent, seconds, calls, cpu_seconds() - cpu_before);
  ::close(fd);
}

// The probe engine: a ProbingMachine (the one every direct strategy uses)
// knocking on one endpoint from `sockets` sockets in turn -- the hard side
// of "one hard side" -- with no send interval, driven by PunchDriver.
// A uniformly random one of the sink ports for every probe.
class SinkPortChooser final : public punch::PortChooser {
 public:
  explicit SinkPortChooser(std::vector<std::uint16_t> ports) : ports_(std::move(ports)) {}
  std::optional<std::uint16_t> next(Rng& rng) override {
    return ports_[static_cast<std::size_t>(rng.uniform(0, ports_.size() - 1))];
  }

 private:
  std::vector<std::uint16_t> ports_;
};

void engine(const Options& o, const Endpoint& sink, const std::vector<std::uint16_t>& ports) {
  auto socket0 = io::UdpClient::open(Endpoint{IpAddress::v4(0u), 0});
  if (!socket0) usage("cannot bind socket 0");
  io::PunchDriverOptions options;
  options.max_send_rate = o.rate;
  options.send_burst = 256;
  if (o.batch > 0) options.send_batch = o.batch;
  options.udp_gso = o.gso;
  options.busy_poll = o.busy;
  io::PunchDriver driver(*socket0.value(), options);
  Rng rng(1);

  auto run = [&](double seconds) {
    punch::ProbingConfig config;
    config.peer_address = sink.address;
    config.session_id = 7;
    config.sockets = o.sockets;
    config.send_interval = std::chrono::nanoseconds(1);
    config.probe_budget = 1'000'000'000;
    config.time_budget = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
    config.linger = Duration::zero();
    const auto start = Clock::now();
    std::unique_ptr<punch::PortChooser> chooser;
    if (ports.size() > 1) chooser = std::make_unique<SinkPortChooser>(ports);
    else chooser = std::make_unique<punch::RepeatPortChooser>(sink.port, config.probe_budget);
    punch::ProbingMachine machine(config, std::move(chooser), rng, start);
    const auto before = driver.stats();
    const auto result = driver.run(machine, start);
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (result.first_error) std::fprintf(stderr, "probe_load: %s\n", result.first_error->c_str());
    return std::make_tuple(driver.stats().datagrams_sent - before.datagrams_sent, elapsed,
                           driver.stats().send_syscalls - before.send_syscalls,
                           driver.stats().receive_syscalls - before.receive_syscalls);
  };
  run(0.2);  // binds every socket
  const double cpu_before = cpu_seconds();
  const auto [sent, seconds, calls, receive_calls] = run(o.seconds);
  const char* mode = o.rate > 0 ? "engine_rate_limited"
                     : ports.size() > 1 ? "engine_random_ports"
                     : o.gso ? "engine" : "engine_no_gso";
  print(mode, o.sockets, sent, seconds, calls, cpu_seconds() - cpu_before, receive_calls);
}

}  // namespace

int main(int argc, char** argv) {
  const auto o = parse(argc, argv);
  Endpoint sink;
  std::vector<int> sink_fds{open_sink(sink)};
  std::vector<std::uint16_t> ports{sink.port};
  for (std::uint32_t i = 1; i < o.ports; ++i) {
    Endpoint more;
    sink_fds.push_back(open_sink(more));
    ports.push_back(more.port);
  }
  if (o.mode == "baseline") baseline(o, ports);
  else if (o.mode == "engine") engine(o, sink, ports);
  else usage("mode must be baseline or engine");
  for (const int fd : sink_fds) ::close(fd);
  return 0;
}

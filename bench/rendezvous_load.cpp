// rendezvous_load: registers, refreshes and connects many identities at a
// rendezvous server and reports what one node holds and how fast (issue 21).
// Bounded in count and time; loopback only.
//
//   natpunch_rendezvous_load [--registrations N] [--connects M] [--refreshes R]
//                            [--sources S] [--window W] [--max-seconds T]
//                            [--server 127.x.y.z:PORT --server-pid PID]
//                            [--callee-server 127.x.y.z:PORT] [--connect-window C]
//                            [--register-window R] [--threads T]
//
// Without --server it runs the server machine (rendezvous::Server) in this
// process, in virtual time, with the defaults of `natpunch rendezvous`
// except the table sizes (room for N registrations and M sessions), no
// registration puzzle (its cost is the client's: see
// rendezvous_admission_bench) and no signature-check budgets (a node's
// real budget is 2,000/s: filling a million registrations at that rate
// takes 500 s). Every identity registers from an endpoint of its own (a
// port of one of 256 addresses: phones behind carrier NATs). It reports the heap the server holds per
// registration (mallinfo2 before and after; this program's own per-peer
// state is allocated beforehand) and the server's CPU time per operation
// (thread CPU clock around each handle() call), split into the Ed25519 and
// MAC work of each operation (measured on the same inputs) and the rest.
//
// With --server it drives a running `natpunch rendezvous` over UDP from S
// sockets (default 256) on 127.10.k.m (64 /24 networks, 4 addresses each,
// so the per-address and per-network shares are not what limits it), split
// over T threads (default 2: one generator thread cannot keep a server busy
// on a 2-core machine), each with its own sockets, identities and share of
// N and M, batching its datagrams (sendmmsg per socket, epoll + recvmmsg),
// at most W operations in flight per socket (registrations: R, default W),
// each retransmitted after 500 ms (3 tries); with --server-pid it reports the server's resident memory per
// registration (VmRSS before and after registering) and CPU time per
// operation (/proc/PID/stat). Start the server with room for the load, e.g.
//   natpunch rendezvous --listen 127.0.0.1:7000 --max-registrations 1100000
//     --max-pending 1000000 --max-sessions 1000000 --max-puzzle-bits 0
//     --signature-checks-per-s 0 --registration-lifetime 3600
//
// With --callee-server (a second node of the same cluster) the callees
// (the second half of the identities) register at and answer through that
// node, the callers at --server: every connect crosses the cluster. Over
// UDP it also reports each connect's latency (the caller's first
// ConnectRequest to its SessionInfo, retransmissions included):
// connect_latency_ms p50/p90/p99; --connect-window C (at most C connects
// in flight in all) measures the path rather than a queue
// (bench/rendezvous_cluster_bench.sh).
//
// Phases: register N identities (Register, Challenge, signed Prove,
// Registered); refresh R of them (Refresh -> Registered); M connects
// (ConnectRequest -> IncomingRequest at the callee -> Accept -> SessionInfo
// to both), caller i and callee N/2 + i. Prints one JSON line.
#include <malloc.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/rng.hpp"
#include "core/splitmix.hpp"
#include "io/udp_batch.hpp"
#include "rendezvous/crypto.hpp"
#include "rendezvous/server.hpp"

namespace {

using namespace natpunch;
using namespace natpunch::rendezvous;
using SteadyClock = std::chrono::steady_clock;

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr, "rendezvous_load: %s\n(usage: see the comment at the top of bench/rendezvous_load.cpp)\n",
               why.c_str());
  std::exit(2);
}

double thread_cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// CPU seconds (utime + stime) of process `pid`, all threads; < 0 if unknown.
double process_cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && (fields >> field); ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// VmRSS of `pid` in bytes; 0 if unknown.
std::uint64_t resident_bytes(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

std::uint64_t heap_in_use() {
  const auto m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// The source sockets: 127.10.k.m, k in 0..63, m in 1..4.
Endpoint source_endpoint(std::size_t i, std::uint16_t port) {
  const auto k = static_cast<std::uint8_t>((i / 4) % 64);
  const auto m = static_cast<std::uint8_t>(1 + i % 4);
  return Endpoint{IpAddress::v4({127, 10, k, m}), port};
}

// What the generator keeps per identity (allocated before the server
// grows, so the heap figure is the server's).
struct LoadPeer {
  PublicKey identity{};
  Key client_to_server{};
  Key server_to_client{};
  std::uint64_t registration_id = 0;
  std::uint64_t sequence = 0;
  std::uint32_t source = 0;
};

// registration id -> peer, open addressing, fixed size.
class IdTable {
 public:
  explicit IdTable(std::size_t n) {
    std::size_t size = 16;
    while (size < 2 * n) size *= 2;
    slots_.resize(size);
  }
  void put(std::uint64_t id, std::uint32_t peer) {
    for (std::size_t i = splitmix64(id) & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1))
      if (slots_[i].id == 0 || slots_[i].id == id) {
        slots_[i] = {id, peer};
        return;
      }
  }
  std::optional<std::uint32_t> get(std::uint64_t id) const {
    for (std::size_t i = splitmix64(id) & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      if (slots_[i].id == 0) return std::nullopt;
      if (slots_[i].id == id) return slots_[i].peer;
    }
  }

 private:
  struct Slot {
    std::uint64_t id = 0;
    std::uint32_t peer = 0;
  };
  std::vector<Slot> slots_;
};

Identity identity_of(std::uint64_t run, std::size_t i) {
  Key seed{};
  std::uint64_t x = splitmix64(run ^ (0x1000000ULL + i));
  for (std::size_t k = 0; k < seed.size(); k += 8) {
    x = splitmix64(x);
    std::memcpy(seed.data() + k, &x, 8);
  }
  return Identity::from_seed(seed);
}

// What a realistic phone says about itself (a block allocator, one local
// endpoint): the server keeps it per registration.
NatInfo phone_info(std::size_t i) {
  NatInfo info;
  info.mapping = nat::MappingBehavior::EndpointIndependent;
  info.filtering = nat::FilteringBehavior::AddressAndPortDependent;
  info.carrier_profile = "kpn-nl";
  info.pending_timeout_ms = 120'000;
  info.idle_timeout_ms = 239'000;
  info.allocator = nat::BlockSpec{256, 1024, 65535};
  info.local_endpoints.push_back(
      Endpoint{IpAddress::v4({100, 64, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)}), 40000});
  return info;
}

// Moves datagrams between the generator's sources and a server.
class Transport {
 public:
  using Sink = std::function<void(std::uint32_t channel, std::span<const std::uint8_t> bytes)>;
  virtual ~Transport() = default;
  // The channel (socket or endpoint) a peer sends from and hears on.
  virtual std::uint32_t channel_of(std::size_t peer) const = 0;
  virtual void send(std::uint32_t channel, std::vector<std::uint8_t> bytes) = 0;
  // Delivers what arrived; waits up to `wait` when nothing has.
  virtual void poll(const Sink& sink, std::chrono::milliseconds wait) = 0;
  // Operations in flight are counted per one of these windows.
  virtual std::size_t sources() const = 0;
  // Whether every peer has a channel of its own (channel_of(peer) == peer).
  virtual bool peer_channels() const { return false; }
  // When an unanswered operation is sent again.
  virtual std::chrono::milliseconds retry_after() const { return std::chrono::milliseconds(500); }
};

// The server machine in this process, in virtual time. Each peer has an
// endpoint of its own (a phone behind a carrier NAT: its own port on a
// shared address), on 256 addresses.
class MachineTransport : public Transport {
 public:
  MachineTransport(Server& server, std::size_t sources, Duration step)
      : server_(server), step_(step), sources_(sources) {
    constexpr int kCalls = 20000;
    const double start = thread_cpu_seconds();
    for (int i = 0; i < kCalls; ++i) (void)thread_cpu_seconds();
    clock_cost_ = (thread_cpu_seconds() - start) / kCalls;
  }
  bool peer_channels() const override { return true; }
  std::uint32_t channel_of(std::size_t peer) const override { return static_cast<std::uint32_t>(peer); }
  void send(std::uint32_t channel, std::vector<std::uint8_t> bytes) override {
    now_ += step_;
    // The thread's CPU clock (preemption on a busy machine does not count),
    // less what reading it costs (calibrated).
    const double before = thread_cpu_seconds();
    auto replies = server_.handle(now_, bytes, endpoint_of(channel));
    cpu_ += thread_cpu_seconds() - before - clock_cost_;
    for (auto& r : replies) queue_.push_back({index_of(r.to), std::move(r.bytes)});
  }
  void poll(const Sink& sink, std::chrono::milliseconds) override {
    std::vector<std::pair<std::uint32_t, std::vector<std::uint8_t>>> batch;
    batch.swap(queue_);
    for (auto& [source, bytes] : batch) sink(source, bytes);
  }
  std::size_t sources() const override { return sources_; }
  // Nothing is lost in process: a "retry" would only be a duplicate.
  std::chrono::milliseconds retry_after() const override { return std::chrono::milliseconds(3'600'000); }
  double server_cpu() const { return cpu_; }
  TimePoint now() const { return now_; }

 private:
  Endpoint endpoint_of(std::uint32_t channel) const {
    return source_endpoint(channel % 256, static_cast<std::uint16_t>(1024 + channel / 256));
  }
  std::uint32_t index_of(const Endpoint& e) const {
    const auto a = e.address.v4_host_order();
    return static_cast<std::uint32_t>(((a >> 8) & 0xff) * 4 + (a & 0xff) - 1) + 256u * (e.port - 1024u);
  }
  Server& server_;
  Duration step_;
  TimePoint now_ = kTimeZero + seconds(1000);
  double cpu_ = 0;
  double clock_cost_ = 0;
  std::size_t sources_;
  std::vector<std::pair<std::uint32_t, std::vector<std::uint8_t>>> queue_;
};

// A running server over loopback UDP. Sends wait in a batch per socket
// until poll() (one sendmmsg() per socket with something to say); poll()
// asks epoll which sockets have datagrams and drains only those, a
// recvmmsg() batch at a time.
class UdpTransport : public Transport {
 public:
  // Peers [0, split) talk to servers[0], the rest to servers[1] (if any),
  // each server from `sources` sockets of its own on the load addresses
  // first_source, first_source + 1, ...
  UdpTransport(std::vector<Endpoint> servers, std::size_t sources, std::size_t split, std::size_t first_source = 0)
      : servers_(std::move(servers)), per_server_(sources), split_(split), epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (epoll_fd_ < 0) usage("cannot create an epoll set");
    for (std::size_t i = 0; i < sources * servers_.size(); ++i) {
      Socket s;
      const Endpoint local_endpoint = source_endpoint(first_source + i % sources, 0);
      s.fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
      sockaddr_storage local{};
      const socklen_t length = io::to_sockaddr(local_endpoint, AF_INET, local);
      if (s.fd < 0 || ::bind(s.fd, reinterpret_cast<sockaddr*>(&local), length) != 0)
        usage("cannot bind a load socket on " + local_endpoint.to_string());
      s.server = servers_[i / sources];
      const int buffer = 4 << 20;
      ::setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
      ::setsockopt(s.fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
      s.out = std::make_unique<io::SendBatch>(kBatch, kMaxMessageSize);
      s.in = std::make_unique<io::RecvBatch>(kBatch, 2048);
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.u32 = static_cast<std::uint32_t>(sockets_.size());
      if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, s.fd, &event) != 0) usage("cannot watch a load socket");
      sockets_.push_back(std::move(s));
    }
  }
  ~UdpTransport() override {
    for (auto& s : sockets_) ::close(s.fd);
    ::close(epoll_fd_);
  }
  std::uint32_t channel_of(std::size_t peer) const override {
    const std::size_t server = servers_.size() > 1 && peer >= split_ ? 1 : 0;
    return static_cast<std::uint32_t>(server * per_server_ + peer % per_server_);
  }
  void send(std::uint32_t channel, std::vector<std::uint8_t> bytes) override {
    auto& s = sockets_[channel];
    if (s.out->full()) s.out->flush(s.fd);
    if (s.out->empty()) dirty_.push_back(channel);
    s.out->add(s.server, bytes, AF_INET);
  }
  void poll(const Sink& sink, std::chrono::milliseconds wait) override {
    for (auto channel : dirty_) {
      auto& s = sockets_[channel];
      if (!s.out->empty()) s.out->flush(s.fd);
    }
    dirty_.clear();
    std::array<epoll_event, 256> events{};
    const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), static_cast<int>(wait.count()));
    for (int e = 0; e < n; ++e) {
      const std::uint32_t i = events[static_cast<std::size_t>(e)].data.u32;
      auto& s = sockets_[i];
      for (;;) {
        const std::size_t got = s.in->receive(s.fd);
        for (std::size_t k = 0; k < got; ++k)
          if (!s.in->truncated(k)) sink(i, s.in->bytes(k));
        if (got < s.in->capacity()) break;
      }
    }
  }
  std::size_t sources() const override { return sockets_.size(); }

 private:
  static constexpr std::size_t kBatch = 64;
  struct Socket {
    int fd = -1;
    Endpoint server;
    std::unique_ptr<io::SendBatch> out;
    std::unique_ptr<io::RecvBatch> in;
  };
  std::vector<Endpoint> servers_;
  std::size_t per_server_;
  std::size_t split_;
  int epoll_fd_;
  std::vector<Socket> sockets_;
  std::vector<std::uint32_t> dirty_;  // sockets with sends waiting
};

struct PhaseResult {
  std::size_t done = 0;
  std::size_t failed = 0;
  double seconds = 0;
  std::uint64_t retransmissions = 0;
  std::vector<double> latency_ms;  // of each done operation: first send to answer
};

// The q-quantile (0..1) of `v` (sorted in place); 0 when empty.
double quantile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

class Generator {
 public:
  Generator(Transport& transport, std::size_t registrations, std::size_t window, std::uint64_t run,
            double max_seconds)
      : transport_(transport),
        peers_(registrations),
        ids_(registrations),
        window_(window),
        run_(run),
        max_seconds_(max_seconds) {
    for (std::size_t i = 0; i < peers_.size(); ++i)
      peers_[i].source = transport_.channel_of(i);
    ops_.resize(registrations);
  }

  PhaseResult register_all() {
    return run_phase(
        peers_.size(),
        [this](std::size_t op) {
          ops_[op] = Op{Step::AwaitChallenge, static_cast<std::uint32_t>(op), 0, {}, {}};
          send_register(op);
        },
        [this](std::size_t op) {
          if (ops_[op].step == Step::AwaitChallenge) send_register(op);
          else transport_.send(peers_[op].source, ops_[op].prove);
        },
        [this](std::uint32_t source, std::span<const std::uint8_t> bytes) { return on_register_reply(source, bytes); },
        0, register_window_);
  }

  PhaseResult refresh(std::size_t count) {
    count = std::min(count, registered());
    return run_phase(
        count, [this](std::size_t op) { send_refresh(op); }, [this](std::size_t op) { send_refresh(op); },
        [this](std::uint32_t, std::span<const std::uint8_t> bytes) -> std::optional<std::size_t> {
          auto m = decode(bytes);
          if (!m || !std::holds_alternative<Registered>(*m)) return std::nullopt;
          auto peer = ids_.get(std::get<Registered>(*m).auth.registration_id);
          if (!peer || !verify_tag(bytes, peers_[*peer].server_to_client)) return std::nullopt;
          return *peer;
        });
  }

  PhaseResult connect(std::size_t count) {
    // Callers from the first half, callees from the second (the half a
    // --callee-server serves).
    const std::size_t half = registered() == peers_.size() ? peers_.size() / 2 : registered() / 2;
    count = std::min(count, half * 16);  // at most 16 pending per caller identity
    if (half == 0) return {};
    connect_ops_.assign(count, ConnectOp{});
    return run_phase(
        count,
        [this, half](std::size_t op) {
          connect_ops_[op] = ConnectOp{static_cast<std::uint32_t>(op % half), static_cast<std::uint32_t>(half + op % half)};
          send_connect(op);
        },
        [this](std::size_t op) { send_connect(op); },
        [this](std::uint32_t, std::span<const std::uint8_t> bytes) { return on_connect_reply(bytes); },
        connect_window_);
  }
  void set_connect_window(std::size_t n) { connect_window_ = n; }
  // Registrations in flight per source (0: --window): each costs the
  // server ~0.1 ms of CPU, so a window that suits connects makes a queue
  // longer than the 500 ms retry.
  void set_register_window(std::size_t n) { register_window_ = n; }

  std::size_t registered() const { return registered_; }

 private:
  enum class Step : std::uint8_t { AwaitChallenge, AwaitRegistered };
  struct Op {
    Step step = Step::AwaitChallenge;
    std::uint32_t peer = 0;
    std::uint64_t nonce_tag = 0;
    Nonce nonce{};
    std::vector<std::uint8_t> prove;
  };
  struct ConnectOp {
    std::uint32_t caller = 0;
    std::uint32_t callee = 0;
  };

  // Runs `count` operations, at most window_ per source in flight; each is
  // retried after 500 ms (3 tries), then counted as failed.
  template <class Start, class Retry, class OnReply>
  PhaseResult run_phase(std::size_t count, Start start, Retry retry, OnReply on_reply, std::size_t max_total = 0,
                        std::size_t window = 0) {
    const std::size_t per_source_window = window > 0 ? window : window_;
    PhaseResult result;
    const auto begin = SteadyClock::now();
    const auto give_up = begin + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(max_seconds_));
    struct InFlight {
      SteadyClock::time_point first{};
      SteadyClock::time_point sent{};
      int tries = 0;
      bool done = false;
    };
    std::vector<InFlight> flight(count);
    std::vector<std::size_t> per_source(transport_.sources(), 0);
    std::vector<std::vector<std::size_t>> open(transport_.sources());
    std::size_t next = 0, finished = 0, in_flight = 0;
    auto room = [&] { return max_total == 0 || in_flight < max_total; };
    auto source_of = [this](std::size_t op) { return op_source(op); };
    while (finished < count && SteadyClock::now() < give_up) {
      // Fill each source's window (ops are assigned round-robin to sources).
      while (next < count && per_source[source_of(next)] < per_source_window && room()) {
        const auto s = source_of(next);
        ++per_source[s];
        ++in_flight;
        open[s].push_back(next);
        const auto t = SteadyClock::now();
        flight[next] = {t, t, 1, false};
        start(next);
        ++next;
      }
      transport_.poll(
          [&](std::uint32_t source, std::span<const std::uint8_t> bytes) {
            auto op = on_reply(source, bytes);
            if (!op || *op >= count || flight[*op].done) return;
            flight[*op].done = true;
            result.latency_ms.push_back(
                std::chrono::duration<double, std::milli>(SteadyClock::now() - flight[*op].first).count());
            ++finished;
            ++result.done;
            --in_flight;
            --per_source[source_of(*op)];
          },
          std::chrono::milliseconds(1));
      // Retries and failures, and the finished ops leave the open lists.
      const auto now = SteadyClock::now();
      for (std::size_t s = 0; s < open.size(); ++s) {
        auto& list = open[s];
        for (std::size_t k = 0; k < list.size();) {
          auto& f = flight[list[k]];
          if (f.done) {
            list[k] = list.back();
            list.pop_back();
            continue;
          }
          if (now - f.sent > transport_.retry_after()) {
            if (f.tries >= 3) {
              f.done = true;
              ++finished;
              ++result.failed;
              --in_flight;
              --per_source[s];
              list[k] = list.back();
              list.pop_back();
              continue;
            }
            ++f.tries;
            f.sent = now;
            ++result.retransmissions;
            retry(list[k]);
          }
          ++k;
        }
      }
    }
    result.seconds = std::chrono::duration<double>(SteadyClock::now() - begin).count();
    return result;
  }

  std::uint32_t op_source(std::size_t op) const { return static_cast<std::uint32_t>(op % transport_.sources()); }

  void send_register(std::size_t op) {
    Op& o = ops_[op];
    Register r;
    r.identity = identity_of(run_, op).public_key;
    peers_[op].identity = r.identity;
    const std::uint64_t tag = splitmix64(run_ ^ op);
    std::memcpy(r.client_nonce.data(), &tag, 8);
    const std::uint64_t index = op;
    std::memcpy(r.client_nonce.data() + 8, &index, 8);
    o.nonce = r.client_nonce;
    transport_.send(peers_[op].source, encode(r));
  }

  std::optional<std::size_t> on_register_reply(std::uint32_t source, std::span<const std::uint8_t> bytes) {
    auto m = decode(bytes);
    if (!m) return std::nullopt;
    if (const auto* c = std::get_if<Challenge>(&*m)) {
      std::uint64_t index = 0, tag = 0;
      std::memcpy(&tag, c->client_nonce.data(), 8);
      std::memcpy(&index, c->client_nonce.data() + 8, 8);
      if (index >= ops_.size() || tag != splitmix64(run_ ^ index)) return std::nullopt;
      Op& o = ops_[index];
      if (o.step != Step::AwaitChallenge) return std::nullopt;
      const Identity identity = identity_of(run_, index);
      const KeyShare share = KeyShare::from_secret(identity.seed);  // fresh per Prove in the real client
      auto keys = derive_client_keys(identity, share, *c);
      if (!keys) return std::nullopt;
      LoadPeer& p = peers_[index];
      p.client_to_server = keys->client_to_server;
      p.server_to_client = keys->server_to_client;
      Prove prove;
      prove.identity = identity.public_key;
      prove.client_nonce = c->client_nonce;
      prove.issued_at_ms = c->issued_at_ms;
      prove.cookie = c->cookie;
      prove.puzzle_bits = c->puzzle_bits;
      if (c->puzzle_bits > 0) prove.puzzle_solution = solve_puzzle(c->cookie, identity.public_key, c->puzzle_bits).solution;
      prove.flags = kProveListening;
      prove.instance = 1;
      prove.info = phone_info(index);
      prove.key_share = share.public_key;
      o.prove = encode(prove);
      sign_prove(o.prove, identity, c->server_key);
      o.step = Step::AwaitRegistered;
      if (!transport_.peer_channels()) awaiting_[source].push_back(static_cast<std::uint32_t>(index));
      transport_.send(source, o.prove);
      return std::nullopt;
    }
    if (!std::holds_alternative<Registered>(*m)) return std::nullopt;
    // Which of this source's provers it answers: the one whose key verifies.
    if (transport_.peer_channels()) {
      if (!accept_registered(source, bytes, std::get<Registered>(*m))) return std::nullopt;
      return source;
    }
    auto& waiting = awaiting_[source];
    for (std::size_t k = 0; k < waiting.size(); ++k) {
      const std::uint32_t index = waiting[k];
      if (!accept_registered(index, bytes, std::get<Registered>(*m))) continue;
      waiting[k] = waiting.back();
      waiting.pop_back();
      return index;
    }
    return std::nullopt;
  }

  bool accept_registered(std::uint32_t index, std::span<const std::uint8_t> bytes, const Registered& m) {
    LoadPeer& p = peers_[index];
    if (ops_[index].step != Step::AwaitRegistered || !verify_tag(bytes, p.server_to_client)) return false;
    p.registration_id = m.auth.registration_id;
    p.sequence = 0;
    ids_.put(p.registration_id, index);
    std::vector<std::uint8_t>().swap(ops_[index].prove);  // `= {}` would keep the capacity
    ops_[index].step = Step::AwaitChallenge;  // done: a copy of the answer counts once
    ++registered_;
    return true;
  }

  template <class T>
  void send_sealed(std::uint32_t peer, T message) {
    LoadPeer& p = peers_[peer];
    message.auth.registration_id = p.registration_id;
    message.auth.sequence = ++p.sequence;
    auto bytes = encode(message);
    seal(bytes, p.client_to_server);
    transport_.send(p.source, std::move(bytes));
  }

  void send_refresh(std::size_t op) { send_sealed(static_cast<std::uint32_t>(op), Refresh{}); }

  void send_connect(std::size_t op) {
    ConnectRequest c;
    c.request_id = static_cast<std::uint32_t>(op + 1);
    c.peer = peers_[connect_ops_[op].callee].identity;
    send_sealed(connect_ops_[op].caller, c);
  }

  void send_accept(std::uint32_t callee, std::uint64_t invitation) {
    Accept a;
    a.invitation_id = invitation;
    send_sealed(callee, a);
  }

  std::optional<std::size_t> on_connect_reply(std::span<const std::uint8_t> bytes) {
    auto m = decode(bytes);
    if (!m) return std::nullopt;
    if (const auto* i = std::get_if<IncomingRequest>(&*m)) {
      auto peer = ids_.get(i->auth.registration_id);
      if (!peer || !verify_tag(bytes, peers_[*peer].server_to_client)) return std::nullopt;
      // The connect this invitation belongs to: the callee's caller. The
      // generator accepts at once (a listener with an accept-all policy).
      send_accept(*peer, i->invitation_id);
      return std::nullopt;
    }
    if (const auto* s = std::get_if<SessionInfo>(&*m)) {
      auto peer = ids_.get(s->auth.registration_id);
      if (!peer || !verify_tag(bytes, peers_[*peer].server_to_client)) return std::nullopt;
      if (s->role != Role::Caller || s->correlation_id == 0 || s->correlation_id > connect_ops_.size())
        return std::nullopt;
      return static_cast<std::size_t>(s->correlation_id - 1);
    }
    if (const auto* e = std::get_if<Error>(&*m)) {
      ++connect_errors_;
      last_error_ = e->code;
    }
    return std::nullopt;
  }

 public:
  std::uint64_t connect_errors() const { return connect_errors_; }
  std::optional<ErrorCode> last_error() const { return last_error_; }

 private:
  Transport& transport_;
  std::vector<LoadPeer> peers_;
  IdTable ids_;
  std::size_t window_;
  std::uint64_t run_;
  double max_seconds_;
  std::vector<Op> ops_;
  std::vector<ConnectOp> connect_ops_;
  std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> awaiting_;
  std::size_t registered_ = 0;
  std::size_t connect_window_ = 0;  // connects in flight in all; 0: only the per-source window
  std::size_t register_window_ = 0;
  std::uint64_t connect_errors_ = 0;
  std::optional<ErrorCode> last_error_;
};

// The Ed25519 and MAC work inside each operation, measured alone on the
// same kind of input: what the server cannot avoid, against which the rest
// of handle() is overhead.
struct CryptoCosts {
  double verify_prove = 0;      // Ed25519 signature check
  double derive_keys = 0;       // X25519 with the client's key share, and the KDF
  double cookie = 0;            // keyed BLAKE2b of the Challenge (twice: Register and Prove)
  double mac_verify = 0;        // BLAKE2b MAC of an authenticated request
  double mac_seal = 0;          // BLAKE2b MAC of an answer
};

CryptoCosts measure_crypto(std::uint64_t run) {
  CryptoCosts c;
  const Identity server = identity_of(run ^ 0x5e5e, 0);
  const KxKeyPair kx = KxKeyPair::from_identity(server);
  const Identity client = identity_of(run, 7);
  Key secret{};
  secret.fill(3);
  Challenge ch;
  ch.server_key = kx.public_key;
  ch.cookie = make_cookie(secret, client.public_key, ch.client_nonce, 1, Endpoint{IpAddress::v4({127, 10, 0, 1}), 4}, 0);
  Prove p;
  p.identity = client.public_key;
  p.cookie = ch.cookie;
  p.issued_at_ms = 1;
  p.info = phone_info(7);
  p.key_share = KeyShare::from_secret(client.seed).public_key;
  auto prove = encode(p);
  sign_prove(prove, client, kx.public_key);
  constexpr int kRounds = 2000;
  auto time = [](auto&& f, int rounds) {
    const double before = thread_cpu_seconds();
    for (int i = 0; i < rounds; ++i) f();
    return (thread_cpu_seconds() - before) / rounds;
  };
  bool sink = false;
  c.verify_prove = time([&] { sink ^= verify_prove(prove, client.public_key, kx.public_key); }, kRounds);
  c.derive_keys = time([&] { sink ^= derive_server_keys(kx, p).has_value(); }, kRounds);
  c.cookie = time(
      [&] {
        sink ^= make_cookie(secret, client.public_key, ch.client_nonce, 1, Endpoint{IpAddress::v4({127, 10, 0, 1}), 4},
                            0)[0] == 0;
      },
      kRounds * 10);
  Refresh r;
  r.auth.registration_id = 5;
  r.auth.sequence = 1;
  auto refresh = encode(r);
  seal(refresh, secret);
  c.mac_verify = time([&] { sink ^= verify_tag(refresh, secret); }, kRounds * 10);
  Registered reg;
  reg.observed = Endpoint{IpAddress::v4({127, 10, 0, 1}), 4};
  auto registered = encode(reg);
  c.mac_seal = time([&] { seal(registered, secret); }, kRounds * 10);
  if (sink) std::fprintf(stderr, " ");
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t registrations = 100'000, connects = 100'000, refreshes = 0, sources = 256, window = 16,
              connect_window = 0, register_window = 0, threads = 2;
  double max_seconds = 600;
  std::optional<Endpoint> server, callee_server;
  int server_pid = 0;
  bool refreshes_set = false;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage(flag + " needs a value");
    const char* value = argv[i + 1];
    auto count = [&](std::size_t lo, std::size_t hi) {
      char* end = nullptr;
      const unsigned long long v = std::strtoull(value, &end, 10);
      if (*value == '\0' || *end != '\0' || v < lo || v > hi)
        usage(flag + " must be a whole number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
      return static_cast<std::size_t>(v);
    };
    if (flag == "--registrations") registrations = count(2, 4'000'000);
    else if (flag == "--connects") connects = count(0, 10'000'000);
    else if (flag == "--refreshes") refreshes = count(0, 10'000'000), refreshes_set = true;
    else if (flag == "--sources") sources = count(1, 256);
    else if (flag == "--threads") threads = count(1, 8);
    else if (flag == "--window") window = count(1, 4096);
    else if (flag == "--connect-window") connect_window = count(1, 1'000'000);
    else if (flag == "--register-window") register_window = count(1, 4096);
    else if (flag == "--max-seconds") max_seconds = static_cast<double>(count(1, 3600));
    else if (flag == "--server-pid") server_pid = static_cast<int>(count(1, 1u << 22));
    else if (flag == "--server" || flag == "--callee-server") {
      auto& e = flag == "--server" ? server : callee_server;
      e = Endpoint::parse(value);
      if (!e || !e->address.is_v4() || (e->address.v4_host_order() >> 24) != 127)
        usage(flag + " must be a 127.x.y.z:PORT loopback endpoint");
    } else {
      usage("unknown flag " + flag);
    }
  }
  if (!refreshes_set) refreshes = registrations;
  if (server && sources < threads) usage("--sources must be at least --threads (each thread has sockets of its own)");
  if (callee_server && !server) usage("--callee-server needs --server (the callers' node)");
  if (callee_server && server_pid > 0) usage("--server-pid measures one server: not with --callee-server");
  const std::uint64_t run = static_cast<std::uint64_t>(SteadyClock::now().time_since_epoch().count());

  Rng rng(run);  // the in-process server's randomness: lives as long as it
  std::unique_ptr<Server> machine;
  // One generator per thread, each with its own sockets (on load
  // addresses of its own), identities, registrations and connects.
  struct Worker {
    std::unique_ptr<Transport> transport;
    std::unique_ptr<Generator> generator;
    PhaseResult reg, ref, con;
  };
  std::vector<Worker> workers(server ? threads : 1);
  MachineTransport* in_process = nullptr;
  if (!server) {
    ServerConfig config;
    config.limits.max_registrations = registrations + registrations / 10 + 16;
    config.limits.max_pending_requests = std::max<std::size_t>(100'000, connects + 16);
    config.limits.max_sessions = std::max<std::size_t>(100'000, connects + 16);
    config.admission.max_puzzle_bits = 0;
    config.admission.verifications.reset();
    config.admission.verifications_per_second = 1e12;
    config.admission.verifications_burst = 1e12;
    config.registration_lifetime = seconds(7200);
    config.refresh_interval = seconds(1800);
    config.hash_seed = run;
    machine = std::make_unique<Server>(config, [&rng](std::span<std::uint8_t> out) { rng.fill(out); },
                                       kTimeZero + seconds(1000));
    // 20 us of virtual time per datagram: 50,000 datagrams/s, within every
    // per-source budget of the default configuration for 256 sources.
    auto t = std::make_unique<MachineTransport>(*machine, sources, std::chrono::microseconds(20));
    in_process = t.get();
    workers[0].transport = std::move(t);
  } else {
    std::vector<Endpoint> servers{*server};
    if (callee_server) servers.push_back(*callee_server);
    const std::size_t per_thread = registrations / workers.size();
    for (std::size_t w = 0; w < workers.size(); ++w)
      workers[w].transport =
          std::make_unique<UdpTransport>(servers, sources / workers.size(), per_thread / 2, w * (sources / workers.size()));
  }

  // Everything of the generator's own that grows with N exists before this.
  for (std::size_t w = 0; w < workers.size(); ++w) {
    auto& g = workers[w].generator;
    g = std::make_unique<Generator>(*workers[w].transport, registrations / workers.size(), window,
                                    splitmix64(run + w), max_seconds);
    g->set_connect_window(connect_window / workers.size());
    g->set_register_window(register_window);
  }
  const std::uint64_t heap_before = heap_in_use();
  const std::uint64_t rss_before = server_pid > 0 ? resident_bytes(server_pid) : 0;
  auto server_cpu = [&]() -> double {
    if (in_process) return in_process->server_cpu();
    return server_pid > 0 ? process_cpu_seconds(server_pid) : -1;
  };

  // The phases start together and end when the last worker is done: the
  // server's CPU and the wall clock are read in between.
  std::array<double, 4> cpu{};
  std::array<SteadyClock::time_point, 4> wall{};
  std::uint64_t heap_after = 0, rss_after = 0;
  std::size_t phase = 0;
  cpu[0] = server_cpu();
  wall[0] = SteadyClock::now();
  auto phase_done = [&]() noexcept {
    ++phase;
    cpu[phase] = server_cpu();
    wall[phase] = SteadyClock::now();
    if (phase == 1) {
      heap_after = heap_in_use();
      rss_after = server_pid > 0 ? resident_bytes(server_pid) : 0;
    }
  };
  std::barrier sync(static_cast<std::ptrdiff_t>(workers.size()), phase_done);
  auto work = [&](Worker& w) {
    w.reg = w.generator->register_all();
    std::vector<double>().swap(w.reg.latency_ms);  // the generator's, not the server's (not reported)
    sync.arrive_and_wait();
    w.ref = w.generator->refresh(refreshes / workers.size());
    sync.arrive_and_wait();
    w.con = w.generator->connect(connects / workers.size());
    sync.arrive_and_wait();
  };
  if (workers.size() == 1) {
    work(workers[0]);  // on this thread: mallinfo2() sees only the main arena
  } else {
    std::vector<std::thread> running;
    for (auto& w : workers) running.emplace_back(work, std::ref(w));
    for (auto& t : running) t.join();
  }
  // The workers' results as one, over the phases' common wall time.
  auto merged = [&](PhaseResult Worker::*which, std::size_t p) {
    PhaseResult all;
    for (auto& w : workers) {
      const PhaseResult& r = w.*which;
      all.done += r.done;
      all.failed += r.failed;
      all.retransmissions += r.retransmissions;
      all.latency_ms.insert(all.latency_ms.end(), r.latency_ms.begin(), r.latency_ms.end());
    }
    all.seconds = std::chrono::duration<double>(wall[p + 1] - wall[p]).count();
    return all;
  };
  const PhaseResult reg = merged(&Worker::reg, 0);
  const PhaseResult ref = merged(&Worker::ref, 1);
  PhaseResult con = merged(&Worker::con, 2);
  const double cpu0 = cpu[0], cpu1 = cpu[1], cpu2 = cpu[2], cpu3 = cpu[3];
  std::size_t registered_total = 0;
  std::uint64_t connect_errors = 0;
  std::optional<ErrorCode> last_error;
  for (auto& w : workers) {
    registered_total += w.generator->registered();
    connect_errors += w.generator->connect_errors();
    if (auto e = w.generator->last_error()) last_error = e;
  }

  const double held = static_cast<double>(registered_total);
  const double memory = in_process ? static_cast<double>(heap_after - heap_before)
                                   : static_cast<double>(rss_after) - static_cast<double>(rss_before);
  auto per_op_us = [](double cpu, std::size_t n) { return n > 0 && cpu >= 0 ? 1e6 * cpu / static_cast<double>(n) : -1.0; };
  auto rate = [](const PhaseResult& p) { return p.seconds > 0 ? static_cast<double>(p.done) / p.seconds : 0.0; };

  std::printf("{\"target\":\"%s\",\"registrations\":%zu,\"registered\":%.0f,\"register_failed\":%zu,"
              "\"register_seconds\":%.2f,\"registrations_per_second\":%.0f,"
              "\"server_%s_bytes\":%.0f,\"bytes_per_registration\":%.0f,"
              "\"refreshes\":%zu,\"refresh_failed\":%zu,\"refreshes_per_second\":%.0f,"
              "\"connects\":%zu,\"connect_failed\":%zu,\"connect_errors\":%llu,\"connects_per_second\":%.0f,"
              "\"server_cpu_us_per_registration\":%.2f,\"server_cpu_us_per_refresh\":%.2f,"
              "\"server_cpu_us_per_connect\":%.2f,\"retransmissions\":%llu",
              server ? server->to_string().c_str() : "in-process", registrations, held, reg.failed, reg.seconds,
              rate(reg), in_process ? "heap" : "rss", memory, held > 0 ? memory / held : 0.0, ref.done, ref.failed,
              rate(ref), con.done, con.failed, static_cast<unsigned long long>(connect_errors), rate(con),
              per_op_us(cpu1 - cpu0, reg.done), per_op_us(cpu2 - cpu1, ref.done), per_op_us(cpu3 - cpu2, con.done),
              static_cast<unsigned long long>(reg.retransmissions + ref.retransmissions + con.retransmissions));
  if (in_process) {
    // Per operation: registration = Register + Prove (cookie twice, one
    // signature check, one key derivation, one MAC); refresh = one MAC
    // check + one MAC; connect = three requests checked, four answers
    // sealed (IncomingRequest, SessionInfo x2, and nothing else).
    const CryptoCosts c = measure_crypto(run);
    const double reg_crypto = 2 * c.cookie + c.verify_prove + c.derive_keys + c.mac_seal;
    const double ref_crypto = c.mac_verify + c.mac_seal;
    const double con_crypto = 2 * c.mac_verify + 3 * c.mac_seal;
    std::printf(",\"crypto_us\":{\"ed25519_verify\":%.2f,\"derive_keys\":%.2f,\"cookie\":%.3f,\"mac_verify\":%.3f,"
                "\"mac_seal\":%.3f},\"crypto_us_per_registration\":%.2f,\"crypto_us_per_refresh\":%.3f,"
                "\"crypto_us_per_connect\":%.3f,\"server_sessions\":%zu,\"server_pending\":%zu",
                1e6 * c.verify_prove, 1e6 * c.derive_keys, 1e6 * c.cookie, 1e6 * c.mac_verify, 1e6 * c.mac_seal,
                1e6 * reg_crypto, 1e6 * ref_crypto, 1e6 * con_crypto, machine->session_count(), machine->pending_count());
  }
  if (!in_process)
    std::printf(",\"callee_target\":\"%s\",\"connect_latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f}",
                callee_server ? callee_server->to_string().c_str() : server->to_string().c_str(),
                quantile(con.latency_ms, 0.5), quantile(con.latency_ms, 0.9), quantile(con.latency_ms, 0.99));
  if (auto e = last_error) std::printf(",\"last_error\":\"%s\"", std::string(to_string(*e)).c_str());
  if (in_process) {
    // Everything the server holds (its fixed tables included): what
    // destroying it gives back.
    const std::uint64_t with_server = heap_in_use();
    machine.reset();
    std::printf(",\"server_heap_total_bytes\":%llu",
                static_cast<unsigned long long>(with_server - heap_in_use()));
  }
  std::printf("}\n");
  return reg.done > 0 ? 0 : 1;
}

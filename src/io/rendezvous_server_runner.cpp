#include "io/rendezvous_server_runner.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <tuple>

#include "io/colocated_stun.hpp"
#include "io/metrics_endpoint.hpp"
#include "io/nats_link.hpp"
#include "io/rendezvous_streams.hpp"
#include "io/report_signal.hpp"
#include "io/server_loop.hpp"
#include "io/udp_ports.hpp"

namespace natpunch::io {
namespace {

constexpr auto kLinkDownNoticeEvery = std::chrono::seconds(60);
constexpr auto kStatusEvery = std::chrono::seconds(1);
// Datagrams per recvmmsg() / sendmmsg(): a busy node answers a batch with
// one syscall each way.
constexpr std::size_t kBatch = 64;
// Longest datagram taken whole (rendezvous messages stay under 1,400 bytes,
// STUN requests under 2,048); longer ones are dropped unread.
constexpr std::size_t kMaxDatagram = 4096;

std::string counter_name(std::string_view what) { return "natpunch_rendezvous_" + std::string(what); }

// The node on the machine contract, for the one real-time loop. Each UDP
// listener k (one per address family) owns sockets 4k..4k+3: 4k is the
// rendezvous's socket (and the STUN primary with its --stun-alt), 4k+1..3
// its co-located STUN server's others. Messages of the other sources --
// TCP/TLS streams, the cluster bus -- come in through on_stream_message /
// on_bus; answers to a stream go back on it at once, bus messages are
// published at once, datagrams wait for poll_transmit, each on the
// rendezvous socket of its destination's family.
class NodeMachine {
 public:
  static constexpr SocketId kSocketsPerListener = 4;
  struct Listener {
    Endpoint at;                 // bound
    stun::ServerMachine* stun;   // its co-located STUN server, or nullptr
  };

  NodeMachine(rendezvous::Server& server, std::vector<Listener> listeners)
      : server_(server), listeners_(std::move(listeners)) {}
  void attach(RendezvousStreams* streams, NatsLink* link) {
    streams_ = streams;
    link_ = link;
  }

  void on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes) {
    const std::size_t k = socket / kSocketsPerListener;
    if (k >= listeners_.size()) return;
    const SocketId local = socket % kSocketsPerListener;
    auto* stun = listeners_[k].stun;
    if (local == 0 && !(stun && looks_like_stun(bytes))) {
      deliver(server_.handle(now, bytes, from));
      return;
    }
    if (stun)
      if (auto reply = stun->handle(now, local, from, bytes)) {
        reply->socket += static_cast<SocketId>(k) * kSocketsPerListener;
        out_.push_back(std::move(*reply));
      }
  }
  void on_stream_message(TimePoint now, std::span<const std::uint8_t> message, const Endpoint& from,
                         std::uint64_t stream) {
    deliver(server_.handle(now, message, from, stream));
  }
  void on_bus(TimePoint now) {
    if (!link_) return;
    for (const auto& message : link_->take()) deliver(server_.handle_cluster(now, message));
  }
  std::optional<Transmit> poll_transmit(TimePoint) {
    if (next_ == out_.size()) {
      out_.clear();
      next_ = 0;
      return std::nullopt;
    }
    return std::move(out_[next_++]);
  }
  std::optional<TimePoint> next_deadline() const { return server_.next_deadline(); }
  void on_timer(TimePoint now) {
    server_.on_timer(now);
    publish();
  }
  std::optional<std::monostate> poll_event() { return std::nullopt; }
  // What the server has for the bus (also after leave_cluster).
  void publish() {
    for (const auto& m : server_.poll_cluster())
      if (link_) link_->publish(m.to, m.bytes);
  }

 private:
  void deliver(std::vector<rendezvous::Transmit>&& out) {
    for (auto& t : out) {
      if (t.stream != 0) {
        // Gone (the client left) or not reading: dropped, as over UDP.
        if (streams_) streams_->send(t.stream, t.bytes);
        continue;
      }
      // The socket of the destination's family, so the client hears us
      // from the address it sent to; none (a cluster peer's client of a
      // family we do not listen on): unreachable from here.
      for (std::size_t k = 0; k < listeners_.size(); ++k)
        if (listeners_[k].at.address.family() == t.to.address.family()) {
          out_.push_back(
              Transmit{static_cast<SocketId>(k) * kSocketsPerListener, t.to, DatagramBytes(std::move(t.bytes))});
          break;
        }
    }
    publish();
  }

  rendezvous::Server& server_;
  std::vector<Listener> listeners_;
  RendezvousStreams* streams_ = nullptr;
  NatsLink* link_ = nullptr;
  std::vector<Transmit> out_;  // [next_, end) not yet taken
  std::size_t next_ = 0;
};

static_assert(ProtocolMachine<NodeMachine>);

// A descriptor the loop watches that only says "look" (an eventfd).
class WakeFd {
 public:
  WakeFd() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~WakeFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  WakeFd(const WakeFd&) = delete;
  WakeFd& operator=(const WakeFd&) = delete;
  int fd() const { return fd_; }
  void wake() const {  // from any thread
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(fd_, &one, sizeof one);
  }
  void drain() const {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto n = ::read(fd_, &count, sizeof count);
  }

 private:
  int fd_;
};

constexpr int kSocketBuffer = 4 << 20;

class Node {
 public:
  Node(rendezvous::Server& server, const RendezvousServerRunOptions& options) : server_(server), options_(options) {}

  Result<rendezvous::ServerCounters, std::string> run() {
    if (options_.listen.empty()) return Unexpected{std::string("no address to listen on")};
    UdpPortsOptions port_options;
    port_options.batch = kBatch;
    port_options.max_datagram = kMaxDatagram;
    // Thousands of phones answer a refresh wave or a connect burst at once;
    // with the kernel's default (~208 KiB, a few hundred datagrams) a burst
    // that arrives while the loop is descheduled is dropped and costs each
    // client a 500 ms retransmission. Capped by net.core.rmem_max/wmem_max.
    port_options.socket_buffer = kSocketBuffer;
    // An IPv4 and an IPv6 listener ([::]:7000 and 0.0.0.0:7000): each
    // family on its own socket.
    const auto has = [&](bool v4) {
      return std::any_of(options_.listen.begin(), options_.listen.end(),
                         [&](const auto& l) { return l.at.address.is_v4() == v4; });
    };
    port_options.v6_only = has(true) && has(false);
    auto opened = UdpPorts::open(options_.listen.front().at, port_options);
    if (!opened)
      return Unexpected{opened.error() + " (is the address configured on this host and the port free?)"};
    ports_ = std::move(*opened);
    std::vector<NodeMachine::Listener> listeners;
    for (std::size_t k = 0; k < options_.listen.size(); ++k) {
      const auto& l = options_.listen[k];
      const auto base = static_cast<SocketId>(k) * NodeMachine::kSocketsPerListener;
      for (const auto& other : listeners)
        if (other.at.address.family() == l.at.address.family())
          return Unexpected{"cannot listen on " + l.at.to_string() + ": one UDP address per family (IPv4, IPv6), and " +
                            other.at.to_string() + " is of the same family"};
      if (k > 0)
        if (auto bound = ports_->bind_fixed(base, l.at); !bound)
          return Unexpected{bound.error() + " (is the address configured on this host and the port free?)"};
      const Endpoint bound = ports_->bound_endpoint(base);
      stun::ServerMachine* colocated = nullptr;
      if (l.stun) {
        auto config = *l.stun;
        config.primary = bound;
        auto opened_stun = open_colocated_stun(*ports_, std::move(config), base);
        if (!opened_stun) return Unexpected{opened_stun.error()};
        stun_.push_back(std::move(*opened_stun));
        colocated = stun_.back().get();
      }
      listeners.push_back(NodeMachine::Listener{bound, colocated});
    }
    machine_ = std::make_unique<NodeMachine>(server_, listeners);
    if (options_.metrics_listen) {
      auto metrics = MetricsEndpoint::open(*ports_, *options_.metrics_listen, [this] {
        return prometheus_text(rendezvous_metrics(server_, status(), stream_status()));
      });
      if (!metrics) return Unexpected{metrics.error()};
      metrics_ = std::move(*metrics);
    }
    std::vector<std::pair<std::string, Endpoint>> stream_endpoints;
    if (options_.tcp_listen || options_.tls_listen) {
      streams_ = std::make_unique<RendezvousStreams>(
          *ports_, options_.stream_limits, server_.config().hash_seed ^ 0x5157'7245'414d'5321ULL,
          [this](std::span<const std::uint8_t> message, const Endpoint& from, std::uint64_t stream) {
            machine_->on_stream_message(Clock::now(), message, from, stream);
          });
      std::shared_ptr<const TlsServerContext> tls;
      if (options_.tls_listen) {
        auto loaded = TlsServerContext::load(options_.tls_certificate_file, options_.tls_key_file);
        if (!loaded) return Unexpected{loaded.error()};
        tls = std::move(*loaded);
      }
      for (const auto& [at, context, name] :
           {std::tuple{options_.tcp_listen, std::shared_ptr<const TlsServerContext>{}, "tcp"},
            std::tuple{options_.tls_listen, tls, "tls"}}) {
        if (!at) continue;
        auto listening = streams_->listen(*at, context);
        if (!listening) return Unexpected{listening.error()};
        stream_endpoints.emplace_back(name, *listening);
      }
    }
    if (!options_.cluster_servers.empty()) {
      if (bus_wake_.fd() < 0) return Unexpected{std::string("--cluster: cannot create an eventfd")};
      NatsLinkOptions link;
      link.servers = options_.cluster_servers;
      link.subject_prefix = options_.cluster_subject;
      link.node_id = server_.node_id();
      link.name = "natpunch-rendezvous " + options_.listen.front().at.to_string();
      link.wake = [this] { bus_wake_.wake(); };  // libnats's thread
      auto link_opened = NatsLink::open(std::move(link));
      if (!link_opened) return Unexpected{"--cluster: " + link_opened.error()};
      link_ = std::move(link_opened.value());
      ports_->watch(bus_wake_.fd(), EPOLLIN, [this](std::uint32_t) {
        bus_wake_.drain();  // before take(): a message after it wakes the loop again
        machine_->on_bus(Clock::now());
      });
    }
    machine_->attach(streams_.get(), link_.get());
    StopSignals stop;
    ReportSignal report;
    ports_->watch(report.wake_fd(), EPOLLIN, [this, &report](std::uint32_t) {
      if (report.take() && options_.on_stats) options_.on_stats(server_, status(), false);
    });
    if (options_.on_ready)
      for (const auto& l : listeners) {
        std::optional<Endpoint> alternate;
        if (l.stun) alternate = l.stun->socket_endpoint(3);  // alternate IP and port
        options_.on_ready(l.at, alternate);
      }
    if (options_.on_stream_ready)
      for (const auto& [name, at] : stream_endpoints) options_.on_stream_ready(name, at);

    ServeOptions serve;
    serve.stats_interval = options_.stats_interval;
    // The final report comes below, once the node has left the cluster.
    if (options_.on_stats)
      serve.on_stats = [this](bool final) {
        if (!final) options_.on_stats(server_, status(), false);
      };
    serve.on_tick = [this](TimePoint now) { tick(now); };
    serve_until_signal(*machine_, *ports_, ignore_events, serve, stop);

    ports_->unwatch(report.wake_fd());
    if (streams_) streams_->stop();
    if (link_) {
      server_.leave_cluster(Clock::now());
      machine_->publish();
    }
    const auto final_status = status();
    if (link_) ports_->unwatch(bus_wake_.fd());
    machine_->attach(streams_.get(), nullptr);
    link_.reset();  // flushes the Goodbye
    if (options_.on_stats) options_.on_stats(server_, final_status, true);
    return server_.counters();
  }

 private:
  ClusterLinkStatus status() const {
    ClusterLinkStatus s;
    if (!link_) return s;
    s.configured = true;
    s.connected = link_->connected();
    s.server = link_->describe();
    const auto st = link_->stats();
    s.published = st.published;
    s.received = st.received;
    s.dropped_inbox = st.dropped_inbox;
    s.dropped_offline = st.dropped_offline;
    s.disconnects = st.disconnects;
    return s;
  }

  std::optional<StreamStatus> stream_status() const {
    if (!streams_) return std::nullopt;
    StreamStatus s;
    s.open = streams_->open();
    s.guard = streams_->guard_counters();
    const auto& c = streams_->counters();
    s.messages_in = c.messages_in;
    s.messages_out = c.messages_out;
    s.framing_errors = c.framing_errors;
    s.tls_failures = c.tls_failures;
    s.dropped_backlog = c.dropped_backlog;
    return s;
  }

  // Between batches, at least once a second: the streams' deadlines, the
  // metrics connections', and the cluster link's state.
  void tick(TimePoint now) {
    if (streams_) streams_->tick(now);
    if (now < next_status_) return;
    next_status_ = now + kStatusEvery;
    if (metrics_) metrics_->tick(now);
    if (link_) link_notices(now);
  }

  // The link's state and the membership, as notices: changes at once, a
  // link that stays down once a minute (never per packet).
  void link_notices(TimePoint now) {
    const bool up = link_->connected();
    if (up && (!link_was_up_ || !announced_up_)) {
      notice("cluster: connected to " + link_->describe());
      announced_up_ = true;
      down_since_.reset();
    }
    if (!up) {
      if (!down_since_) down_since_ = now;
      if (!last_down_notice_ || now - *last_down_notice_ >= kLinkDownNoticeEvery) {
        last_down_notice_ = now;
        const auto secs = std::chrono::duration_cast<std::chrono::seconds>(now - *down_since_).count();
        notice("cluster: cannot reach NATS (" + link_->describe() + ") for " + std::to_string(secs) +
               " s; serving this node's own registrations");
      }
      announced_up_ = false;
    } else {
      last_down_notice_.reset();
    }
    link_was_up_ = up;
    const auto members = server_.cluster_members();
    if (members != last_members_) {
      notice("cluster: " + std::to_string(members) + " other node" + (members == 1 ? "" : "s") + " heard");
      last_members_ = members;
    }
  }

  void notice(const std::string& line) {
    if (options_.on_notice) options_.on_notice(line);
  }

  rendezvous::Server& server_;
  const RendezvousServerRunOptions& options_;
  // Destroyed in reverse: the link (its thread wakes bus_wake_) before the
  // wake-up, the watchers of the ports before the ports.
  std::unique_ptr<UdpPorts> ports_;
  WakeFd bus_wake_;
  std::vector<std::unique_ptr<stun::ServerMachine>> stun_;  // the listeners' with a stun config
  std::unique_ptr<NodeMachine> machine_;
  std::unique_ptr<MetricsEndpoint> metrics_;
  std::unique_ptr<RendezvousStreams> streams_;
  std::unique_ptr<NatsLink> link_;
  TimePoint next_status_{};
  bool link_was_up_ = false;
  bool announced_up_ = false;
  std::optional<TimePoint> down_since_;
  std::optional<TimePoint> last_down_notice_;
  std::size_t last_members_ = 0;
};

}  // namespace

std::vector<Metric> rendezvous_metrics(const rendezvous::Server& server, const ClusterLinkStatus& link,
                                       const std::optional<StreamStatus>& streams) {
  const auto& c = server.counters();
  std::vector<Metric> m = {
      {counter_name("registrations"), "Registrations held now", false, double(server.registration_count()), ""},
      {counter_name("pending_requests"), "Connect requests waiting or lingering", false, double(server.pending_count()), ""},
      {counter_name("sessions"), "Sessions (and relays) open", false, double(server.session_count()), ""},
      {counter_name("received_total"), "Datagrams received", true, double(c.received), ""},
      {counter_name("registrations_total"), "Registrations made (including re-registrations)", true, double(c.registrations), ""},
      {counter_name("challenges_total"), "Challenges sent", true, double(c.challenges_sent), ""},
      {counter_name("connect_requests_total"), "Connect requests received", true, double(c.connect_requests), ""},
      {counter_name("sessions_created_total"), "Sessions created", true, double(c.sessions_created), ""},
      {counter_name("relay_packets_total"), "Relayed packets", true, double(c.relay_packets), ""},
      {counter_name("relay_bytes_total"), "Relayed payload bytes", true, double(c.relay_bytes), ""},
      {counter_name("errors_sent_total"), "Authenticated errors sent", true, double(c.errors_sent), ""},
      {counter_name("refused_sent_total"), "Unauthenticated refusals sent", true, double(c.refused_sent), ""},
      {counter_name("path_challenges_total"), "Path challenges sent", true, double(c.path_challenges_sent), ""},
  };
  const std::pair<const char*, std::uint64_t> drops[] = {
      {"malformed", c.dropped_malformed},
      {"rate_limited", c.dropped_rate_limited},
      {"wrong_direction", c.dropped_wrong_direction},
      {"small_register", c.dropped_small_register},
      {"bad_signature", c.dropped_bad_signature},
      {"bad_mac", c.dropped_bad_mac},
      {"replayed", c.dropped_replayed},
      {"bad_puzzle", c.dropped_bad_puzzle},
      {"cookie_spent", c.dropped_cookie_spent},
      {"verification_budget", c.dropped_verification_budget},
      {"refused_admission", c.refused_admission},
      {"answers_suppressed", c.answers_suppressed},
  };
  for (const auto& [reason, value] : drops)
    m.push_back({counter_name("dropped_total"), "Datagrams dropped or refused, by reason", true, double(value),
                 std::string("reason=\"") + reason + "\""});
  const std::pair<const char*, std::uint64_t> relay_drops[] = {
      {"rate", c.relay_dropped_rate}, {"quota", c.relay_dropped_quota}, {"budget", c.relay_dropped_budget}};
  for (const auto& [reason, value] : relay_drops)
    m.push_back({counter_name("relay_dropped_total"), "Relay packets dropped, by reason", true, double(value),
                 std::string("reason=\"") + reason + "\""});
  if (streams) {
    m.push_back({counter_name("stream_connections"), "TCP/TLS connections open", false, double(streams->open), ""});
    m.push_back({counter_name("stream_accepted_total"), "TCP/TLS connections accepted", true,
                 double(streams->guard.accepted), ""});
    m.push_back({counter_name("stream_messages_in_total"), "Messages received over TCP/TLS", true,
                 double(streams->messages_in), ""});
    m.push_back({counter_name("stream_messages_out_total"), "Messages sent over TCP/TLS", true,
                 double(streams->messages_out), ""});
    const std::pair<const char*, std::uint64_t> closes[] = {
        {"table_full", streams->guard.refused_full},      {"address_share", streams->guard.refused_address},
        {"no_first_frame", streams->guard.timed_out_first}, {"frame_too_slow", streams->guard.timed_out_frame},
        {"idle", streams->guard.timed_out_idle},            {"bad_frame", streams->framing_errors},
        {"tls", streams->tls_failures},
    };
    for (const auto& [reason, value] : closes)
      m.push_back({counter_name("stream_closed_total"), "TCP/TLS connections refused or closed by the server, by reason",
                   true, double(value), std::string("reason=\"") + reason + "\""});
    m.push_back({counter_name("stream_dropped_backlog_total"), "Answers dropped: the client did not read", true,
                 double(streams->dropped_backlog), ""});
  }
  if (link.configured) {
    const auto& k = server.cluster_counters();
    m.push_back({counter_name("cluster_link_up"), "1 while the NATS link is connected", false, link.connected ? 1.0 : 0.0, ""});
    m.push_back({counter_name("cluster_members"), "Other nodes heard from lately", false, double(server.cluster_members()), ""});
    m.push_back({counter_name("cluster_directory_records"), "Registrations of the cluster homed here", false,
                 double(server.directory_records()), ""});
    m.push_back({counter_name("cluster_received_total"), "Bus messages received", true, double(k.received), ""});
    m.push_back({counter_name("cluster_sent_total"), "Bus messages sent", true, double(k.sent), ""});
    m.push_back({counter_name("cluster_routes_total"), "Connects passed to another node", true, double(k.routes), ""});
    m.push_back({counter_name("cluster_offers_total"), "Connects from another node offered here", true, double(k.offers), ""});
    m.push_back({counter_name("cluster_remote_sessions_total"), "Sessions with the other peer at another node", true,
                 double(k.remote_sessions), ""});
    m.push_back({counter_name("cluster_relay_packets_total"), "Relay packets to or from another node", true,
                 double(k.relay_forwarded), ""});
    m.push_back({counter_name("cluster_relay_bytes_total"), "Relay bytes to or from another node", true,
                 double(k.relay_forwarded_bytes), ""});
    m.push_back({counter_name("cluster_evictions_total"), "Registrations ended by their home", true, double(k.evictions), ""});
    const std::pair<const char*, std::uint64_t> cluster_drops[] = {
        {"malformed", k.dropped_malformed},     {"replayed", k.dropped_replayed},
        {"misdirected", k.dropped_misdirected}, {"unexpected", k.dropped_unexpected},
        {"inbox_full", link.dropped_inbox},     {"link_down", link.dropped_offline},
    };
    for (const auto& [reason, value] : cluster_drops)
      m.push_back({counter_name("cluster_dropped_total"), "Bus messages dropped, by reason", true, double(value),
                   std::string("reason=\"") + reason + "\""});
  }
  return m;
}

Result<rendezvous::ServerCounters, std::string> run_rendezvous_server(rendezvous::Server& server,
                                                                      const RendezvousServerRunOptions& options) {
  Node node(server, options);
  return node.run();
}

}  // namespace natpunch::io

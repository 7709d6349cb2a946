#include "io/rendezvous_server_runner.hpp"

#include <array>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <memory>
#include <tuple>

#include "io/asio_convert.hpp"
#include "io/colocated_stun.hpp"
#include "io/nats_link.hpp"
#include "io/rendezvous_streams.hpp"

namespace natpunch::io {
namespace {

// Datagrams read in one go before the loop looks at its other work.
constexpr int kReceiveBurst = 64;
constexpr std::size_t kMaxMetricsConnections = 8;
constexpr auto kLinkDownNoticeEvery = std::chrono::seconds(60);

std::string counter_name(std::string_view what) { return "natpunch_rendezvous_" + std::string(what); }

class Loop {
  // One UDP listener: its socket, its receive buffer and its co-located
  // STUN server (ColocatedStun holds a reference to the socket: kept
  // behind a pointer so it never moves).
  struct Udp {
    Udp(asio::io_context& ctx, const Endpoint& where) : at(where), socket(ctx) {}
    Endpoint at;
    asio::ip::udp::socket socket;
    asio::ip::udp::endpoint sender;
    std::array<std::uint8_t, 65536> in{};
    std::unique_ptr<ColocatedStun> stun;
  };

 public:
  Loop(rendezvous::Server& server, const RendezvousServerRunOptions& options)
      : server_(server),
        options_(options),
        signals_(ctx_, SIGINT, SIGTERM),
        report_signal_(ctx_, SIGUSR1),
        expiry_timer_(ctx_),
        stats_timer_(ctx_),
        status_timer_(ctx_),
        metrics_(ctx_) {}

  Result<rendezvous::ServerCounters, std::string> run() {
    if (options_.listen.empty()) return Unexpected{std::string("no address to listen on")};
    for (const auto& l : options_.listen) {
      for (const auto& u : udp_)
        if (u->at.address.family() == l.at.address.family())
          return Unexpected{"cannot listen on " + l.at.to_string() + ": one UDP address per family (IPv4, IPv6), and " +
                            u->at.to_string() + " is of the same family"};
      auto u = std::make_unique<Udp>(ctx_, l.at);
      auto local = to_asio(l.at);
      asio::error_code ec;
      u->socket.open(local.protocol(), ec);
      // [::]:PORT beside 0.0.0.0:PORT: the IPv6 socket takes IPv6 only.
      if (!ec && l.at.address.is_v6()) u->socket.set_option(asio::ip::v6_only(true), ec);
      if (!ec) u->socket.bind(local, ec);
      if (ec)
        return Unexpected{"cannot listen on " + l.at.to_string() + ": " + ec.message() +
                          " (is the address configured on this host and the port free?)"};
      u->socket.non_blocking(true, ec);
      if (l.stun) {
        auto config = *l.stun;
        config.primary = from_asio(u->socket.local_endpoint());
        auto opened = ColocatedStun::open(ctx_, u->socket, std::move(config));
        if (!opened) return Unexpected{opened.error()};
        u->stun = std::move(*opened);
      }
      udp_.push_back(std::move(u));
    }
    asio::error_code ec;
    if (options_.metrics_listen) {
      const auto at = asio::ip::tcp::endpoint(to_asio(*options_.metrics_listen).address(), options_.metrics_listen->port);
      metrics_.open(at.protocol(), ec);
      if (!ec) metrics_.set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) metrics_.bind(at, ec);
      if (!ec) metrics_.listen(16, ec);
      if (ec)
        return Unexpected{"cannot serve metrics on " + options_.metrics_listen->to_string() + " (tcp): " + ec.message()};
    }
    if (options_.tcp_listen || options_.tls_listen) {
      streams_ = std::make_unique<RendezvousStreams>(
          ctx_, options_.stream_limits, server_.config().hash_seed ^ 0x5157'7245'414d'5321ULL,
          [this](std::span<const std::uint8_t> message, const Endpoint& from, std::uint64_t stream) {
            send(server_.handle(Clock::now(), message, from, stream));
            after_work();
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
        auto bound = streams_->listen(*at, context);
        if (!bound) return Unexpected{bound.error()};
        stream_endpoints_.emplace_back(name, *bound);
      }
    }
    if (!options_.cluster_servers.empty()) {
      NatsLinkOptions link;
      link.servers = options_.cluster_servers;
      link.subject_prefix = options_.cluster_subject;
      link.node_id = server_.node_id();
      link.name = "natpunch-rendezvous " + options_.listen.front().at.to_string();
      link.wake = [this] { asio::post(ctx_, [this] { drain_bus(); }); };
      auto opened = NatsLink::open(std::move(link));
      if (!opened) return Unexpected{"--cluster: " + opened.error()};
      link_ = std::move(opened.value());
    }
    if (options_.on_ready)
      for (const auto& u : udp_) {
        std::optional<Endpoint> alternate;
        if (u->stun) alternate = u->stun->endpoints().back();  // alternate IP and port
        options_.on_ready(from_asio(u->socket.local_endpoint()), alternate);
      }
    if (options_.on_stream_ready)
      for (const auto& [name, at] : stream_endpoints_) options_.on_stream_ready(name, at);
    for (const auto& u : udp_) receive(*u);
    if (options_.metrics_listen) accept_metrics();
    signals_.async_wait([this](const asio::error_code& e, int) {
      if (!e) ctx_.stop();
    });
    wait_report_signal();
    arm_expiry_timer(server_.next_deadline().value_or(Clock::now() + std::chrono::seconds(1)));
    arm_stats_timer();
    if (link_) arm_status_timer();
    ctx_.run();
    if (streams_) streams_->stop();
    if (link_) {
      server_.leave_cluster(Clock::now());
      publish();
    }
    const auto final_status = status();
    link_.reset();  // flushes the Goodbye
    if (options_.on_stats) options_.on_stats(server_, final_status, true);
    return server_.counters();
  }

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

 private:
  void send(const std::vector<rendezvous::Transmit>& out) {
    for (const auto& t : out) {
      if (t.stream != 0) {
        // Gone (the client left) or not reading: dropped, as over UDP.
        if (streams_) streams_->send(t.stream, t.bytes);
        continue;
      }
      // The socket of the destination's family (one per family), so the
      // client hears us from the address it sent to.
      Udp* out = nullptr;
      for (const auto& u : udp_)
        if (u->at.address.family() == t.to.address.family()) out = u.get();
      if (!out) continue;  // a peer of a family we do not listen on (a cluster node's): unreachable from here
      asio::error_code send_error;
      // Non-blocking: a full send buffer drops the datagram, like the network would.
      out->socket.send_to(asio::buffer(t.bytes), to_asio(t.to), 0, send_error);
    }
  }

  // One received datagram: STUN for the co-located STUN server (with its
  // listener's stun), anything else for the rendezvous.
  void dispatch(Udp& u, std::size_t n) {
    const std::span<const std::uint8_t> bytes(u.in.data(), n);
    if (u.stun && looks_like_stun(bytes)) {
      u.stun->on_primary_datagram(bytes, from_asio(u.sender));
      return;
    }
    send(server_.handle(Clock::now(), bytes, from_asio(u.sender)));
  }

  // After any work: the bus messages it made, and an earlier deadline.
  void after_work() {
    publish();
    if (auto next = server_.next_deadline(); next && *next < armed_at_) arm_expiry_timer(*next);
  }

  void publish() {
    for (const auto& m : server_.poll_cluster())
      if (link_) link_->publish(m.to, m.bytes);
  }

  void receive(Udp& u) {
    u.socket.async_receive_from(asio::buffer(u.in), u.sender, [this, &u](const asio::error_code& ec, std::size_t n) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        dispatch(u, n);
        // Whatever else is waiting, without a trip through the reactor.
        for (int i = 1; i < kReceiveBurst; ++i) {
          asio::error_code more;
          const std::size_t m = u.socket.receive_from(asio::buffer(u.in), u.sender, 0, more);
          if (more) break;
          dispatch(u, m);
        }
        after_work();
      }
      receive(u);
    });
  }

  void drain_bus() {
    if (!link_) return;
    for (const auto& message : link_->take()) send(server_.handle_cluster(Clock::now(), message));
    after_work();
  }

  void arm_expiry_timer(TimePoint at) {
    armed_at_ = at;
    expiry_timer_.expires_at(at);
    expiry_timer_.async_wait([this](const asio::error_code& ec) {
      if (ec) return;
      server_.on_timer(Clock::now());
      publish();
      arm_expiry_timer(server_.next_deadline().value_or(Clock::now() + std::chrono::seconds(1)));
    });
  }

  void arm_stats_timer() {
    if (options_.stats_interval.count() <= 0 || !options_.on_stats) return;
    stats_timer_.expires_after(options_.stats_interval);
    stats_timer_.async_wait([this](const asio::error_code& ec) {
      if (ec) return;
      options_.on_stats(server_, status(), false);
      arm_stats_timer();
    });
  }

  void wait_report_signal() {
    report_signal_.async_wait([this](const asio::error_code& ec, int) {
      if (ec) return;
      if (options_.on_stats) options_.on_stats(server_, status(), false);
      wait_report_signal();
    });
  }

  // The link's state and the membership, as notices: changes at once, a
  // link that stays down once a minute (never per packet).
  void arm_status_timer() {
    status_timer_.expires_after(std::chrono::seconds(1));
    status_timer_.async_wait([this](const asio::error_code& ec) {
      if (ec) return;
      const auto now = Clock::now();
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
      arm_status_timer();
    });
  }

  void notice(const std::string& line) {
    if (options_.on_notice) options_.on_notice(line);
  }

  void accept_metrics() {
    auto connection = std::make_shared<asio::ip::tcp::socket>(ctx_);
    metrics_.async_accept(*connection, [this, connection](const asio::error_code& ec) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec && open_metrics_ < kMaxMetricsConnections) serve_metrics(connection);
      accept_metrics();
    });
  }

  void serve_metrics(const std::shared_ptr<asio::ip::tcp::socket>& connection) {
    ++open_metrics_;
    auto request = std::make_shared<std::array<char, 2048>>();
    connection->async_read_some(asio::buffer(*request), [this, connection, request](const asio::error_code& ec,
                                                                                      std::size_t n) {
      if (ec) {
        --open_metrics_;
        return;
      }
      const std::string_view head(request->data(), n);
      std::string body, status = "200 OK";
      if (head.rfind("GET ", 0) == 0) {
        body = prometheus_text(rendezvous_metrics(server_, this->status(), stream_status()));
      } else {
        status = "405 Method Not Allowed";
        body = "only GET\n";
      }
      auto response = std::make_shared<std::string>("HTTP/1.0 " + status +
                                                    "\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: " +
                                                    std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
      asio::async_write(*connection, asio::buffer(*response),
                        [this, connection, response](const asio::error_code&, std::size_t) {
                          asio::error_code ignored;
                          connection->shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
                          connection->close(ignored);
                          --open_metrics_;
                        });
    });
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

  rendezvous::Server& server_;
  const RendezvousServerRunOptions& options_;
  asio::io_context ctx_;
  asio::signal_set signals_;
  asio::signal_set report_signal_;
  asio::steady_timer expiry_timer_;
  asio::steady_timer stats_timer_;
  asio::steady_timer status_timer_;
  asio::ip::tcp::acceptor metrics_;
  std::size_t open_metrics_ = 0;
  TimePoint armed_at_{};
  std::vector<std::unique_ptr<Udp>> udp_;
  std::unique_ptr<NatsLink> link_;
  // Declared after the loop's sockets and timers: destroyed before them,
  // and before ctx_ (its handlers hold the connections).
  std::unique_ptr<RendezvousStreams> streams_;
  std::vector<std::pair<std::string, Endpoint>> stream_endpoints_;
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
  Loop loop(server, options);
  return loop.run();
}

}  // namespace natpunch::io

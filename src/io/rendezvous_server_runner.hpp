#pragma once
// Runs rendezvous::Server on real UDP sockets with the one real-time
// loop (io/server_loop.hpp over io::UdpPorts: recvmmsg / sendmmsg batches,
// the server's timers), until SIGINT/SIGTERM. Its other sources share that
// loop's epoll set: the TCP/TLS listeners and connections, the cluster
// bus's wake-up, the metrics endpoint, SIGUSR1.
//
// Several UDP listeners (`rendezvous --listen 203.0.113.10:7000,[2001:db8::10]:7000`),
// at most one per address family: IPv4-only, IPv6-only and dual-stack
// clients all reach one server, one registration table, one relay. An
// answer leaves through the socket of its destination's family, so a
// client hears the server from the address it sent to. Each listener may
// carry a co-located STUN server (its own --stun-alt, same family).
//
// Cluster (cluster_servers set): the server's bus messages travel over a
// NATS link (io/nats_link.hpp); a node that cannot reach NATS goes on
// serving its own registrations and says so once a minute. A clean stop
// says Goodbye to the other nodes.
//
// Streams (tcp_listen / tls_listen): the same server also takes framed
// messages over TCP and TLS connections (io/rendezvous_streams.hpp) and
// answers each on the connection it came over.
//
// Operations: SIGUSR1 reports the counters (on_stats, not final); with
// metrics_listen set, an HTTP GET on that TCP endpoint returns them in the
// Prometheus text format (keep it on a local or management address: it
// needs no credentials).
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/endpoint.hpp"
#include "core/prometheus_text.hpp"
#include "core/result.hpp"
#include "rendezvous/server.hpp"
#include "rendezvous/stream_guard.hpp"
#include "stun/server.hpp"

namespace natpunch::io {

struct ClusterLinkStatus {
  bool configured = false;
  bool connected = false;
  std::string server;  // the NATS server it uses, or why none
  std::uint64_t published = 0, received = 0, dropped_inbox = 0, dropped_offline = 0, disconnects = 0;
};

struct RendezvousUdpListen {
  Endpoint at;
  // Set: this socket also answers STUN, as the primary of an RFC 5780
  // server on `at` and stun->alternate (io/colocated_stun.hpp);
  // stun->primary is replaced by the bound address.
  std::optional<stun::ServerConfig> stun;
};

struct RendezvousServerRunOptions {
  // At most one per address family (checked: the error says so); the
  // first is the primary (the cluster link's name).
  std::vector<RendezvousUdpListen> listen;
  // Called with the counters every stats_interval (0 = never), on SIGUSR1,
  // and once at exit (final).
  std::chrono::seconds stats_interval{0};
  std::function<void(const rendezvous::Server&, const ClusterLinkStatus&, bool final)> on_stats;
  // Called once the sockets are bound, for each UDP listener in order: the
  // bound endpoint and, with its `stun`, the STUN alternate (ports 0 resolved).
  std::function<void(const Endpoint&, const std::optional<Endpoint>& stun_alternate)> on_ready;
  // nats://HOST:PORT of the cluster's NATS servers; empty: a single node.
  std::vector<std::string> cluster_servers;
  std::string cluster_subject = "natpunch.rendezvous";
  // One line about the cluster: joined / left nodes, the link up or down
  // (down: at most once a minute while it lasts).
  std::function<void(const std::string&)> on_notice;
  std::optional<Endpoint> metrics_listen;
  // Stream listeners for clients whose UDP is blocked (io/rendezvous_streams.hpp):
  // plain TCP, and TLS with the certificate chain and key of these PEM files.
  std::optional<Endpoint> tcp_listen;
  std::optional<Endpoint> tls_listen;
  std::string tls_certificate_file;
  std::string tls_key_file;
  rendezvous::StreamLimits stream_limits;
  // Called once each stream listener is bound ("tcp" / "tls", the bound endpoint).
  std::function<void(const std::string& transport, const Endpoint&)> on_stream_ready;
};

// The counters as Prometheus metrics (also used for the SIGUSR1 report).
// The stream listeners' state, for the metrics (nullopt: none configured).
struct StreamStatus {
  std::size_t open = 0;
  rendezvous::StreamCounters guard;
  std::uint64_t messages_in = 0, messages_out = 0, framing_errors = 0, tls_failures = 0, dropped_backlog = 0;
};
std::vector<Metric> rendezvous_metrics(const rendezvous::Server& server, const ClusterLinkStatus& link,
                                       const std::optional<StreamStatus>& streams = std::nullopt);

// Binds (the error names the address) and serves until a signal arrives.
Result<rendezvous::ServerCounters, std::string> run_rendezvous_server(rendezvous::Server& server,
                                                                      const RendezvousServerRunOptions& options);

}  // namespace natpunch::io

// `natpunch rendezvous`: the rendezvous + relay server peers register with
// before they punch (or relay, when punching fails).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <tuple>
#include <vector>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "core/endpoint.hpp"
#include "io/os_random.hpp"
#include "io/rendezvous_identity_file.hpp"
#include "io/rendezvous_server_runner.hpp"
#include "rendezvous/server.hpp"
#include "source_limit_options.hpp"
#include "stun/server.hpp"

namespace natpunch::cli {

namespace {

struct RendezvousOptions {
  std::vector<std::string> listen;
  std::vector<std::string> stun_alternate;
  std::string identity_file;
  std::size_t max_registrations = 100'000;
  std::size_t max_pending = 100'000;
  std::size_t max_pending_per_identity = 16;
  std::size_t max_registrations_per_identity = 16;
  std::size_t max_sessions = 100'000;
  SourceLimitOptions limits;
  int max_puzzle_bits = 20;
  double relay_session_bytes_per_s = 256.0 * 1024;
  double relay_session_packets_per_s = 500;
  double relay_identity_bytes_per_s = 512.0 * 1024;
  double relay_identity_packets_per_s = 1000;
  double relay_address_bytes_per_s = 8.0 * 1024 * 1024;
  double relay_total_bytes_per_s = 100.0 * 1024 * 1024;
  std::uint64_t relay_session_total_bytes = 256ull * 1024 * 1024;
  int start_delay_ms = 500;
  int registration_lifetime_s = 120;
  int stats_interval = 0;
  bool json_log = false;
  double signature_checks_per_s = 2000;
  std::string cluster;
  std::string cluster_key_file;
  std::string cluster_subject = "natpunch.rendezvous";
  std::string metrics;
  std::vector<std::string> turn_servers;
  std::string turn_secret;
  int turn_ttl_s = 3600;
  std::string tcp;
  std::string tls;
  std::string tls_cert;
  std::string tls_key;
  std::size_t stream_max_connections = 4096;
  int stream_idle_timeout_s = 90;
};

// --tcp / --tls: PORT (on --listen's address) or IP:PORT.
std::optional<Endpoint> stream_endpoint(const std::string& text, const Endpoint& listen) {
  if (text.find(':') == std::string::npos) {
    auto port = Endpoint::parse("0.0.0.0:" + text);
    if (!port) return std::nullopt;
    return Endpoint{listen.address, port->port};
  }
  return Endpoint::parse(text);
}

// --turn-server IP:PORT[,udp][,tcp][,tls=PORT][,name=NAME] (without udp or
// tcp: both).
Result<rendezvous::TurnRelayConfig, std::string> parse_turn_server(const std::string& text) {
  rendezvous::TurnRelayConfig relay;
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    const auto comma = text.find(',', start);
    parts.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  const auto address = Endpoint::parse(parts[0]);
  if (!address || address->port == 0 || address->address.is_unspecified())
    return Unexpected{"'" + parts[0] + "' is not IP:PORT of a TURN server (e.g. 203.0.113.10:3478)"};
  relay.address = *address;
  std::uint8_t plain = 0;
  relay.transports = 0;
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    if (p == "udp") {
      plain |= rendezvous::kTurnUdp;
    } else if (p == "tcp") {
      plain |= rendezvous::kTurnTcp;
    } else if (p.rfind("tls=", 0) == 0) {
      const auto port = Endpoint::parse("0.0.0.0:" + p.substr(4));
      if (!port || port->port == 0) return Unexpected{"'" + p + "': tls=PORT needs a port 1-65535"};
      relay.tls_port = port->port;
      relay.transports |= rendezvous::kTurnTls;
    } else if (p.rfind("name=", 0) == 0) {
      relay.name = p.substr(5);
      if (relay.name.empty() || relay.name.size() > rendezvous::kMaxTurnName ||
          relay.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") !=
              std::string::npos)
        return Unexpected{"'" + p + "': name=NAME needs a host name (letters, digits, '.', '-'; at most 64)"};
    } else {
      return Unexpected{"'" + p + "' is not one of udp, tcp, tls=PORT, name=NAME"};
    }
  }
  relay.transports |= plain == 0 ? (rendezvous::kTurnUdp | rendezvous::kTurnTcp) : plain;
  return relay;
}

nlohmann::json counters_json(const rendezvous::ServerCounters& c) {
  return {{"received", c.received},
          {"dropped_malformed", c.dropped_malformed},
          {"dropped_rate_limited", c.dropped_rate_limited},
          {"dropped_wrong_direction", c.dropped_wrong_direction},
          {"dropped_small_register", c.dropped_small_register},
          {"dropped_bad_signature", c.dropped_bad_signature},
          {"dropped_bad_mac", c.dropped_bad_mac},
          {"dropped_replayed", c.dropped_replayed},
          {"dropped_bad_puzzle", c.dropped_bad_puzzle},
          {"dropped_cookie_spent", c.dropped_cookie_spent},
          {"dropped_verification_budget", c.dropped_verification_budget},
          {"refused_admission", c.refused_admission},
          {"answers_suppressed", c.answers_suppressed},
          {"path_challenges_sent", c.path_challenges_sent},
          {"paths_validated", c.paths_validated},
          {"challenges_sent", c.challenges_sent},
          {"registrations", c.registrations},
          {"refused_sent", c.refused_sent},
          {"errors_sent", c.errors_sent},
          {"connect_requests", c.connect_requests},
          {"sessions_created", c.sessions_created},
          {"relay_packets", c.relay_packets},
          {"relay_bytes", c.relay_bytes},
          {"relay_dropped_rate", c.relay_dropped_rate},
          {"relay_dropped_quota", c.relay_dropped_quota},
          {"relay_dropped_budget", c.relay_dropped_budget}};
}

nlohmann::json cluster_json(const rendezvous::Server& server, const io::ClusterLinkStatus& link) {
  const auto& c = server.cluster_counters();
  char node[17];
  std::snprintf(node, sizeof node, "%016llx", static_cast<unsigned long long>(server.node_id()));
  return {{"node_id", node},
          {"link_up", link.connected},
          {"nats", link.server},
          {"members", server.cluster_members()},
          {"directory_records", server.directory_records()},
          {"received", c.received},
          {"sent", c.sent},
          {"dropped_malformed", c.dropped_malformed},
          {"dropped_replayed", c.dropped_replayed},
          {"dropped_misdirected", c.dropped_misdirected},
          {"dropped_unexpected", c.dropped_unexpected},
          {"dropped_inbox_full", link.dropped_inbox},
          {"dropped_link_down", link.dropped_offline},
          {"members_joined", c.members_joined},
          {"members_left", c.members_left},
          {"announced", c.announced},
          {"routes", c.routes},
          {"offers", c.offers},
          {"remote_sessions", c.remote_sessions},
          {"relay_forwarded", c.relay_forwarded},
          {"relay_forwarded_bytes", c.relay_forwarded_bytes},
          {"evictions", c.evictions}};
}

std::string counters_line(const nlohmann::json& counters) {
  std::string line;
  for (const auto& [key, value] : counters.items()) {  // `counters` outlives items()
    if (!line.empty()) line += ' ';
    line += key + "=" + value.dump();
  }
  return line;
}

// --listen (one per address family) and each --stun-alt beside the
// --listen of its family; nullopt after a one-line error.
std::optional<std::vector<io::RendezvousUdpListen>> udp_listeners(const RendezvousOptions& o) {
  std::vector<io::RendezvousUdpListen> out;
  for (const auto& text : o.listen) {
    auto at = Endpoint::parse(text);
    if (!at) {
      std::cerr << "error: --listen '" << text << "' is not IP:PORT (e.g. 203.0.113.10:7000 or [2001:db8::10]:7000)\n";
      return std::nullopt;
    }
    for (const auto& l : out)
      if (l.at.address.family() == at->address.family()) {
        std::cerr << "error: --listen " << text << ": one address per family (one IPv4, one IPv6), and "
                  << l.at.to_string() << " is of the same family\n";
        return std::nullopt;
      }
    out.push_back(io::RendezvousUdpListen{*at, std::nullopt});
  }
  for (const auto& text : o.stun_alternate) {
    auto alt = Endpoint::parse(text);
    if (!alt) {
      std::cerr << "error: --stun-alt '" << text << "' is not IP:PORT (e.g. 203.0.113.11:7001)\n";
      return std::nullopt;
    }
    auto beside = std::find_if(out.begin(), out.end(), [&](const io::RendezvousUdpListen& l) {
      return l.at.address.family() == alt->address.family();
    });
    if (beside == out.end()) {
      std::cerr << "error: --stun-alt " << text << ": no --listen address of its family (the STUN alternate pairs "
                << "with the --listen of the same family)\n";
      return std::nullopt;
    }
    if (beside->stun) {
      std::cerr << "error: --stun-alt " << text << ": one per --listen address, and " << beside->at.to_string()
                << " has one\n";
      return std::nullopt;
    }
    const auto& listen = beside->at;
    if (listen.address.is_unspecified() || alt->address.is_unspecified()) {
      std::cerr << "error: --stun-alt needs --listen and --stun-alt with concrete addresses (the STUN primary "
                   "answers CHANGE-REQUESTs from the alternate), e.g. --listen 203.0.113.10:7000 --stun-alt "
                   "203.0.113.11:7001\n";
      return std::nullopt;
    }
    if (alt->address == listen.address || (alt->port != 0 && alt->port == listen.port)) {
      std::cerr << "error: --stun-alt must differ from --listen in both IP and port "
                   "(RFC 5780 needs two IPs x two ports)\n";
      return std::nullopt;
    }
    stun::ServerConfig stun;
    stun.primary = listen;
    stun.alternate = *alt;
    apply(o.limits, stun.rate_limit);
    stun.hash_seed = io::os_random_seed();
    beside->stun = stun;
  }
  return out;
}

int run(const RendezvousOptions& o) {
  auto udp = udp_listeners(o);
  if (!udp) return kExitUsage;
  const Endpoint* listen = &udp->front().at;  // the primary: --tcp/--tls PORT's address, the cluster's port
  rendezvous::ServerConfig config;
  if (!o.identity_file.empty()) {
    auto loaded = io::load_or_create_identity(o.identity_file);
    if (!loaded) {
      std::cerr << "error: " << loaded.error() << "\n";
      return kExitUsage;
    }
    if (loaded->created) std::cerr << "created a new server identity in " << o.identity_file << "\n";
    config.identity = loaded->identity;
  }
  config.limits.max_registrations = o.max_registrations;
  config.limits.max_pending_requests = o.max_pending;
  config.limits.max_pending_per_identity = o.max_pending_per_identity;
  config.limits.max_registrations_per_identity = o.max_registrations_per_identity;
  config.limits.max_sessions = o.max_sessions;
  apply(o.limits, config.rate_limit);
  config.admission.max_puzzle_bits = static_cast<std::uint8_t>(o.max_puzzle_bits);
  config.admission.min_puzzle_bits = static_cast<std::uint8_t>(std::min(8, o.max_puzzle_bits));
  config.relay.session_bytes_per_second = o.relay_session_bytes_per_s;
  config.relay.session_packets_per_second = o.relay_session_packets_per_s;
  config.relay.identity_bytes_per_second = o.relay_identity_bytes_per_s;
  config.relay.identity_packets_per_second = o.relay_identity_packets_per_s;
  config.relay.session_total_bytes = o.relay_session_total_bytes;
  config.relay.address_bytes_per_second = o.relay_address_bytes_per_s;
  config.relay.address_packets_per_second = std::max(1.0, o.relay_address_bytes_per_s / 800);
  config.relay.total_bytes_per_second = o.relay_total_bytes_per_s;
  config.relay.total_packets_per_second = std::max(1.0, o.relay_total_bytes_per_s / 1000);
  if (o.signature_checks_per_s > 0) {
    config.admission.verifications_per_second = o.signature_checks_per_s;
    config.admission.verifications_burst = 2 * o.signature_checks_per_s;
  } else {  // 0: unlimited, also per source (benchmarks)
    config.admission.verifications.reset();
    config.admission.verifications_per_second = 1e12;
    config.admission.verifications_burst = 1e12;
  }
  config.start_delay = milliseconds(o.start_delay_ms);
  config.registration_lifetime = seconds(o.registration_lifetime_s);
  config.refresh_interval = std::max<Duration>(seconds(1), config.registration_lifetime / 4);
  config.hash_seed = io::os_random_seed();
  std::vector<std::string> nats_servers;
  if (!o.cluster.empty()) {
    for (const auto& url : split_list(o.cluster)) nats_servers.push_back(url);
    if (o.cluster_key_file.empty()) {
      std::cerr << "error: --cluster needs --cluster-key FILE (the same key file on every node; created if missing)\n";
      return kExitUsage;
    }
    auto key = io::load_or_create_secret(o.cluster_key_file, "natpunch-cluster-key-v1", "cluster key file");
    if (!key) {
      std::cerr << "error: " << key.error() << "\n";
      return kExitUsage;
    }
    if (key->created)
      std::cerr << "created a new cluster key in " << o.cluster_key_file << " (copy it to every node of the cluster)\n";
    rendezvous::ClusterConfig cluster;
    std::copy(key->key.begin(), key->key.end(), cluster.key.begin());
    cluster.udp_port = listen->port;
    config.cluster = cluster;
  } else if (!o.cluster_key_file.empty()) {
    std::cerr << "error: --cluster-key is for --cluster (a node of a cluster)\n";
    return kExitUsage;
  }
  std::optional<Endpoint> metrics;
  if (!o.metrics.empty()) {
    metrics = Endpoint::parse(o.metrics);
    if (!metrics) {
      std::cerr << "error: --metrics '" << o.metrics << "' is not IP:PORT (e.g. 127.0.0.1:9470)\n";
      return kExitUsage;
    }
  }
  if (o.turn_servers.size() > rendezvous::kMaxTurnServers) {
    std::cerr << "error: --turn-server: at most " << rendezvous::kMaxTurnServers << " TURN servers\n";
    return kExitUsage;
  }
  if (!o.turn_servers.empty() && o.turn_secret.empty()) {
    std::cerr << "error: --turn-server needs --turn-secret (the servers' static-auth-secret; or NATPUNCH_TURN_SECRET)\n";
    return kExitUsage;
  }
  for (const auto& text : o.turn_servers) {
    auto relay = parse_turn_server(text);
    if (!relay) {
      std::cerr << "error: --turn-server " << relay.error() << "\n";
      return kExitUsage;
    }
    relay->secret = o.turn_secret;
    config.turn.relays.push_back(*relay);
  }
  config.turn.credential_lifetime = std::chrono::seconds(o.turn_ttl_s);
  config.turn.reoffer_interval = std::min<Duration>(seconds(300), config.turn.credential_lifetime / 4);
  config.turn.unix_at_start =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  config.turn.start = Clock::now();
  const bool json = o.json_log;
  config.on_event = [json](const rendezvous::ServerEvent& e) {
    if (json) {
      nlohmann::json line{{"event", rendezvous::to_string(e.kind)}, {"identity", rendezvous::to_hex(e.identity)}};
      if (e.kind == rendezvous::ServerEvent::Kind::Registered || e.kind == rendezvous::ServerEvent::Kind::Expired)
        line["endpoint"] = e.endpoint.to_string();
      else
        line["peer"] = rendezvous::to_hex(e.peer);
      if (e.session_id != 0) {
        line["session_id"] = e.session_id;
        line["session_id_text"] = std::to_string(e.session_id);  // JSON numbers above 2^53 lose digits in JavaScript
      }
      std::cout << line.dump() << std::endl;
    } else {
      std::cout << rendezvous::to_string(e.kind) << " " << rendezvous::to_hex(e.identity).substr(0, 16);
      if (e.kind == rendezvous::ServerEvent::Kind::Registered || e.kind == rendezvous::ServerEvent::Kind::Expired)
        std::cout << " at " << e.endpoint.to_string();
      else
        std::cout << " <-> " << rendezvous::to_hex(e.peer).substr(0, 16);
      std::cout << std::endl;
    }
  };
  rendezvous::Server server(config, rendezvous::system_random_bytes(), Clock::now());

  io::RendezvousServerRunOptions run_options;
  run_options.listen = *udp;
  run_options.cluster_servers = nats_servers;
  run_options.cluster_subject = o.cluster_subject;
  run_options.metrics_listen = metrics;
  for (const auto& [text, name, target] : {std::tuple{o.tcp, "--tcp", &run_options.tcp_listen},
                                           std::tuple{o.tls, "--tls", &run_options.tls_listen}}) {
    if (text.empty()) continue;
    *target = stream_endpoint(text, *listen);
    if (!*target) {
      std::cerr << "error: " << name << " '" << text << "' is not PORT or IP:PORT (e.g. 443 or 203.0.113.10:443)\n";
      return kExitUsage;
    }
  }
  if (run_options.tls_listen && (o.tls_cert.empty() || o.tls_key.empty())) {
    std::cerr << "error: --tls needs --tls-cert FILE and --tls-key FILE (PEM: the certificate chain and its key)\n";
    return kExitUsage;
  }
  if (!run_options.tls_listen && (!o.tls_cert.empty() || !o.tls_key.empty())) {
    std::cerr << "error: --tls-cert / --tls-key are for --tls PORT (the TLS listener)\n";
    return kExitUsage;
  }
  run_options.tls_certificate_file = o.tls_cert;
  run_options.tls_key_file = o.tls_key;
  run_options.stream_limits.max_connections = o.stream_max_connections;
  // A connection lives on its client's refreshes: never cut one between two.
  run_options.stream_limits.idle_timeout =
      std::max<Duration>(seconds(o.stream_idle_timeout_s), 3 * config.refresh_interval);
  run_options.on_stream_ready = [json](const std::string& transport, const Endpoint& bound) {
    if (json)
      std::cout << nlohmann::json{{"event", "listening"}, {"address", bound.to_string()}, {"transport", transport}}.dump()
                << std::endl;
    else
      std::cout << "listening on " << bound.to_string() << " (" << transport << ")" << std::endl;
  };
  run_options.on_notice = [json](const std::string& line) {
    if (json)
      std::cout << nlohmann::json{{"event", "cluster"}, {"message", line}}.dump() << std::endl;
    else
      std::cout << line << std::endl;
  };
  run_options.stats_interval = std::chrono::seconds(o.stats_interval);
  const std::string server_key = rendezvous::to_hex(server.server_key());
  std::vector<std::string> turn_relays;
  for (const auto& relay : config.turn.relays) turn_relays.push_back(relay.address.to_string());
  // Once per UDP listener; the key and the relays once.
  run_options.on_ready = [json, &server_key, &turn_relays, first = true](const Endpoint& bound,
                                                                         const std::optional<Endpoint>& stun_alternate) mutable {
    if (!first) {
      if (json)
        std::cout << nlohmann::json{{"event", "listening"}, {"address", bound.to_string()}, {"transport", "udp"}}.dump()
                  << std::endl;
      else
        std::cout << "listening on " << bound.to_string() << " (udp)" << std::endl;
    } else if (json) {
      std::cout << nlohmann::json{{"event", "listening"},
                                  {"address", bound.to_string()},
                                  {"server_key", server_key},
                                  {"turn_servers", turn_relays}}
                       .dump()
                << std::endl;
    } else {
      std::cout << "listening on " << bound.to_string() << " (udp)\nserver key: " << server_key << std::endl;
      for (const auto& relay : turn_relays) std::cout << "offering TURN relay " << relay << std::endl;
    }
    first = false;
    if (stun_alternate) {
      const std::string alternate = stun_alternate->to_string();
      if (json)
        std::cout << nlohmann::json{{"event", "stun"}, {"primary", bound.to_string()}, {"alternate", alternate}}.dump()
                  << std::endl;
      else
        std::cout << "STUN (RFC 5780) on " << bound.to_string() << " with alternate " << alternate
                  << ": peers learn their NAT here" << std::endl;
    }
  };
  run_options.on_stats = [json](const rendezvous::Server& s, const io::ClusterLinkStatus& link, bool final) {
    nlohmann::json counters = counters_json(s.counters());
    counters["registrations_held"] = s.registration_count();
    counters["pending_requests"] = s.pending_count();
    counters["sessions"] = s.session_count();
    if (json) {
      nlohmann::json line{{"event", final ? "stopped" : "stats"}, {"counters", counters}};
      if (link.configured) line["cluster"] = cluster_json(s, link);
      std::cout << line.dump() << std::endl;
    } else {
      std::cout << (final ? "stopped: " : "stats: ") << counters_line(counters) << std::endl;
      if (link.configured) std::cout << "cluster: " << counters_line(cluster_json(s, link)) << std::endl;
    }
  };
  auto result = io::run_rendezvous_server(server, run_options);
  if (!result) {
    std::cerr << "error: " << result.error() << "\n";
    return kExitNoAnswer;
  }
  return kExitOk;
}

}  // namespace

void add_rendezvous_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<RendezvousOptions>();
  auto* cmd = app.add_subcommand(
      "rendezvous",
      "Run the rendezvous + relay server: peers register an Ed25519 identity, ask for each other, and get a "
      "session (endpoints, NAT info, session key, common start time) once the callee accepts; relays when "
      "punching fails");
  cmd->add_option("--listen", o->listen,
                  "IP:PORT to listen on (UDP); port 0 picks a free one. Repeat it or give a comma list for one "
                  "IPv4 and one IPv6 address (203.0.113.10:7000,[2001:db8::10]:7000): IPv6-only clients register "
                  "too, and dual-stack clients learn their IPv6 reflexive address (from the IPv6 side's STUN: give "
                  "it a --stun-alt too, or each dual-stack session waits 0.4 s for a Binding answer that never "
                  "comes); the first is the primary (--tcp/--tls PORT's address)")
      ->required()
      ->delimiter(',')
      ->check(bind_address());
  cmd->add_option("--stun-alt", o->stun_alternate,
                  "IP:PORT of a second address and port on this host: the --listen socket then also answers STUN, "
                  "as the primary of an RFC 5780 server on both (4 sockets), so listen/connect learn their NAT's "
                  "mapping, filtering and port allocation from the rendezvous itself (natpunch probe); port 0 picks "
                  "one free on both addresses. With two --listen families, one --stun-alt per family (repeat it or "
                  "a comma list), each beside the --listen of its family")
      ->delimiter(',')
      ->check(bind_address());
  cmd->add_option("--identity", o->identity_file,
                  "Server key file (created with mode 0600 if missing) so clients can pin the server key it "
                  "prints; without it a fresh key each start");
  cmd->add_option("--max-registrations", o->max_registrations,
                  "Registrations at once, all identities; one source address may hold 1/64 of them, its /24 "
                  "(IPv6: /48) 1/16; from half full on, a new identity must solve a puzzle (see "
                  "--max-puzzle-bits), and the last 5 % are kept for identities already registered")
      ->default_val(100000)
      ->check(positive_number());
  cmd->add_option("--max-puzzle-bits", o->max_puzzle_bits,
                  "Puzzle difficulty for a new identity when the table is full (about 2^N hashes on the client; "
                  "8 at half full, growing linearly); 0: no puzzle")
      ->default_val(20)
      ->check(CLI::Range(0, 24));
  cmd->add_option("--max-pending", o->max_pending,
                  "Connect requests waiting for an answer (or kept briefly to answer retransmissions), all "
                  "identities; a caller's address may hold 1/128 of them, its /24 (IPv6: /48) 1/32")
      ->default_val(100000)
      ->check(positive_number());
  cmd->add_option("--max-pending-per-identity", o->max_pending_per_identity, "... per calling identity")
      ->default_val(16)
      ->check(positive_number());
  cmd->add_option("--max-registrations-per-identity", o->max_registrations_per_identity,
                  "Registrations one identity may hold at once (a listener serving several callers holds one "
                  "per waiting or open session, and the same key may also connect elsewhere)")
      ->default_val(16)
      ->check(positive_number());
  cmd->add_option("--max-sessions", o->max_sessions, "Sessions (and relays) at once")
      ->default_val(100000)
      ->check(positive_number());
  add_source_limit_options(cmd, o->limits, "datagrams without a registration",
                           " (Register, unknown registrations; a registered client's signalling counts against its "
                           "registration instead)");
  cmd->add_option("--relay-session-bytes-per-s", o->relay_session_bytes_per_s, "Relay byte rate per session")
      ->default_val(256.0 * 1024)
      ->check(positive_number());
  cmd->add_option("--relay-session-packets-per-s", o->relay_session_packets_per_s, "Relay packet rate per session")
      ->default_val(500)
      ->check(positive_number());
  cmd->add_option("--relay-identity-bytes-per-s", o->relay_identity_bytes_per_s,
                  "Relay byte rate per sending identity, over all its sessions")
      ->default_val(512.0 * 1024)
      ->check(positive_number());
  cmd->add_option("--relay-identity-packets-per-s", o->relay_identity_packets_per_s,
                  "Relay packet rate per sending identity")
      ->default_val(1000)
      ->check(positive_number());
  cmd->add_option("--relay-address-bytes-per-s", o->relay_address_bytes_per_s,
                  "Relay byte rate of all identities registered from one address (IPv6: /64) together")
      ->default_val(8.0 * 1024 * 1024)
      ->check(positive_number());
  cmd->add_option("--relay-total-bytes-per-s", o->relay_total_bytes_per_s, "Relay byte rate of the whole server")
      ->default_val(100.0 * 1024 * 1024)
      ->check(positive_number());
  cmd->add_option("--relay-session-bytes", o->relay_session_total_bytes, "Relay bytes a session may use in total")
      ->default_val(256ull * 1024 * 1024)
      ->check(positive_number());
  cmd->add_option("--start-delay-ms", o->start_delay_ms,
                  "Both peers start a birthday attack (naive, improved, one-hard-side) this long after the server "
                  "sends them the session; direct connects, hole punches and candidate checks start at once")
      ->default_val(500)
      ->check(CLI::Range(0, 60000));
  cmd->add_option("--registration-lifetime", o->registration_lifetime_s,
                  "Seconds a registration lives without a refresh (clients refresh every quarter of it)")
      ->default_val(120)
      ->check(CLI::Range(4, 86400));
  cmd->add_option("--turn-server", o->turn_servers,
                  "A TURN relay (coturn with use-auth-secret) to offer every registered peer, with credentials "
                  "minted from --turn-secret: IP:PORT[,udp][,tcp][,tls=PORT][,name=NAME] (default udp and tcp; "
                  "name: what its TLS certificate names). Repeatable, up to 4")
      ->take_all();
  cmd->add_option("--turn-secret", o->turn_secret, "The TURN relays' static-auth-secret")
      ->envname("NATPUNCH_TURN_SECRET");
  cmd->add_option("--turn-ttl", o->turn_ttl_s,
                  "Seconds the minted TURN credentials stay valid for a new allocation (re-offered as they age; an "
                  "allocation made with them lives on past them: coturn refreshes it with the credentials it was "
                  "made with)")
      ->default_val(3600)
      ->check(CLI::Range(5, 86400 * 7));
  cmd->add_option("--stats-interval", o->stats_interval, "Print counters every N seconds (0: only at exit)")
      ->default_val(0)
      ->check(non_negative_number());
  cmd->add_option("--signature-checks-per-s", o->signature_checks_per_s,
                  "Registration signature checks the whole server does per second at most (each costs ~100 us of "
                  "CPU); 0: unlimited, also per source (benchmarks only)")
      ->default_val(2000)
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--cluster", o->cluster,
                  "Join a cluster of rendezvous nodes over NATS: nats://HOST:PORT of the cluster's nats-server(s), "
                  "comma-separated (the link moves to another when one dies). A connect for a peer registered at "
                  "another node goes there; relay works across nodes; one identity's registrations are limited in "
                  "the whole cluster. Without NATS a node serves its own registrations and says so once a minute");
  cmd->add_option("--cluster-key", o->cluster_key_file,
                  "The cluster's shared secret (created with mode 0600 if missing; copy the same file to every "
                  "node): messages between nodes are sealed with it");
  cmd->add_option("--cluster-subject", o->cluster_subject,
                  "NATS subject prefix of this cluster (several clusters may share one NATS)")
      ->default_val("natpunch.rendezvous");
  cmd->add_option("--metrics", o->metrics,
                  "Serve the counters in the Prometheus text format on this TCP IP:PORT (HTTP GET; keep it on "
                  "loopback or a management network)")
      ->check(bind_address());
  cmd->add_option("--tcp", o->tcp,
                  "Also take registrations over TCP on this PORT (of --listen's address) or IP:PORT: for clients "
                  "whose network blocks UDP (same authentication and limits; relay too)");
  cmd->add_option("--tls", o->tls,
                  "Also take registrations over TLS on this PORT or IP:PORT (443 passes most firewalls); needs "
                  "--tls-cert and --tls-key");
  cmd->add_option("--tls-cert", o->tls_cert, "PEM certificate chain for --tls (its name or IP is what clients check)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tls-key", o->tls_key, "PEM private key of --tls-cert")->check(CLI::ExistingFile);
  cmd->add_option("--stream-max-connections", o->stream_max_connections,
                  "TCP + TLS connections at once (one address may hold 1/64 of them, at least 4)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
      ->capture_default_str();
  cmd->add_option("--stream-idle-timeout", o->stream_idle_timeout_s,
                  "Seconds a TCP/TLS connection may stay without a whole message (at least three of the clients' "
                  "refresh intervals, a quarter of --registration-lifetime each)")
      ->check(CLI::Range(10, 3600))
      ->capture_default_str();
  cmd->add_flag("--json-log", o->json_log, "One JSON object per line on stdout (listening, registered, "
                                           "session-created, rejected, expired, cluster, stats, stopped)");
  cmd->footer(
      "Example:\n"
      "  natpunch rendezvous --listen 203.0.113.10:7000 --identity /var/lib/natpunch/server.key --json-log\n"
      "  natpunch rendezvous --listen 203.0.113.10:7000 --stun-alt 203.0.113.11:7001   # peers learn their NAT here\n"
      "  natpunch rendezvous --listen 203.0.113.10:7000,[2001:db8::10]:7000 \\\n"
      "      --stun-alt 203.0.113.11:7001,[2001:db8::11]:7001   # IPv4 and IPv6: IPv6-only phones too\n"
      "  natpunch rendezvous --listen 203.0.113.10:7000 --tcp 7000 --tls 443 --tls-cert cert.pem --tls-key key.pem\n"
      "      # clients whose UDP is blocked register over TCP, then TLS (frames: 2-byte length + message)\n"
      "  natpunch rendezvous --listen 203.0.113.10:7000 --turn-server 203.0.113.10:3478,tls=443,name=turn.example.org \\\n"
      "      --turn-secret \"$SECRET\"     # peers also get short-lived TURN credentials for this coturn\n"
      "Signalling is authenticated (Ed25519 challenge, then a MAC per datagram); unauthenticated requests never\n"
      "get a reply larger than themselves, and a registration follows its client to a new address only after\n"
      "the client answered a challenge there. Stops cleanly on Ctrl-C / SIGTERM and prints its counters;\n"
      "SIGUSR1 prints them at any time.\n"
      "A cluster of three nodes (the same --identity and --cluster-key files on each, so clients pin one key):\n"
      "  natpunch rendezvous --listen 203.0.113.10:7000 --identity server.key --cluster-key cluster.key \\\n"
      "    --cluster nats://203.0.113.10:4222,nats://203.0.113.11:4222,nats://203.0.113.12:4222\n"
      "  (and the same on .11 and .12); clients: --rendezvous 203.0.113.10,203.0.113.11,203.0.113.12\n"
      "Exit codes: 0 stopped by a signal, 1 cannot listen, 2 bad option or identity file.");
  cmd->callback([o, &exit_code] { exit_code = run(*o); });
}

}  // namespace natpunch::cli

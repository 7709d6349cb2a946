// Implements the public natpunch/session.hpp calls: SessionOptions ->
// rendezvous::ClientConfig + punch plan, then io::open_peer_session. The
// only translation of session options: `natpunch connect/listen` and
// `natpunch learn` come through here too.
#include <filesystem>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <vector>

#include "io/local_addresses.hpp"
#include "io/own_nat.hpp"
#include "io/peer_listener.hpp"
#include "io/peer_session.hpp"
#include "io/profile_files.hpp"
#include "io/rendezvous_identity_file.hpp"
#include "io/session_turn_options.hpp"
#include "io/resolver.hpp"
#include "nat/allocator_spec_text.hpp"
#include "nat/public_vocabulary.hpp"
#include "rendezvous/nat_info_probe.hpp"

namespace natpunch {

namespace {

constexpr std::uint16_t kDefaultRendezvousPort = 7000;

Unexpected<Error> bad_input(std::string message) {
  return Unexpected{io::session_error(ErrorKind::kBadInput, std::move(message))};
}

void report(const SessionOptions& o, SessionProgress::Kind kind, std::string message) {
  if (!o.on_progress) return;
  SessionProgress p;
  p.kind = kind;
  p.message = std::move(message);
  o.on_progress(p);
}

// Every address of every comma-separated name, without repeats: the first
// is the server, the others are where the client moves when it stops
// answering (a cluster's nodes).
Result<std::vector<Endpoint>, Error> rendezvous_servers(const std::string& text) {
  if (text.empty()) return bad_input("no rendezvous server given (HOST:PORT)");
  std::vector<Endpoint> servers;
  std::size_t start = 0;
  for (;;) {
    const auto comma = text.find(',', start);
    const auto item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto resolved = io::resolve_udp(item, kDefaultRendezvousPort);
    if (!resolved) return bad_input("rendezvous: " + resolved.error());
    for (const auto& e : *resolved)
      if (std::find(servers.begin(), servers.end(), e) == servers.end()) servers.push_back(e);
    if (comma == std::string::npos) return servers;
    start = comma + 1;
  }
}

OwnNatReport own_nat_report(const io::OwnNat& own) {
  OwnNatReport r;
  if (own.learned && !own.learned->interrupted && !own.learned->knowledge.no_answer) {
    const auto& k = own.learned->knowledge;
    r.learned = true;
    r.cached = own.learned->cached;
    r.learned_mapping = nat::to_public(k.mapping);
    r.learned_filtering = nat::to_public(k.filtering);
    r.learned_ports = std::string(nat::to_string(k.allocator.kind));
    r.took = std::chrono::duration_cast<std::chrono::microseconds>(k.took);
  }
  const auto& info = own.info;
  r.told_mapping = nat::to_public(info.mapping);
  r.told_filtering = nat::to_public(info.filtering);
  if (info.allocator) r.told_allocator = nat::format_allocator_spec(*info.allocator);
  r.carrier_profile = info.carrier_profile;
  r.told_idle_timeout = milliseconds(info.idle_timeout_ms);
  r.notes = own.notes;
  return r;
}

// SessionOptions -> the driver's configuration: everything is checked
// before anything touches the network; then the identity is reported
// (kIdentityCreated, kIdentity) and our NAT learned (kWarning, kNatLearned).
Result<io::PeerSessionConfig, Error> prepare(const SessionOptions& o) {
  if (sodium_init() < 0) {
    return Unexpected{io::session_error(ErrorKind::kSocket, "libsodium failed to initialise")};
  }
  if (o.wait.count() <= 0 || o.sockets == 0 || o.send_interval.count() <= 0 || o.keepalive_safety <= 0 ||
      o.keepalive_misses_for_dead < 1)
    return bad_input("wait, sockets, send interval, keepalive safety and misses must be positive");
  io::PeerSessionConfig config;
  auto& client = config.client;
  // What the description states: a carrier profile (our allocator, so the
  // peer can predict our ports, timeouts, behaviour) and explicit values
  // (measurements) over it; both refine what is learned at registration.
  rendezvous::StatedNat stated{nat::to_mapping(o.nat.mapping), nat::to_filtering(o.nat.filtering)};
  std::optional<nat::Profile> profile;
  if (!o.nat.carrier_profile.empty()) {
    auto loaded = io::load_profile_by_name(o.nat.carrier_profile, io::default_profile_directories());
    if (!loaded) return bad_input("carrier profile: " + loaded.error().to_string());
    profile = std::move(*loaded);
    stated.profile = &*profile;
  }
  stated.pending_timeout_ms = static_cast<std::uint32_t>(std::max<long long>(0, o.nat.pending_timeout.count()));
  stated.idle_timeout_ms = static_cast<std::uint32_t>(std::max<long long>(0, o.nat.idle_timeout.count()));
  std::vector<std::string> no_notes;
  auto stated_info = rendezvous::own_nat_info(std::nullopt, stated, no_notes);
  if (!stated_info) return bad_input("carrier profile: " + stated_info.error().to_string());
  client.info = std::move(*stated_info);
  if (!o.server_key.empty()) {
    client.pinned_server_key = rendezvous::parse_public_key(o.server_key);
    if (!client.pinned_server_key) return bad_input("server key '" + o.server_key + "' is not 64 hex digits");
  }
  auto servers = rendezvous_servers(o.rendezvous);
  if (!servers) return Unexpected{servers.error()};
  const auto families = rendezvous::choose_server_families(*servers, io::host_families());
  client.server = families.primary;
  client.alternate_servers = families.alternates;
  config.reflexive_v6_servers = families.reflexive_v6;
  // Several servers: three unanswered refreshes (1.75 s) mean "gone", so a
  // listener is reachable elsewhere within two refresh intervals.
  if (!client.alternate_servers.empty()) client.refresh_attempts = 3;
  if (auto problem = io::apply_turn_options(o, config)) return bad_input(*problem);
  bool created = false;
  if (o.identity_file.empty()) {
    client.identity = rendezvous::Identity::generate(rendezvous::system_random_bytes());
  } else {
    auto loaded = io::load_or_create_identity(o.identity_file);
    if (!loaded) return bad_input(loaded.error());
    client.identity = loaded->identity;
    created = loaded->created;
  }
  if (created) report(o, SessionProgress::Kind::kIdentityCreated, "created a new identity in " + o.identity_file);
  report(o, SessionProgress::Kind::kIdentity, rendezvous::to_hex(client.identity.public_key));
  std::optional<Endpoint> unanswered_stun;  // the probe got no answer from this rendezvous
  if (o.nat.learn) {
    io::OwnNatOptions learning;
    learning.cache.file = o.nat.cache_file;
    learning.cache.ttl = o.nat.cache_ttl;
    learning.should_stop = o.should_stop;
    auto own = io::own_nat(client.server, stated, learning);
    if (!own) return bad_input("carrier profile: " + own.error().to_string());
    client.info = own->info;
    for (const auto& note : own->notes) report(o, SessionProgress::Kind::kWarning, "warning: " + note);
    if (io::no_stun_answer(*own)) unanswered_stun = client.server;
    if (o.on_progress) {
      SessionProgress learned;
      learned.kind = SessionProgress::Kind::kNatLearned;
      learned.message = "NAT: " + io::describe(*own);
      learned.nat = own_nat_report(*own);
      o.on_progress(learned);
    }
  }
  client.initial_retransmit = milliseconds(250);
  client.connect_timeout = o.wait;
  config.wait = o.wait;
  config.plan.hole_punch = o.hole_punch_time;
  config.plan.punch_timeout = o.punch_timeout;
  config.plan.probe_budget = o.probe_budget;
  config.plan.send_interval = o.send_interval;
  config.plan.sockets = o.sockets;
  config.plan.force_relay = o.force_relay;
  config.plan.open_early = o.open_early;
  config.keepalive.safety = o.keepalive_safety;
  config.keepalive.reply_timeout = o.keepalive_reply_timeout;
  config.keepalive.misses_for_dead = o.keepalive_misses_for_dead;
  config.keepalive_enabled = o.keepalive;
  config.repunch = o.repunch;
  // The identity was reported above, before the NAT was learned; the
  // session machine reports it again as it starts.
  // No STUN answer: why (no --stun-alt, or UDP blocked here) is told after
  // the first registration, by the transport it took.
  if (o.on_progress)
    config.on_progress = [report = o.on_progress, unanswered_stun,
                          told = std::make_shared<std::atomic<bool>>(false)](const SessionProgress& p) {
      if (p.kind == SessionProgress::Kind::kIdentity) return;
      report(p);
      if (p.kind == SessionProgress::Kind::kRegistered && unanswered_stun && !p.transport.empty() &&
          !told->exchange(true)) {
        SessionProgress warning;
        warning.kind = SessionProgress::Kind::kWarning;
        warning.message = "warning: " + io::why_no_stun_answer(*unanswered_stun, p.transport);
        report(warning);
      }
    };
  config.should_stop = o.should_stop;
  if (!o.rendezvous_tls_ca.empty() && !std::filesystem::is_regular_file(o.rendezvous_tls_ca))
    return bad_input("rendezvous TLS CA file '" + o.rendezvous_tls_ca + "' does not exist");
  config.fallback = io::rendezvous_fallback(o);
  return config;
}

}  // namespace

io::RendezvousFallback io::rendezvous_fallback(const SessionOptions& o) {
  io::RendezvousFallback f;
  f.enabled = o.stream_fallback;
  f.tcp_port = o.rendezvous_tcp_port;
  f.tls = o.rendezvous_tls_port != 0;
  f.tls_port = o.rendezvous_tls_port;
  f.tls_options.ca_file = o.rendezvous_tls_ca;
  f.tls_options.server_name = o.rendezvous_tls_name;
  return f;
}

Result<std::unique_ptr<Session>, Error> connect(const SessionOptions& options,
                                                const std::string& peer_public_key) {
  const auto peer = rendezvous::parse_public_key(peer_public_key);  // checked before anything is sent
  if (!peer) return bad_input("peer '" + peer_public_key + "' is not a public key (64 hex digits)");
  auto config = prepare(options);
  if (!config) return Unexpected{config.error()};
  config->role = io::PeerRole::Connect;
  config->client.listening = false;  // a caller's registration is offered no callers
  config->client.unknown_peer_retry = milliseconds(500);
  config->peer = peer;
  return io::open_peer_session(std::move(config.value()));
}

namespace {

Result<io::PeerSessionConfig, Error> prepare_listen(const SessionOptions& options,
                                                    const std::vector<std::string>& allowed) {
  std::vector<rendezvous::PublicKey> keys;
  for (const auto& text : allowed) {
    auto key = rendezvous::parse_public_key(text);
    if (!key) return bad_input("allowed caller '" + text + "' is not a public key (64 hex digits)");
    keys.push_back(*key);
  }
  auto config = prepare(options);
  if (!config) return Unexpected{config.error()};
  config->role = io::PeerRole::Listen;
  config->client.single_session = true;  // one caller per registration (and socket)
  config->client.accept_policy = keys.empty() ? rendezvous::accept_all() : rendezvous::accept_from(keys);
  return config;
}

}  // namespace

Result<std::unique_ptr<Session>, Error> listen(const SessionOptions& options, const std::vector<std::string>& allowed) {
  auto config = prepare_listen(options, allowed);
  if (!config) return Unexpected{config.error()};
  return io::open_peer_session(std::move(config.value()));
}

Result<std::unique_ptr<Listener>, Error> open_listener(const SessionOptions& options,
                                                       const std::vector<std::string>& allowed,
                                                       const ListenerOptions& listener) {
  if (listener.spare_registrations == 0 || listener.max_ready == 0)
    return bad_input("a listener needs at least one spare registration and room for one ready session");
  auto config = prepare_listen(options, allowed);
  if (!config) return Unexpected{config.error()};
  return io::open_peer_listener(std::move(config.value()), listener.spare_registrations, listener.max_ready);
}

}  // namespace natpunch

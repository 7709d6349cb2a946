// Implements the public natpunch/session.hpp calls: SessionOptions ->
// rendezvous::ClientConfig + punch plan, then io::open_peer_session.
#include <sodium.h>

#include <memory>
#include <vector>

#include "io/own_nat.hpp"
#include "io/peer_listener.hpp"
#include "io/peer_session.hpp"
#include "io/profile_files.hpp"
#include "io/rendezvous_identity_file.hpp"
#include "io/resolver.hpp"
#include "nat/nat_behavior.hpp"
#include "rendezvous/nat_info_probe.hpp"

namespace natpunch {

namespace {

constexpr std::uint16_t kDefaultRendezvousPort = 7000;

Unexpected<SessionError> bad_input(std::string message) {
  return Unexpected{io::session_error(SessionErrorKind::kBadInput, std::move(message))};
}

Result<io::PeerSessionConfig, SessionError> prepare(const SessionOptions& o) {
  if (sodium_init() < 0) {
    return Unexpected{io::session_error(SessionErrorKind::kSocket, "libsodium failed to initialise")};
  }
  io::PeerSessionConfig config;
  auto& client = config.client;
  auto mapping = nat::parse_mapping_behavior(o.nat.mapping);
  auto filtering = nat::parse_filtering_behavior(o.nat.filtering);
  if (!mapping || !filtering)
    return bad_input("NAT mapping/filtering must be none, endpoint-independent, address-dependent, "
                     "address-and-port-dependent or unknown");
  // What the description states: a carrier profile (our allocator, so the
  // peer can predict our ports, timeouts, behaviour) and explicit values
  // (measurements) over it; both refine what is learned at registration.
  rendezvous::StatedNat stated{*mapping, *filtering};
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
  if (o.rendezvous.empty()) return bad_input("no rendezvous server given (HOST:PORT)");
  auto servers = io::resolve_udp(o.rendezvous, kDefaultRendezvousPort);
  if (!servers) return bad_input("rendezvous: " + servers.error());
  client.server = servers->front();
  std::vector<SessionProgress> nat_progress;  // reported right after the identity, which comes first
  if (o.nat.learn) {
    io::OwnNatOptions learning;
    learning.cache.file = o.nat.cache_file;
    learning.cache.ttl = o.nat.cache_ttl;
    learning.should_stop = o.should_stop;
    auto own = io::own_nat(client.server, stated, learning);
    if (!own) return bad_input("carrier profile: " + own.error().to_string());
    client.info = own->info;
    for (const auto& note : own->notes) {
      SessionProgress warning;
      warning.kind = SessionProgress::Kind::kWarning;
      warning.message = note;
      nat_progress.push_back(std::move(warning));
    }
    SessionProgress learned;
    learned.kind = SessionProgress::Kind::kNatLearned;
    learned.message = "NAT: " + io::describe(*own);
    nat_progress.push_back(std::move(learned));
  }
  if (o.identity_file.empty()) {
    client.identity = rendezvous::Identity::generate(rendezvous::system_random_bytes());
  } else {
    auto loaded = io::load_or_create_identity(o.identity_file);
    if (!loaded) return bad_input(loaded.error());
    client.identity = loaded->identity;
  }
  client.initial_retransmit = milliseconds(250);
  client.connect_timeout = o.wait;
  if (o.wait.count() <= 0 || o.sockets == 0 || o.send_interval.count() <= 0 || o.keepalive_safety <= 0 ||
      o.keepalive_misses_for_dead < 1)
    return bad_input("wait, sockets, send interval, keepalive safety and misses must be positive");
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
  config.repunch = o.repunch;
  config.on_progress = o.on_progress;
  if (o.on_progress && !nat_progress.empty()) {
    auto pending = std::make_shared<std::vector<SessionProgress>>(std::move(nat_progress));
    config.on_progress = [report = o.on_progress, pending](const SessionProgress& p) {
      report(p);
      if (p.kind != SessionProgress::Kind::kIdentity || pending->empty()) return;
      for (const auto& q : *pending) report(q);
      pending->clear();  // calls come one at a time (session.hpp)
    };
  }
  config.should_stop = o.should_stop;
  return config;
}

}  // namespace

Result<std::unique_ptr<Session>, SessionError> connect(const SessionOptions& options,
                                                       const std::string& peer_public_key) {
  auto config = prepare(options);
  if (!config) return Unexpected{config.error()};
  config->role = io::PeerRole::Connect;
  config->client.listening = false;  // a caller's registration is offered no callers
  config->client.unknown_peer_retry = milliseconds(500);
  config->peer = rendezvous::parse_public_key(peer_public_key);
  if (!config->peer) return bad_input("peer '" + peer_public_key + "' is not a public key (64 hex digits)");
  return io::open_peer_session(std::move(config.value()));
}

namespace {

Result<io::PeerSessionConfig, SessionError> prepare_listen(const SessionOptions& options,
                                                           const std::vector<std::string>& allowed) {
  auto config = prepare(options);
  if (!config) return Unexpected{config.error()};
  config->role = io::PeerRole::Listen;
  config->client.single_session = true;  // one caller per registration (and socket)
  std::vector<rendezvous::PublicKey> keys;
  for (const auto& text : allowed) {
    auto key = rendezvous::parse_public_key(text);
    if (!key) return bad_input("allowed caller '" + text + "' is not a public key (64 hex digits)");
    keys.push_back(*key);
  }
  config->client.accept_policy = keys.empty() ? rendezvous::accept_all() : rendezvous::accept_from(keys);
  return config;
}

}  // namespace

Result<std::unique_ptr<Session>, SessionError> listen(const SessionOptions& options,
                                                      const std::vector<std::string>& allowed) {
  auto config = prepare_listen(options, allowed);
  if (!config) return Unexpected{config.error()};
  return io::open_peer_session(std::move(config.value()));
}

Result<std::unique_ptr<Listener>, SessionError> open_listener(const SessionOptions& options,
                                                              const std::vector<std::string>& allowed,
                                                              const ListenerOptions& listener) {
  auto config = prepare_listen(options, allowed);
  if (!config) return Unexpected{config.error()};
  if (listener.spare_registrations == 0 || listener.max_ready == 0)
    return bad_input("a listener needs at least one spare registration and room for one ready session");
  return io::open_peer_listener(std::move(config.value()), listener.spare_registrations, listener.max_ready);
}

}  // namespace natpunch

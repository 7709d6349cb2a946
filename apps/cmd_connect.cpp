// `natpunch listen`, `natpunch connect` and `natpunch keygen`: two peers
// meet at a rendezvous server, punch a direct UDP path with the strategy
// their NATs call for (or fall back to the server's relay), and prove the
// route by exchanging one authenticated test datagram, or pipe stdin/stdout
// over it with --stdio.
#include <poll.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sodium.h>
#include <sstream>

#include "commands.hpp"
#include "core/endpoint.hpp"
#include "core/rng.hpp"
#include "io/os_random.hpp"
#include "io/punch_driver.hpp"
#include "io/rendezvous_client_runner.hpp"
#include "io/rendezvous_identity_file.hpp"
#include "io/resolver.hpp"
#include "punch/strategies.hpp"
#include "punch/strategy_selection.hpp"
#include "wire/session_datagram.hpp"

namespace natpunch::cli {

namespace {

constexpr int kExitInterrupted = 130;  // the shell's convention for SIGINT
constexpr std::uint16_t kDefaultRendezvousPort = 7000;

enum class Role { Listen, Connect };

struct PeerOptions {
  std::string rendezvous;
  std::string identity_file;
  std::string server_key;
  std::string peer;                 // connect
  bool accept_any = false;          // listen
  std::vector<std::string> allow;   // listen
  std::string mapping = "unknown";
  std::string filtering = "unknown";
  bool force_relay = false;
  int wait_s = 60;
  int hole_punch_ms = 2000;
  int punch_timeout_ms = 0;
  std::uint64_t probe_budget = 170000;
  int send_interval_us = 2980;
  std::uint32_t sockets = 256;
  int test_timeout_ms = 5000;
  bool json = false;
  bool stdio = false;
};

double to_ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::string fixed(double value, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << value;
  return s.str();
}

// One stage of the punching plan: both sides derive the same plan from the
// same pair of NatInfos, so their stages start together.
struct Stage {
  punch::StrategyKind kind = punch::StrategyKind::RelayOnly;
  std::string why;
  punch::SideKnowledge local;
  punch::SideKnowledge peer;
  TimePoint start{};
  std::optional<Duration> time_budget;
  std::uint64_t probe_budget = 0;
};

punch::SideKnowledge knowledge(const rendezvous::NatInfo& info, std::uint16_t observed_port) {
  punch::SideKnowledge k;
  k.mapping = info.mapping;
  k.filtering = info.filtering;
  k.observed_port = observed_port;
  return k;
}

// Unknown NATs first get a short hole punch that assumes endpoint-
// independent mapping (the common case, and nearly free), then whatever
// the real knowledge calls for. `total` caps the whole plan.
std::vector<Stage> plan_stages(const punch::SideKnowledge& local, const punch::SideKnowledge& peer,
                               TimePoint start, const PeerOptions& o) {
  std::vector<Stage> stages;
  // Zero: no cap (a plain Duration: GCC 12 misreads an optional here).
  const Duration total = milliseconds(o.punch_timeout_ms);
  const bool capped = o.punch_timeout_ms > 0;
  TimePoint at = start;
  const bool unknown = local.mapping == nat::MappingBehavior::Unknown || peer.mapping == nat::MappingBehavior::Unknown;
  if (unknown) {
    auto optimistic = [](punch::SideKnowledge k) {
      if (k.mapping == nat::MappingBehavior::Unknown) k.mapping = nat::MappingBehavior::EndpointIndependent;
      return k;
    };
    Stage s;
    s.local = optimistic(local);
    s.peer = optimistic(peer);
    s.start = at;
    const auto choice = punch::choose_strategy(s.local, s.peer);
    s.kind = choice.kind;
    s.why = std::string(choice.why) + " (NAT behaviour unknown: assumed endpoint-independent first)";
    Duration budget = milliseconds(o.hole_punch_ms);
    if (capped && total < budget) budget = total;
    s.time_budget = budget;
    s.probe_budget = o.probe_budget;
    stages.push_back(s);
    at += budget;
  }
  Stage s;
  s.local = local;
  s.peer = peer;
  s.start = at;
  const auto choice = punch::choose_strategy(local, peer);
  s.kind = choice.kind;
  s.why = std::string(choice.why);
  if (capped) {
    const Duration left = start + total - at;
    if (left <= Duration::zero()) return stages;
    s.time_budget = left;
  }
  s.probe_budget = o.probe_budget;
  // An unknown pair already tried the hole punch; repeating it is only
  // worth it without a cap (it then runs until the probe budget).
  if (!stages.empty() && s.kind == stages.front().kind && capped) return stages;
  stages.push_back(s);
  return stages;
}

// Everything the punching and data phases share.
struct Peer {
  Role role;
  const PeerOptions& o;
  io::RendezvousClientRunner& runner;
  rendezvous::ClientSession session;
  Endpoint server;
  std::function<bool()> should_stop;
  std::unique_ptr<io::PunchDriver> driver;
  std::unique_ptr<punch::PunchStrategy> strategy;  // the last stage's, kept to answer late handshakes
  bool direct = false;
  std::uint32_t socket = 0;
  Endpoint peer_endpoint;

  const wire::SessionKey& key() const { return session.session_key; }
  const char* role_name() const { return role == Role::Listen ? "listen" : "connect"; }
};

// Sorts one datagram received while the session is up: rendezvous traffic
// to the client, handshake stragglers to the strategy; returns session
// datagrams that verify.
std::optional<wire::SessionDatagram> dispatch(Peer& p, const io::PunchDriver::Received& d) {
  if (d.socket == 0 && d.from == p.server) {
    p.runner.client().on_datagram(Clock::now(), d.bytes, d.from);
    return std::nullopt;
  }
  if (wire::looks_like_session_datagram(d.bytes)) {
    if (d.from != p.peer_endpoint) return std::nullopt;
    auto decoded = wire::decode_session_datagram(d.bytes, p.session.session_id, p.key());
    if (!decoded) return std::nullopt;
    return std::move(decoded.value());
  }
  if (p.strategy) p.driver->pump(*p.strategy, d.socket, d.from, d.bytes);
  return std::nullopt;
}

// Sends and receives one payload on the current route. The relay carries
// [flags][payload] inside the rendezvous channel's own authentication.
struct Channel {
  Peer& p;
  std::uint64_t sent = 0;
  std::uint64_t last_received = 0;

  void send(std::uint8_t flags, std::span<const std::uint8_t> payload) {
    if (p.direct) {
      wire::SessionDatagram d{flags, p.session.session_id, ++sent, {payload.begin(), payload.end()}};
      p.driver->send(p.socket, p.peer_endpoint, wire::encode(d, p.key()));
    } else {
      std::vector<std::uint8_t> framed{flags};
      framed.insert(framed.end(), payload.begin(), payload.end());
      p.runner.send_relay(p.session.session_id, framed);
    }
  }

  std::optional<wire::SessionDatagram> receive_until(TimePoint deadline) {
    for (;;) {
      if (p.direct) {
        auto d = p.driver->receive_until(deadline);
        if (!d) return std::nullopt;
        auto data = dispatch(p, *d);
        if (data && data->sequence > last_received) {
          last_received = data->sequence;
          return data;
        }
      } else {
        const auto now = Clock::now();
        auto payload = p.runner.receive_relay(p.session.session_id, deadline > now ? deadline - now : Duration::zero());
        if (!payload) return std::nullopt;
        if (payload->empty()) continue;
        wire::SessionDatagram d;
        d.flags = payload->front();
        d.payload.assign(payload->begin() + 1, payload->end());
        return d;
      }
      if (Clock::now() >= deadline) return std::nullopt;
    }
  }
};

// Both sides send their test datagram every 100 ms until they have the
// peer's and know the peer has theirs (or, having the peer's, a second
// passes: the peer may already be gone).
std::optional<std::string> exchange_test_datagram(Peer& p, bool& interrupted) {
  Channel channel{p};
  const std::string text = std::string("natpunch test from ") + p.role_name();
  const std::vector<std::uint8_t> payload(text.begin(), text.end());
  const auto deadline = Clock::now() + milliseconds(p.o.test_timeout_ms);
  std::optional<std::string> received;
  bool peer_has_ours = false;
  TimePoint got_at{};
  TimePoint next_send = Clock::now();
  while (Clock::now() < deadline) {
    if (p.should_stop()) {
      interrupted = true;
      return received;
    }
    const auto now = Clock::now();
    if (received && (peer_has_ours || now - got_at > seconds(1))) break;
    if (now >= next_send) {
      channel.send(received ? wire::kFlagGotYours : 0, payload);
      next_send = now + milliseconds(100);
    }
    if (auto d = channel.receive_until(std::min(next_send, deadline))) {
      if (!received) {
        received = std::string(d->payload.begin(), d->payload.end());
        got_at = Clock::now();
      }
      if (d->flags & wire::kFlagGotYours) peer_has_ours = true;
    }
  }
  // The peer may still wait to hear that its datagram arrived.
  if (received)
    for (int i = 0; i < 2; ++i) channel.send(wire::kFlagGotYours, payload);
  return received;
}

// stdin -> peer, peer -> stdout, until our stdin ends and the peer's has
// ended too (or it stays silent for 2 s after our end).
bool pipe_stdio(Peer& p, bool& interrupted) {
  Channel channel{p};
  bool our_end = false, their_end = false;
  TimePoint last_heard = Clock::now();
  std::array<std::uint8_t, wire::kMaxSessionPayload - 1> buffer{};
  while (!(our_end && (their_end || Clock::now() - last_heard > seconds(2)))) {
    if (p.should_stop()) {
      interrupted = true;
      for (int i = 0; i < 3; ++i) channel.send(wire::kFlagEnd, {});  // the peer need not wait for us
      return false;
    }
    if (!our_end) {
      pollfd in{STDIN_FILENO, POLLIN, 0};
      if (::poll(&in, 1, 0) > 0) {
        const auto n = ::read(STDIN_FILENO, buffer.data(), buffer.size());
        if (n > 0) {
          channel.send(0, std::span(buffer.data(), static_cast<std::size_t>(n)));
        } else {
          our_end = true;
          for (int i = 0; i < 3; ++i) channel.send(wire::kFlagEnd, {});
        }
      }
    }
    if (auto d = channel.receive_until(Clock::now() + milliseconds(20))) {
      last_heard = Clock::now();
      if (d->flags & wire::kFlagEnd) their_end = true;
      if (!d->payload.empty()) {
        std::fwrite(d->payload.data(), 1, d->payload.size(), stdout);
        std::fflush(stdout);
      }
    }
  }
  return true;
}

struct IdentityOutcome {
  rendezvous::Identity identity;
  bool created = false;
};

std::optional<IdentityOutcome> load_identity(const std::string& file) {
  if (file.empty()) return IdentityOutcome{rendezvous::Identity::generate(rendezvous::system_random_bytes()), true};
  auto loaded = io::load_or_create_identity(file);
  if (!loaded) {
    std::cerr << "error: " << loaded.error() << "\n";
    return std::nullopt;
  }
  if (loaded->created) std::cerr << "created a new identity in " << file << "\n";
  return IdentityOutcome{loaded->identity, loaded->created};
}

int run_peer(Role role, const PeerOptions& o) {
  const auto process_start = Clock::now();
  if (sodium_init() < 0) {
    std::cerr << "error: libsodium failed to initialise\n";
    return kExitNoAnswer;
  }
  // --- usage checks before anything touches the network
  std::optional<rendezvous::PublicKey> peer_key;
  std::vector<rendezvous::PublicKey> allowed;
  if (role == Role::Connect) {
    peer_key = rendezvous::parse_public_key(o.peer);
    if (!peer_key) {
      std::cerr << "error: --peer '" << o.peer << "' is not a public key (64 hex digits, as `natpunch listen` prints)\n";
      return kExitUsage;
    }
  } else {
    if (!o.accept_any && o.allow.empty()) {
      std::cerr << "error: say whom to accept: --accept-any or --allow PUBKEY (repeatable)\n";
      return kExitUsage;
    }
    for (const auto& text : o.allow) {
      auto key = rendezvous::parse_public_key(text);
      if (!key) {
        std::cerr << "error: --allow '" << text << "' is not a public key (64 hex digits)\n";
        return kExitUsage;
      }
      allowed.push_back(*key);
    }
  }
  rendezvous::ClientConfig config;
  auto mapping = nat::parse_mapping_behavior(o.mapping);
  auto filtering = nat::parse_filtering_behavior(o.filtering);
  if (!mapping || !filtering) {
    std::cerr << "error: --mapping/--filtering take none, endpoint-independent, address-dependent, "
                 "address-and-port-dependent or unknown\n";
    return kExitUsage;
  }
  config.info.mapping = *mapping;
  config.info.filtering = *filtering;
  if (!o.server_key.empty()) {
    config.pinned_server_key = rendezvous::parse_public_key(o.server_key);
    if (!config.pinned_server_key) {
      std::cerr << "error: --server-key '" << o.server_key << "' is not a public key (64 hex digits)\n";
      return kExitUsage;
    }
  }
  auto servers = io::resolve_udp(o.rendezvous, kDefaultRendezvousPort);
  if (!servers) {
    std::cerr << "error: --rendezvous: " << servers.error() << "\n";
    return kExitUsage;
  }
  config.server = servers->front();
  auto identity = load_identity(o.identity_file);
  if (!identity) return kExitUsage;
  config.identity = identity->identity;
  config.initial_retransmit = milliseconds(250);
  config.connect_timeout = seconds(o.wait_s);
  if (role == Role::Listen)
    config.accept_policy = o.accept_any ? rendezvous::accept_all() : rendezvous::accept_from(allowed);

  // With --stdio, stdout carries only the peer's data: reports go to stderr.
  std::ostream& report = o.stdio ? std::cerr : std::cout;
  const std::string own_key = rendezvous::to_hex(config.identity.public_key);
  if (o.json)
    report << nlohmann::json{{"event", "identity"}, {"identity", own_key}}.dump() << std::endl;
  else
    report << "identity: " << own_key << std::endl;

  // --- register and get a session
  const Endpoint bind{config.server.address.is_v4() ? IpAddress::v4({0, 0, 0, 0}) : IpAddress::v6({}), 0};
  auto opened = io::RendezvousClientRunner::open(bind, config);
  if (!opened) {
    std::cerr << "error: " << opened.error() << "\n";
    return kExitNoAnswer;
  }
  auto& runner = **opened;
  auto observed = runner.wait_registered(seconds(std::min(o.wait_s, 10)));
  if (!observed) {
    std::cerr << "error: " << observed.error() << " at " << config.server.to_string() << "\n";
    return kExitNoAnswer;
  }
  std::cerr << "registered at " << config.server.to_string() << ", seen as " << observed->to_string() << "\n";
  auto session = role == Role::Connect ? runner.connect(*peer_key, seconds(o.wait_s))
                                       : runner.wait_for_session(seconds(o.wait_s));
  if (!session) {
    std::cerr << "error: " << session.error() << "\n";
    return kExitNoAnswer;
  }
  std::cerr << "session " << session->session_id << " with " << rendezvous::to_hex(session->peer).substr(0, 16)
            << " at " << session->peer_observed.to_string() << "\n";

  // From here on Ctrl-C ends the run cleanly with a report.
  asio::io_context signal_context;
  asio::signal_set signals(signal_context, SIGINT, SIGTERM);
  bool interrupted = false;
  signals.async_wait([&](const asio::error_code& ec, int) {
    if (!ec) interrupted = true;
  });
  Peer p{role, o, runner, *session, config.server, {}, {}, {}, false, 0, {}};
  p.should_stop = [&] {
    signal_context.poll();
    return interrupted;
  };

  // --- punch, stage by stage
  const auto local = knowledge(config.info, observed->port);
  const auto peer = knowledge(session->peer_info, session->peer_observed.port);
  std::vector<Stage> stages;
  if (!o.force_relay) stages = plan_stages(local, peer, session->start_at, o);
  io::PunchDriverOptions driver_options;
  driver_options.should_stop = p.should_stop;
  driver_options.intercept = [&p](std::uint32_t socket, const Endpoint& from, std::span<const std::uint8_t> bytes) {
    return socket == 0 && from == p.server && p.runner.client().on_datagram(Clock::now(), bytes, from);
  };
  // The registration must outlive a long birthday attack: run the
  // rendezvous client's timers (refresh, keepalive) while punching.
  driver_options.on_wake = [&p] {
    auto& client = p.runner.client();
    const auto now = Clock::now();
    if (auto due = client.next_deadline(); due && *due <= now) client.on_timer(now);
    for (const auto& t : client.poll_transmit(now)) {
      std::string error;
      p.runner.socket().send(t.to, t.bytes, error);
    }
  };
  std::string current = "relay";
  driver_options.on_progress = [&current](const io::PunchProgress& progress) {
    if (progress.elapsed < Duration::zero()) return;  // still waiting for the common start
    std::cerr << "punch: " << current << " " << fixed(to_ms(progress.elapsed) / 1000, 1) << " s, "
              << progress.probes_sent << " probes, " << progress.sockets_open << " socket(s)\n";
  };
  p.driver = std::make_unique<io::PunchDriver>(runner.socket(), driver_options);
  Rng rng(io::os_random_seed());
  punch::PunchResult last;
  std::uint64_t probes_total = 0;
  std::string stop_reason = o.force_relay ? "forced relay" : "no direct strategy";
  for (const auto& stage : stages) {
    current = std::string(punch::to_string(stage.kind));
    std::cerr << "strategy: " << current << ": " << stage.why << "\n";
    punch::StrategyParams params;
    params.peer_address = session->peer_observed.address;
    params.session_id = session->session_id;
    params.key = session->session_key;
    params.probe_budget = stage.probe_budget;
    params.time_budget = stage.time_budget;
    params.send_interval = std::chrono::microseconds(o.send_interval_us);
    params.many_sockets = o.sockets;
    p.strategy = punch::make_strategy(stage.kind, stage.local, stage.peer, params, rng, stage.start);
    auto run = p.driver->run(*p.strategy, stage.start);
    probes_total += run.result.probes_sent;
    last = run.result;
    if (run.first_error) std::cerr << "warning: " << *run.first_error << "\n";
    if (!run.interrupted)
      std::cerr << "punch: " << current << " "
                << (last.outcome == punch::PunchOutcome::Connected ? "connected to " + last.peer.to_string()
                                                                   : std::string("stopped: ") + punch::to_string(last.stop_reason))
                << " after " << fixed(to_ms(Clock::now() - stage.start), 1) << " ms, " << last.probes_sent << " probes\n";
    if (run.interrupted) {
      // Nothing lost on Ctrl-C: say how far punching got.
      std::cerr << "interrupted while punching (" << probes_total << " probes sent)\n";
      if (o.json)
        report << nlohmann::json{{"event", "result"},     {"role", p.role_name()},    {"interrupted", true},
                                 {"strategy", current},    {"probes_sent", probes_total},
                                 {"session_id", session->session_id},
                                 {"elapsed_ms", to_ms(Clock::now() - process_start)}}
                      .dump()
               << std::endl;
      return kExitInterrupted;
    }
    if (last.outcome == punch::PunchOutcome::Connected) break;
    stop_reason = punch::to_string(last.stop_reason);
  }
  const auto decided_at = Clock::now();
  p.direct = last.outcome == punch::PunchOutcome::Connected;
  if (p.direct) {
    p.socket = last.socket;
    p.peer_endpoint = last.peer;
  }
  // Counted from the common start, whichever stage connected.
  // A forced relay is ready before the start: never negative.
  const double connect_ms =
      std::max(0.0, to_ms((p.direct ? last.connected_at : decided_at) - session->start_at));

  if (!o.json) {
    if (p.direct)
      report << "route: direct " << p.peer_endpoint.to_string() << " (strategy " << current << ", local socket "
                << p.socket << ")\n";
    else
      report << "route: relay via " << config.server.to_string() << " (punching: " << stop_reason << ")\n";
    report << "time-to-connect: " << fixed(connect_ms, 1) << " ms, " << probes_total << " probes sent" << std::endl;
  }

  // --- prove the route (or pipe stdio over it)
  bool ok = false;
  std::optional<std::string> received;
  if (o.stdio) {
    ok = pipe_stdio(p, interrupted);
  } else {
    received = exchange_test_datagram(p, interrupted);
    ok = received.has_value();
  }
  if (o.json) {
    nlohmann::json j{{"event", "result"},
                     {"role", p.role_name()},
                     {"identity", own_key},
                     {"peer", rendezvous::to_hex(session->peer)},
                     {"session_id", session->session_id},
                     {"observed", observed->to_string()},
                     {"peer_observed", session->peer_observed.to_string()},
                     {"strategy", current},
                     {"route", p.direct ? "direct" : "relay"},
                     {"time_to_connect_ms", connect_ms},
                     {"probes_sent", probes_total},
                     {"elapsed_ms", to_ms(Clock::now() - process_start)}};
    if (p.direct) {
      j["peer_endpoint"] = p.peer_endpoint.to_string();
      j["local_socket"] = p.socket;
    } else {
      j["stop_reason"] = stop_reason;
    }
    if (!o.stdio) {
      j["test_datagram"] = ok;
      if (received) j["received"] = *received;
    }
    report << j.dump() << std::endl;
  } else if (!o.stdio) {
    if (received)
      std::cout << "test datagram: ok, received \"" << *received << "\" over the " << (p.direct ? "direct" : "relay")
                << " route" << std::endl;
    else
      std::cout << "test datagram: nothing received within " << o.test_timeout_ms << " ms" << std::endl;
  }
  if (interrupted) return kExitInterrupted;
  return ok ? kExitOk : kExitNoAnswer;
}

void add_shared_options(CLI::App& cmd, PeerOptions& o) {
  cmd.add_option("--rendezvous", o.rendezvous, "Rendezvous server HOST:PORT (`natpunch rendezvous`; default port 7000)")
      ->required();
  cmd.add_option("--identity", o.identity_file,
                 "Ed25519 identity file (created with mode 0600 if missing); without it a fresh identity per run");
  cmd.add_option("--server-key", o.server_key, "Pin the rendezvous server's key (64 hex digits it prints)");
  cmd.add_option("--mapping", o.mapping,
                 "Own NAT mapping behaviour, if known (none, endpoint-independent, address-dependent, "
                 "address-and-port-dependent, unknown); `natpunch nat-type` measures it")
      ->default_val("unknown");
  cmd.add_option("--filtering", o.filtering, "Own NAT filtering behaviour, if known (same spellings)")
      ->default_val("unknown");
  cmd.add_option("--wait", o.wait_s, "Seconds to wait for registration and the session")
      ->default_val(60)
      ->check(CLI::Range(1, 86400));
  cmd.add_option("--hole-punch-ms", o.hole_punch_ms,
                 "With an unknown NAT on either side, first try a plain hole punch this long (both sides must agree)")
      ->default_val(2000)
      ->check(CLI::Range(1, 600000));
  cmd.add_option("--punch-timeout-ms", o.punch_timeout_ms,
                 "Give up punching (and use the relay) this long after the common start; 0: only the probe budget")
      ->default_val(0)
      ->check(CLI::Range(0, 3600000));
  cmd.add_option("--probe-budget", o.probe_budget, "Probes per stage before falling back to the relay")
      ->default_val(170000);
  cmd.add_option("--send-interval-us", o.send_interval_us, "Microseconds between probes (the thesis's phones: 2980)")
      ->default_val(2980)
      ->check(CLI::Range(100, 1000000));
  cmd.add_option("--sockets", o.sockets, "Local sockets a many-socket strategy may open")
      ->default_val(256)
      ->check(CLI::Range(1, 4096));
  cmd.add_flag("--force-relay", o.force_relay, "Do not punch: use the relay at once (testing, hostile networks)");
  cmd.add_option("--test-timeout-ms", o.test_timeout_ms, "How long to wait for the peer's test datagram")
      ->default_val(5000)
      ->check(CLI::Range(1, 600000));
  cmd.add_flag("--stdio", o.stdio,
               "Instead of the test datagram, send stdin to the peer and print what it sends, until both inputs end "
               "(datagrams, no retransmission; the direct path drops late ones). stdout then carries only the peer's data, "
               "reports go to stderr");
  cmd.add_flag("--json", o.json,
               "JSON lines on stdout: {\"event\":\"identity\",...} at once, {\"event\":\"result\",...} at the end");
}

constexpr const char* kPeerFooter =
    "Both sides register at the rendezvous, the caller asks for the listener's public key, and once the listener\n"
    "accepts both get a session (peer endpoint, NAT info, session key, common start time). The strategy follows\n"
    "both sides' NAT behaviour (hole punch, one-hard-side, birthday attacks); an unknown NAT first gets a short\n"
    "hole punch. When punching stops, data goes through the server's relay. Probes and data on the direct path\n"
    "are authenticated with the session key.\n"
    "Example (two terminals):\n"
    "  natpunch listen --rendezvous 203.0.113.10:7000 --accept-any          # prints identity: <hex>\n"
    "  natpunch connect --rendezvous 203.0.113.10:7000 --peer <hex>\n"
    "Exit codes: 0 the test datagram crossed (or --stdio ended), 1 no server / no session / nothing crossed,\n"
    "2 bad option or identity file, 130 interrupted.";

}  // namespace

void add_connect_commands(CLI::App& app, int& exit_code) {
  auto lo = std::make_shared<PeerOptions>();
  auto* listen = app.add_subcommand("listen", "Wait at a rendezvous server for one peer to connect, punch, report the "
                                              "route and exchange a test datagram (or pipe stdio)");
  add_shared_options(*listen, *lo);
  auto* accept = listen->add_flag("--accept-any", lo->accept_any, "Accept any caller");
  listen->add_option("--allow", lo->allow, "Accept only this caller's public key (repeatable)")->excludes(accept);
  listen->footer(kPeerFooter);
  listen->callback([lo, &exit_code] { exit_code = run_peer(Role::Listen, *lo); });

  auto co = std::make_shared<PeerOptions>();
  auto* connect = app.add_subcommand("connect", "Connect to a listening peer through a rendezvous server, punch, report "
                                                "the route and exchange a test datagram (or pipe stdio)");
  add_shared_options(*connect, *co);
  connect->add_option("--peer", co->peer, "The listener's public key (64 hex digits)")->required();
  connect->footer(kPeerFooter);
  connect->callback([co, &exit_code] { exit_code = run_peer(Role::Connect, *co); });

  auto key_file = std::make_shared<std::string>();
  auto key_json = std::make_shared<bool>(false);
  auto* keygen = app.add_subcommand("keygen", "Create (if missing) an identity file and print its public key");
  keygen->add_option("--identity", *key_file, "Identity file (created with mode 0600)")->required();
  keygen->add_flag("--json", *key_json, "Print {\"identity\":..., \"created\":...}");
  keygen->footer("Example: natpunch connect --peer $(natpunch keygen --identity peer.key) ...\n"
                 "Exit codes: 0 ok, 2 unreadable, corrupt or group/world-readable file.");
  keygen->callback([key_file, key_json, &exit_code] {
    if (sodium_init() < 0) {
      exit_code = kExitNoAnswer;
      return;
    }
    auto loaded = io::load_or_create_identity(*key_file);
    if (!loaded) {
      std::cerr << "error: " << loaded.error() << "\n";
      exit_code = kExitUsage;
      return;
    }
    const auto hex = rendezvous::to_hex(loaded->identity.public_key);
    if (*key_json)
      std::cout << nlohmann::json{{"identity", hex}, {"created", loaded->created}}.dump() << std::endl;
    else
      std::cout << hex << std::endl;
    exit_code = kExitOk;
  });
}

}  // namespace natpunch::cli

// `natpunch turn allocate`: exercise a TURN server (coturn or any RFC 8656
// server) end to end over UDP, TCP or TLS — allocate a relayed address,
// permit and bind a channel to peers, send datagrams through the relay and
// time the echoes, refresh, and delete the allocation.
// `natpunch turn credentials`: mint TURN REST API credentials for a server
// that runs with coturn's use-auth-secret.
#include <algorithm>
#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <variant>

#include "commands.hpp"
#include "core/host_port.hpp"
#include "io/machine_driver.hpp"
#include "io/os_random.hpp"
#include "io/rendezvous_client_runner.hpp"
#include "io/resolver.hpp"
#include "io/stop_signals.hpp"
#include "io/turn_client_runner.hpp"
#include "io/udp_ports.hpp"
#include "rendezvous_reachability.hpp"
#include "rendezvous_stream_options.hpp"
#include "rendezvous/crypto.hpp"
#include "turn/relay_ranking.hpp"
#include "turn/rest_credentials.hpp"
#include "turn_exchange.hpp"

namespace natpunch::cli {
namespace {

constexpr std::uint16_t kTurnPort = 3478;
constexpr std::uint16_t kTurnsPort = 5349;
constexpr int kMinDatagram = 12;

struct AllocateOptions {
  std::string server;
  std::string secret;
  std::string rest_id = "natpunch";
  int ttl_s = 3600;
  std::string user;
  std::string password;
  std::string rendezvous;
  std::string server_key;
  RendezvousStreamOptions streams;  // registering over TCP/TLS where UDP is blocked
  bool tcp = false;
  bool tls = false;
  std::string ca_file;
  std::string server_name;
  std::vector<std::string> peers;
  int count = 3;
  int size = 100;
  double flood_s = 0;
  int window = 64;
  int lifetime_s = 600;
  double timeout_s = 10;
  double hold_s = 0;
  std::string local;
  bool json = false;
};

struct CredentialOptions {
  std::string secret;
  std::string id = "natpunch";
  int ttl_s = 3600;
  bool json = false;
};

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// RFC 8489 schedule squeezed into `timeout`: 250 ms doubling, as many sends
// as fit in its first 80 %, then wait out the rest.
stun::RetransmitPolicy policy_within(Duration timeout) {
  const Duration rto = milliseconds(250);
  int sends = 1;
  Duration last_send{};
  while (sends < 7 && last_send + rto * (1 << (sends - 1)) < timeout * 4 / 5) {
    last_send += rto * (1 << (sends - 1));
    ++sends;
  }
  const auto rest = timeout - last_send;
  const int rm = std::max(1, static_cast<int>((rest + rto - Duration{1}) / rto));
  return {rto, sends, rm};
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

struct PeerReport {
  Endpoint peer;
  std::optional<std::uint16_t> channel;
  double bind_ms = 0;
  std::string error;
  ExchangeOutcome pings;
  std::optional<ExchangeOutcome> flood;
};

nlohmann::json to_json(const PeerReport& r, std::size_t size) {
  nlohmann::json j{{"peer", r.peer.to_string()},
                   {"channel", r.channel ? nlohmann::json(*r.channel) : nlohmann::json(nullptr)},
                   {"bind_ms", r.bind_ms},
                   {"sent", r.pings.sent},
                   {"echoed", r.pings.received}};
  j["error"] = r.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.error);
  if (!r.pings.rtt_ms.empty()) {
    j["rtt_ms"] = {{"min", *std::min_element(r.pings.rtt_ms.begin(), r.pings.rtt_ms.end())},
                   {"median", median(r.pings.rtt_ms)},
                   {"max", *std::max_element(r.pings.rtt_ms.begin(), r.pings.rtt_ms.end())}};
  } else {
    j["rtt_ms"] = nullptr;
  }
  if (r.flood) {
    const double seconds = std::chrono::duration<double>(r.flood->elapsed).count();
    j["flood"] = {{"sent", r.flood->sent},
                  {"echoed", r.flood->received},
                  {"datagram_bytes", size},
                  {"seconds", seconds},
                  {"echoed_mbit_per_s", seconds > 0 ? 8e-6 * static_cast<double>(r.flood->bytes_received) / seconds : 0.0},
                  {"echoed_per_s", seconds > 0 ? static_cast<double>(r.flood->received) / seconds : 0.0}};
  }
  return j;
}

void print_peer(const PeerReport& r, std::size_t size) {
  std::cout << "peer " << r.peer.to_string() << ": ";
  if (!r.error.empty() && !r.channel) {
    std::cout << r.error << "\n";
    return;
  }
  char channel[8];
  std::snprintf(channel, sizeof channel, "0x%04x", r.channel.value_or(0));
  std::cout << "channel " << channel << " bound in " << r.bind_ms << " ms\n";
  if (r.pings.sent > 0) {
    std::cout << "  " << r.pings.received << "/" << r.pings.sent << " echoes";
    if (!r.pings.rtt_ms.empty())
      std::cout << ", rtt min " << *std::min_element(r.pings.rtt_ms.begin(), r.pings.rtt_ms.end()) << " / median "
                << median(r.pings.rtt_ms) << " / max " << *std::max_element(r.pings.rtt_ms.begin(), r.pings.rtt_ms.end())
                << " ms";
    std::cout << "\n";
  }
  if (r.flood) {
    const double seconds = std::chrono::duration<double>(r.flood->elapsed).count();
    std::cout << "  flood: " << r.flood->sent << " datagrams of " << size << " bytes sent, " << r.flood->received
              << " echoed in " << seconds << " s = "
              << (seconds > 0 ? 8e-6 * static_cast<double>(r.flood->bytes_received) / seconds : 0.0)
              << " Mbit/s echoed\n";
  }
  if (!r.error.empty()) std::cout << "  error: " << r.error << "\n";
}

// Runs the machine until `match` decides on an event: true (wanted) or
// false (a failure, whose text it keeps); false too on timeout or when
// `stopped` holds. Events it has no verdict on (nullopt) pass.
template <class Match>
bool await(io::TurnClientRunner& runner, Duration timeout, const std::function<bool()>& stopped, Match&& match) {
  std::optional<bool> verdict;
  runner.run_until(
      Clock::now() + timeout,
      [&](const turn::ClientEvent& event) {
        verdict = match(event);
        return verdict.has_value();
      },
      stopped);
  return verdict.value_or(false);
}

// One way to reach one relay: where, over what, with which credentials.
struct Candidate {
  Endpoint server;
  std::string server_name;  // how messages name it; empty: its address
  std::string tls_name;     // what its certificate must carry (kTls)
  turn::Transport transport = turn::Transport::kUdp;
  turn::Credentials credentials;
};

turn::ClientConfig client_config(const Candidate& c, const AllocateOptions& o, Duration timeout) {
  turn::ClientConfig config;
  config.server = c.server;
  config.server_name = c.server_name;
  config.transport = c.transport;
  config.credentials = c.credentials;
  config.lifetime_seconds = static_cast<std::uint32_t>(o.lifetime_s);
  config.udp_retransmit = policy_within(timeout);
  config.stream_timeout = timeout;
  return config;
}

// The relays the rendezvous at o.rendezvous offers, nearest first (one
// Binding each over UDP; the silent ones after, as offered), each over UDP,
// TCP, then TLS as offered (only --tcp / --tls when given). Where UDP gets
// no answer the registration moves to the rendezvous's TCP, then TLS
// listener (io/registration_link.hpp; `udp_blocked` then), and only the
// relays' TCP and TLS ways are tried. Empty with `error` set when there is
// no offer.
std::vector<Candidate> offered_candidates(const AllocateOptions& o, const Endpoint& rendezvous_server, Duration timeout,
                                          const io::StopSignals& stop, std::string& error, bool& udp_blocked,
                                          nlohmann::json& report) {
  rendezvous::ClientConfig config;
  config.server = rendezvous_server;
  config.identity = rendezvous::Identity::generate(rendezvous::system_random_bytes());
  if (!o.server_key.empty()) config.pinned_server_key = rendezvous::parse_public_key(o.server_key);
  config.listening = false;
  const Endpoint any{rendezvous_server.address.is_v4() ? IpAddress::v4({0, 0, 0, 0}) : IpAddress::v6({}), 0};
  auto client = io::RendezvousClientRunner::open(any, config, to_fallback(o.streams));
  if (!client) {
    error = client.error();
    return {};
  }
  if (auto registered = (*client)->wait_registered(timeout, stop.predicate()); !registered) {
    error = "rendezvous " + rendezvous_server.to_string() + ": " + registered.error();
    // Told not to register over a stream: say so when that is what stands in the way.
    if (o.streams.no_fallback && registered.error().rfind("no answer", 0) == 0 && !stop.requested()) {
      if (auto stream = rendezvous_stream_answering(rendezvous_server, o.streams.tcp_port, o.streams.tls_port,
                                                    stop.predicate())) {
        udp_blocked = true;
        error = "UDP is blocked on this network: no answer over UDP from the rendezvous " +
                rendezvous_server.to_string() + ", but it answers over TCP at " + stream->to_string() +
                "; drop --no-stream-fallback to register over TCP/TLS";
      }
    }
    return {};
  }
  const auto stream = (*client)->stream_transport();
  report["rendezvous_transport"] = stream ? std::string(turn::to_string(*stream)) : std::string("udp");
  if (stream) {
    udp_blocked = true;
    std::cerr << "no answer over UDP from the rendezvous " << rendezvous_server.to_string() << ": registered over "
              << turn::to_string(*stream) << "; trying the offered relays over TCP and TLS only\n";
  }
  auto offer = (*client)->wait_turn_offer(timeout, stop.predicate());
  if (!offer) {
    error = "rendezvous " + rendezvous_server.to_string() + " offered no TURN relay: " + offer.error();
    return {};
  }
  std::vector<Endpoint> addresses;
  for (const auto& server : offer->servers) addresses.push_back(server.address);
  Rng rng(io::os_random_seed());
  std::vector<std::size_t> order;
  if (stream) {  // UDP is blocked: a Binding would only time out
    for (std::size_t i = 0; i < addresses.size(); ++i) order.push_back(i);
  } else if (auto ports = io::UdpPorts::open(any)) {
    turn::RelayRanking ranking(addresses, policy_within(std::min<Duration>(timeout, seconds(2))), rng, Clock::now());
    io::run_machine(ranking, **ports, [&] { return ranking.done() || stop.requested(); }, io::ignore_events);
    for (const auto& ranked : ranking.ranking()) order.push_back(ranked.index);
  } else {
    for (std::size_t i = 0; i < addresses.size(); ++i) order.push_back(i);
  }
  std::vector<Candidate> out;
  for (const std::size_t i : order) {
    const rendezvous::TurnServer& server = offer->servers[i];
    const turn::Credentials credentials{server.username, server.password};
    const auto wanted = [&](turn::Transport t) { return (!o.tcp && !o.tls) || (o.tcp == (t == turn::Transport::kTcp) && o.tls == (t == turn::Transport::kTls)); };
    if ((server.transports & rendezvous::kTurnUdp) && wanted(turn::Transport::kUdp) && !stream)
      out.push_back({server.address, server.name, {}, turn::Transport::kUdp, credentials});
    if ((server.transports & rendezvous::kTurnTcp) && wanted(turn::Transport::kTcp))
      out.push_back({server.address, server.name, {}, turn::Transport::kTcp, credentials});
    if ((server.transports & rendezvous::kTurnTls) && wanted(turn::Transport::kTls)) {
      const std::string tls_name = !o.server_name.empty() ? o.server_name
                                   : !server.name.empty()  ? server.name
                                                           : server.address.address.to_string();
      out.push_back({Endpoint{server.address.address, server.tls_port}, server.name, tls_name, turn::Transport::kTls,
                     credentials});
    }
  }
  if (out.empty()) error = "rendezvous " + rendezvous_server.to_string() + " offered no TURN relay over " +
                           (o.tls ? "tls" : o.tcp ? "tcp" : stream ? "tcp or tls (UDP is blocked)" : "any transport");
  return out;
}

int run_allocate(const AllocateOptions& o) {
  const turn::Transport transport = o.tls ? turn::Transport::kTls : o.tcp ? turn::Transport::kTcp : turn::Transport::kUdp;
  const std::string& where = o.rendezvous.empty() ? o.server : o.rendezvous;
  const char* flag = o.rendezvous.empty() ? "--server" : "--rendezvous";
  const std::uint16_t default_port = o.rendezvous.empty() ? (o.tls ? kTurnsPort : kTurnPort) : 7000;
  auto host = parse_host_port(where, default_port);
  if (!host) {
    std::cerr << "error: " << flag << " " << where << ": " << host.error() << "\n";
    return kExitUsage;
  }
  auto resolved = io::resolve_udp(where, default_port);
  if (!resolved) {
    std::cerr << "error: " << flag << ": " << resolved.error() << "\n";
    return kExitUsage;
  }
  if (!o.server_key.empty() && !rendezvous::parse_public_key(o.server_key)) {
    std::cerr << "error: --server-key '" << o.server_key << "' is not a public key (64 hex digits)\n";
    return kExitUsage;
  }
  std::vector<Endpoint> peers;
  for (const auto& text : o.peers) {
    const auto peer = Endpoint::parse(text);
    if (!peer || peer->port == 0) {
      std::cerr << "error: --peer " << text << ": expected IP:PORT (e.g. 203.0.113.102:3480 or [2001:db8::2]:3480)\n";
      return kExitUsage;
    }
    peers.push_back(*peer);
  }
  std::optional<Endpoint> local;
  if (!o.local.empty()) local = *parse_bind_endpoint(o.local);
  const auto timeout = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(o.timeout_s));

  io::StopSignals stop;
  nlohmann::json report;
  const auto fail = [&](const std::string& message, int code) {
    std::cerr << "error: " << message << "\n";
    if (o.json) {
      report["error"] = message;
      std::cout << report.dump() << "\n";
    }
    return code;
  };

  std::vector<Candidate> candidates;
  if (o.rendezvous.empty()) {
    Candidate c;
    c.server = resolved->front();
    c.server_name = host->literal ? std::string() : host->host;
    c.tls_name = o.server_name.empty() ? host->host : o.server_name;
    c.transport = transport;
    if (!o.secret.empty()) {
      const auto minted = turn::mint_rest_credentials(o.secret, o.rest_id, unix_now(), std::chrono::seconds(o.ttl_s));
      if (!minted) {
        std::cerr << "error: --id " << o.rest_id << ": must not contain ':' or control characters\n";
        return kExitUsage;
      }
      c.credentials = minted->credentials;
    } else {
      c.credentials = {o.user, o.password};
    }
    candidates.push_back(c);
  } else {
    report["rendezvous"] = resolved->front().to_string();
    std::string error;
    bool udp_blocked = false;
    candidates = offered_candidates(o, resolved->front(), timeout, stop, error, udp_blocked, report);
    if (udp_blocked) report["udp_blocked"] = true;
    if (candidates.empty()) {
      if (stop.requested()) {
        report["interrupted"] = true;
        return fail("interrupted before the rendezvous offered a relay", kExitInterrupted);
      }
      return fail(error, kExitNoAnswer);
    }
  }

  // Each candidate in turn until one allocates: a clear line for each that
  // fails, never a hang (each gets --timeout to connect and to answer).
  std::unique_ptr<io::TurnClientRunner> runner_holder;
  std::optional<turn::client_event::Allocated> allocated;
  std::string tls;
  TimePoint started{};
  std::string error;
  report["attempts"] = nlohmann::json::array();
  for (std::size_t i = 0; i < candidates.size() && !allocated && !stop.requested(); ++i) {
    const Candidate& c = candidates[i];
    const turn::ClientConfig config = client_config(c, o, timeout);
    report["server"] = c.server.to_string();
    report["transport"] = std::string(turn::to_string(c.transport));
    io::TurnLinkOptions link_options;
    link_options.transport = c.transport;
    link_options.server = c.server;
    link_options.local = local;
    link_options.connect_timeout = timeout;
    link_options.tls.server_name = c.tls_name;
    link_options.tls.ca_file = o.ca_file;
    started = Clock::now();
    auto link = io::TurnLink::open(link_options);
    if (!link) {
      error = link.error();
      if (error.find("certificate not accepted") != std::string::npos)
        error += " (refused: trust the CA that signed it with --ca FILE; the name checked was " + c.tls_name +
                 ", see --server-name)";
    } else {
      tls = (*link)->tls_description();
      report["connect_ms"] = ms(Clock::now() - started);
      report["local"] = (*link)->local_endpoint().to_string();
      runner_holder = std::make_unique<io::TurnClientRunner>(std::move(*link), config, io::os_random_seed());
      turn::Client& client = runner_holder->client();
      client.allocate(Clock::now());
      error.clear();
      await(*runner_holder, timeout * 3 + seconds(1), stop.predicate(), [&](const turn::ClientEvent& e) -> std::optional<bool> {
        if (const auto* a = std::get_if<turn::client_event::Allocated>(&e)) {
          allocated = *a;
          return true;
        }
        if (const auto* f = std::get_if<turn::client_event::Failed>(&e)) {
          error = f->error.message;
          return false;
        }
        return std::nullopt;
      });
      if (!allocated && error.empty() && !stop.requested())
        error = client.server_label() + " did not finish the allocation in time";
    }
    if (!allocated && !error.empty()) {
      report["attempts"].push_back({{"server", c.server.to_string()},
                                    {"transport", std::string(turn::to_string(c.transport))},
                                    {"error", error}});
      if (i + 1 < candidates.size()) std::cerr << "note: " << error << "; trying the next relay\n";
    }
  }
  if (!allocated) {
    if (stop.requested()) {
      report["interrupted"] = true;
      return fail("interrupted before the allocation finished", kExitInterrupted);
    }
    return fail(error, kExitNoAnswer);
  }
  io::TurnClientRunner& runner = *runner_holder;
  turn::Client& client = runner.client();
  report["tls"] = tls.empty() ? nlohmann::json(nullptr) : nlohmann::json(tls);
  report["relayed"] = allocated->relayed.to_string();
  report["mapped"] = allocated->mapped ? nlohmann::json(allocated->mapped->to_string()) : nlohmann::json(nullptr);
  report["lifetime_s"] = allocated->lifetime_seconds;
  report["allocate_ms"] = ms(allocated->round_trip);
  report["password_algorithm"] =
      client.auth().algorithm() ? std::string(stun::to_string(*client.auth().algorithm())) : std::string("MD5 (RFC 5389)");
  if (!o.json) {
    std::cout << "server:   " << client.server_label() << (tls.empty() ? "" : " (" + tls + ")") << "\n"
              << "relayed:  " << allocated->relayed.to_string() << "   (peers send here)\n"
              << "mapped:   " << (allocated->mapped ? allocated->mapped->to_string() : std::string("-"))
              << "   (this host as the server sees it)\n"
              << "lifetime: " << allocated->lifetime_seconds << " s; allocated in " << ms(allocated->round_trip)
              << " ms after the challenge\n";
  }

  // Peers: a channel each (which also permits the address), then traffic.
  std::vector<PeerReport> reports;
  bool any_echo_missing = false;
  for (const Endpoint& peer : peers) {
    if (stop.requested() || client.done()) break;
    PeerReport r;
    r.peer = peer;
    const TimePoint asked = Clock::now();
    r.channel = client.bind_channel(asked, peer);
    const bool bound = r.channel && await(runner, timeout * 3 + seconds(1), stop.predicate(), [&](const turn::ClientEvent& e) -> std::optional<bool> {
      if (const auto* b = std::get_if<turn::client_event::ChannelBound>(&e); b && b->peer == peer) return true;
      if (const auto* f = std::get_if<turn::client_event::RequestFailed>(&e); f && f->peer == peer) {
        r.error = f->error.message;
        return false;
      }
      if (const auto* f = std::get_if<turn::client_event::Failed>(&e)) {
        r.error = f->error.message;
        return false;
      }
      return std::nullopt;
    });
    r.bind_ms = ms(Clock::now() - asked);
    if (!bound) {
      if (r.error.empty()) r.error = "no answer to the channel binding";
      r.channel.reset();
      any_echo_missing = true;
      reports.push_back(r);
      continue;
    }
    const auto size = static_cast<std::size_t>(o.size);
    if (o.count > 0) r.pings = ping_peer(runner, peer, o.count, size, std::max<Duration>(timeout / 4, milliseconds(500)), stop);
    if (o.flood_s > 0 && !stop.requested() && !client.done()) {
      r.flood = flood_peer(runner, peer, std::chrono::duration_cast<Duration>(std::chrono::duration<double>(o.flood_s)),
                           size, static_cast<std::size_t>(o.window), stop);
      if (!r.flood->error.empty()) r.error = r.flood->error;
    }
    if (!r.pings.error.empty()) r.error = r.pings.error;
    const std::uint64_t echoes = r.pings.received + (r.flood ? r.flood->received : 0);
    const std::uint64_t sent = r.pings.sent + (r.flood ? r.flood->sent : 0);
    if (sent > 0 && echoes == 0 && r.error.empty() && !stop.requested())
      r.error = "no echo came back through the relay (does the peer echo? turnutils_peer does)";
    if (!r.error.empty()) any_echo_missing = true;
    reports.push_back(r);
  }

  if (o.hold_s > 0 && !stop.requested() && !client.done()) {
    if (!o.json)
      std::cout << "holding the allocation for " << o.hold_s << " s (refreshed as needed; Ctrl-C ends it)\n"
                << std::flush;
    const TimePoint until = Clock::now() + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(o.hold_s));
    runner.run([&] { return stop.requested() || Clock::now() >= until; },
               [&](const turn::ClientEvent& event) {
                 if (const auto* f = std::get_if<turn::client_event::Failed>(&event)) error = f->error.message;
               });
  }

  // A refresh now (proves the credentials still hold), then delete.
  bool refreshed = false;
  if (!stop.requested() && !client.done()) {
    client.refresh(Clock::now());
    refreshed = await(runner, timeout * 3 + seconds(1), stop.predicate(), [&](const turn::ClientEvent& e) -> std::optional<bool> {
      if (std::holds_alternative<turn::client_event::Refreshed>(e)) return true;
      if (const auto* f = std::get_if<turn::client_event::Failed>(&e)) {
        error = f->error.message;
        return false;
      }
      return std::nullopt;
    });
  }
  bool deallocated = false;
  if (!client.done()) {
    client.close(Clock::now());
    deallocated = await(runner, timeout + seconds(1), [] { return false; }, [&](const turn::ClientEvent& e) -> std::optional<bool> {
      if (std::holds_alternative<turn::client_event::Deallocated>(e)) return true;
      return std::nullopt;
    });
  }

  // Time to first byte: connecting (TCP, TLS), allocating (with its 401),
  // binding the first peer's channel, its first echo.
  std::optional<TimePoint> first_echo;
  if (!reports.empty()) first_echo = reports.front().pings.first_echo;
  report["first_echo_ms"] = first_echo ? nlohmann::json(ms(*first_echo - started)) : nlohmann::json(nullptr);
  report["peers"] = nlohmann::json::array();
  for (const auto& r : reports) report["peers"].push_back(to_json(r, static_cast<std::size_t>(o.size)));
  report["refreshed"] = refreshed;
  report["deallocated"] = deallocated;
  report["interrupted"] = stop.requested();
  report["error"] = error.empty() ? nlohmann::json(nullptr) : nlohmann::json(error);
  if (o.json) {
    std::cout << report.dump() << "\n";
  } else {
    for (const auto& r : reports) print_peer(r, static_cast<std::size_t>(o.size));
    if (first_echo) std::cout << "first echo " << ms(*first_echo - started) << " ms after connecting began\n";
    std::cout << "refresh:  " << (refreshed ? "ok" : "not done") << "\n"
              << "deallocated: " << (deallocated ? "yes" : "no (it expires at the server)") << "\n";
  }
  if (stop.requested()) return kExitInterrupted;
  if (!error.empty()) {
    std::cerr << "error: " << error << "\n";
    return kExitNoAnswer;
  }
  return any_echo_missing ? kExitNoAnswer : kExitOk;
}

int run_credentials(const CredentialOptions& o) {
  const auto minted = turn::mint_rest_credentials(o.secret, o.id, unix_now(), std::chrono::seconds(o.ttl_s));
  if (!minted) {
    std::cerr << "error: --id " << o.id << ": must not contain ':' or control characters\n";
    return kExitUsage;
  }
  if (o.json) {
    std::cout << nlohmann::json{{"username", minted->credentials.username},
                                {"password", minted->credentials.password},
                                {"expires_unix", minted->expires_unix},
                                {"ttl_s", o.ttl_s}}
                     .dump()
              << "\n";
  } else {
    std::cout << "username: " << minted->credentials.username << "\n"
              << "password: " << minted->credentials.password << "\n"
              << "expires:  in " << o.ttl_s << " s (Unix time " << minted->expires_unix << ")\n";
  }
  return kExitOk;
}

}  // namespace

void add_turn_command(CLI::App& app, int& exit_code) {
  auto* turn = app.add_subcommand("turn", "Use a TURN relay server (coturn, RFC 8656): allocate, relay, mint credentials");
  turn->require_subcommand(1);
  turn->footer(
      "TURN relays UDP for hosts whose NAT or firewall defeats hole punching, over UDP, TCP or TLS\n"
      "(TLS on port 443 or 5349 gets through networks that block UDP). Run `natpunch turn SUBCOMMAND --help`.");

  auto options = std::make_shared<AllocateOptions>();
  auto* allocate = turn->add_subcommand(
      "allocate", "Allocate a relayed address, relay datagrams to echoing peers and time them, refresh, deallocate");
  auto* server = allocate->add_option("--server", options->server,
                                      "TURN server HOST[:PORT] (default port 3478, 5349 with --tls)")
                     ->check(server_address(kTurnPort));
  auto* rendezvous = allocate->add_option(
      "--rendezvous", options->rendezvous,
      "Instead of --server and credentials: register at this natpunch rendezvous HOST[:PORT] (default port 7000), "
      "take the TURN relays and credentials it offers, and allocate on the nearest that works (by a Binding round "
      "trip; each over UDP, then TCP, then TLS, as offered; --tcp / --tls: only that one)");
  rendezvous->check(server_address(7000))->excludes(server);
  allocate->add_option("--server-key", options->server_key, "With --rendezvous: pin its key (64 hex digits it prints)")
      ->needs(rendezvous);
  // With --rendezvous: where UDP is blocked, register over its TCP/TLS listeners.
  add_rendezvous_stream_options(*allocate, options->streams);
  auto* secret = allocate
                     ->add_option("--secret", options->secret,
                                  "The server's static-auth-secret (coturn use-auth-secret): natpunch mints short-lived "
                                  "TURN REST API credentials from it")
                     ->envname("NATPUNCH_TURN_SECRET");
  allocate->add_option("--id", options->rest_id, "With --secret: the name in the minted username EXPIRY:ID")
      ->default_val("natpunch");
  allocate->add_option("--ttl", options->ttl_s, "With --secret: lifetime of the minted credentials in seconds")
      ->default_val(3600)
      ->check(CLI::Range(1, 86400 * 365));
  auto* user = allocate->add_option("--user", options->user, "Long-term credentials: username (with --password)");
  auto* password = allocate->add_option("--password", options->password, "Long-term credentials: password")
                       ->envname("NATPUNCH_TURN_PASSWORD");
  user->needs(password);
  password->needs(user);
  secret->excludes(user)->excludes(password);
  rendezvous->excludes(secret)->excludes(user)->excludes(password);
  auto* tcp = allocate->add_flag("--tcp", options->tcp, "Talk to the server over TCP (RFC 8656 framing)");
  auto* tls = allocate->add_flag("--tls", options->tls,
                                 "Talk to the server over TLS; its certificate must chain to a trusted CA (--ca) and "
                                 "name the server");
  tcp->excludes(tls);
  allocate->add_option("--ca", options->ca_file, "With --tls: PEM file of the CA to trust (default: the system's CAs)")
      ->check(CLI::ExistingFile)
      ->needs(tls);
  allocate->add_option("--server-name", options->server_name,
                       "With --tls: the name or IP address the certificate must carry (default: the --server host)")
      ->needs(tls);
  allocate->add_option("--peer", options->peers,
                       "IP:PORT of a peer that echoes datagrams (e.g. coturn's turnutils_peer); repeatable")
      ->take_all();
  allocate->add_option("--count", options->count, "Round trips per peer, one datagram at a time")
      ->default_val(3)
      ->check(CLI::Range(0, 100000));
  allocate->add_option("--size", options->size, "Bytes per datagram")
      ->default_val(100)
      ->check(CLI::Range(kMinDatagram, 65000));
  allocate->add_option("--flood", options->flood_s,
                       "Then send as fast as --window allows for this many seconds and report the echoed throughput")
      ->check(CLI::Range(0.0, 3600.0));
  allocate->add_option("--window", options->window, "With --flood: datagrams in flight at most")
      ->default_val(64)
      ->check(CLI::Range(1, 100000));
  allocate->add_option("--lifetime", options->lifetime_s, "Allocation lifetime to ask for, seconds (server caps it)")
      ->default_val(600)
      ->check(CLI::Range(1, 86400));
  allocate->add_option("--timeout", options->timeout_s,
                       "Seconds to wait for the server: connecting, and each request with its retransmissions")
      ->default_val(10)
      ->check(CLI::Range(0.1, 600.0));
  allocate->add_option("--hold", options->hold_s,
                       "Keep the allocation this many seconds before deallocating (refreshed as needed)")
      ->check(CLI::Range(0.0, 86400.0));
  allocate->add_option("--local", options->local, "Local IP:PORT to bind (default: any)")->check(bind_address());
  allocate->add_flag("--json", options->json, "Print one JSON object on stdout (for scripts)");
  allocate->footer(
      "With --server, either --secret (coturn's use-auth-secret; or NATPUNCH_TURN_SECRET in the environment, kept\n"
      "out of `ps`) or --user/--password (NATPUNCH_TURN_PASSWORD) is required. With --rendezvous the credentials\n"
      "come from the rendezvous (natpunch rendezvous --turn-server/--turn-secret); a relay that fails (no answer,\n"
      "an error, a certificate refused) is reported in one line and the next one is tried.\n"
      "Where UDP is blocked, --rendezvous registers over the rendezvous's TCP, then TLS listener\n"
      "(--rendezvous-tcp-port, --rendezvous-tls-port, --rendezvous-tls-ca) and tries the relays over TCP and TLS.\n"
      "Examples:\n"
      "  natpunch turn allocate --server turn.example.org --secret \"$SECRET\" --peer 198.51.100.20:3480\n"
      "  natpunch turn allocate --server 203.0.113.10 --tls --ca lab-ca.pem --user alice --password pw \\\n"
      "      --peer 203.0.113.102:3480 --count 10 --flood 5 --size 1000 --json\n"
      "  natpunch turn allocate --rendezvous 203.0.113.10:7000 --tls --ca lab-ca.pem --rendezvous-tls-ca lab-ca.pem \\\n"
      "      --peer 203.0.113.102:3480\n"
      "A peer for testing: `turnutils_peer -L 0.0.0.0 -p 3480` (coturn) echoes what it receives.\n"
      "Exit codes: 0 allocated (and every peer echoed), 1 server error / no answer / no echo, 2 bad arguments,\n"
      "130 interrupted (the allocation is deleted first).");
  allocate->callback([options, &exit_code] {
    if (options->server.empty() && options->rendezvous.empty()) {
      std::cerr << "error: give --server HOST[:PORT] (with credentials) or --rendezvous HOST[:PORT]\n";
      exit_code = kExitUsage;
      return;
    }
    if (options->rendezvous.empty() && options->secret.empty() && options->user.empty()) {
      std::cerr << "error: give credentials: --secret SECRET (TURN REST API) or --user NAME --password PASSWORD\n";
      exit_code = kExitUsage;
      return;
    }
    exit_code = run_allocate(*options);
  });

  auto credentials = std::make_shared<CredentialOptions>();
  auto* mint = turn->add_subcommand("credentials",
                                    "Mint TURN REST API credentials (username EXPIRY:ID, password "
                                    "base64(HMAC-SHA1(secret, username))) for a coturn with use-auth-secret");
  mint->add_option("--secret", credentials->secret, "The server's static-auth-secret")
      ->required()
      ->envname("NATPUNCH_TURN_SECRET");
  mint->add_option("--id", credentials->id, "Name in the username (no ':')")->default_val("natpunch");
  mint->add_option("--ttl", credentials->ttl_s, "Seconds the credentials stay valid")
      ->default_val(3600)
      ->check(CLI::Range(1, 86400 * 365));
  mint->add_flag("--json", credentials->json, "Print one JSON object on stdout");
  mint->footer(
      "Example:\n"
      "  natpunch turn credentials --secret \"$SECRET\" --id phone-1 --ttl 600\n"
      "Hand the pair to a client (any TURN client: browsers, ICE stacks, natpunch turn allocate --user/--password).");
  mint->callback([credentials, &exit_code] { exit_code = run_credentials(*credentials); });
}

}  // namespace natpunch::cli

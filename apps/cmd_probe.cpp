// `natpunch probe`: what this host's NAT does, learned the way listen and
// connect learn it at registration (issue 19 item 1): mapping and filtering
// behaviour, hairpinning and a small allocator sample, from the rendezvous
// itself (`natpunch rendezvous --stun-alt`) or any RFC 5780 STUN server,
// in well under a second; and what a peer would be told.
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "core/host_port.hpp"
#include "io/nat_knowledge_cache.hpp"
#include "io/nat_probe_runner.hpp"
#include "io/profile_files.hpp"
#include "io/resolver.hpp"
#include "io/stop_signals.hpp"
#include "nat/allocator_spec_text.hpp"
#include "nat/nat_knowledge_json.hpp"
#include "own_nat_options.hpp"
#include "rendezvous_reachability.hpp"
#include "rendezvous/nat_info_probe.hpp"

namespace natpunch::cli {

namespace {

constexpr std::uint16_t kDefaultRendezvousPort = 7000;
constexpr std::uint16_t kDefaultStunPort = 3478;

struct ProbeOptions {
  std::string rendezvous;
  std::string stun;
  std::string local;
  std::uint32_t samples = 8;
  bool no_hairpin = false;
  std::string profile;
  NatCacheOptions cache;
  bool refresh = false;
  bool json = false;
  // Where the rendezvous's TCP and TLS listeners are (as connect's
  // --rendezvous-tcp-port / --rendezvous-tls-port): asked when UDP gets no
  // answer, to tell a network that blocks UDP from a server that is down.
  std::uint16_t rendezvous_tcp_port = 0;
  std::uint16_t rendezvous_tls_port = 443;
};

nlohmann::json told_json(const rendezvous::NatInfo& info) {
  return {{"mapping", std::string(nat::to_string(info.mapping))},
          {"filtering", std::string(nat::to_string(info.filtering))},
          {"allocator", info.allocator ? nlohmann::json(nat::format_allocator_spec(*info.allocator))
                                       : nlohmann::json(nullptr)},
          {"carrier_profile", info.carrier_profile},
          {"pending_timeout_ms", info.pending_timeout_ms},
          {"idle_timeout_ms", info.idle_timeout_ms}};
}

std::string ms_text(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

int run(const ProbeOptions& o) {
  const bool through_rendezvous = !o.rendezvous.empty();
  if (through_rendezvous == !o.stun.empty()) {
    std::cerr << "error: say where to probe: --rendezvous HOST[:PORT] (a rendezvous started with --stun-alt) or "
                 "--stun HOST[:PORT] (an RFC 5780 STUN server), not both\n";
    return kExitUsage;
  }
  const std::string& name = through_rendezvous ? o.rendezvous : o.stun;
  auto servers = io::resolve_udp(name, through_rendezvous ? kDefaultRendezvousPort : kDefaultStunPort);
  if (!servers) {
    std::cerr << "error: " << (through_rendezvous ? "--rendezvous" : "--stun") << ": " << servers.error() << "\n";
    return kExitUsage;
  }
  io::NatProbeRunOptions options;
  options.server = servers->front();
  if (!o.local.empty()) {
    auto bind = parse_bind_endpoint(o.local);
    if (!bind) {
      std::cerr << "error: --local: " << bind.error() << "\n";
      return kExitUsage;
    }
    if (bind->address.family() != options.server.address.family()) {
      std::cerr << "error: --local " << o.local << " and the server " << options.server.to_string()
                << " are of different address families\n";
      return kExitUsage;
    }
    options.bind = *bind;
  }
  std::optional<nat::Profile> profile;
  if (auto failed = load_profile_option(o.profile, profile)) return *failed;
  options.samples = o.samples;
  options.test_hairpinning = !o.no_hairpin;
  const io::NatCachePolicy cache = nat_cache_policy(o.cache);

  io::StopSignals stop;
  options.should_stop = stop.predicate();
  if (!o.json)
    std::cerr << "probing the NAT through " << options.server.to_string() << " (" << o.samples
              << " sample sockets)..." << std::endl;
  auto learned = io::learn_nat(options, cache, o.refresh);
  if (!learned) {
    std::cerr << "error: " << learned.error() << "\n";
    return kExitNoAnswer;
  }
  if (learned->cache_error) std::cerr << "warning: " << *learned->cache_error << "\n";
  const nat::NatKnowledge& k = learned->knowledge;

  rendezvous::NatInfo told;
  rendezvous::apply_knowledge(k, told);
  std::vector<std::string> disagreements;
  if (profile) {
    if (auto problem = rendezvous::refine_with_profile(*profile, k, told, disagreements)) {
      std::cerr << "error: --profile: " << problem->to_string() << "\n";
      return kExitUsage;
    }
  }

  // No STUN answer: a network that blocks UDP (the rendezvous answers over
  // TCP only), a rendezvous without --stun-alt (it answers its own
  // messages over UDP), or no server there; one line that says which.
  std::optional<std::string> no_answer;
  std::optional<bool> udp_blocked;
  if (!k.no_answer) udp_blocked = false;
  if (k.no_answer && !learned->interrupted) {
    const std::string server = options.server.to_string();
    if (!through_rendezvous) {
      no_answer = "no STUN answer from " + server + ": is the server running, and is UDP allowed?";
    } else if (rendezvous_answers_over_udp(options.server, options.should_stop)) {
      udp_blocked = false;
      no_answer = "no STUN answer from " + server + ", though the rendezvous answers over UDP: start it with "
                  "--stun-alt to let peers probe their NAT";
    } else if (stop.requested()) {
      // interrupted: no verdict
    } else if (auto stream = rendezvous_stream_answering(options.server, o.rendezvous_tcp_port,
                                                         o.rendezvous_tls_port, options.should_stop)) {
      udp_blocked = true;
      no_answer = "UDP is blocked on this network: no answer over UDP from " + server + ", but the rendezvous "
                  "answers over TCP at " + stream->to_string() + "; a NAT cannot be probed without UDP (connect "
                  "and listen register over TCP/TLS and relay)";
    } else if (!stop.requested()) {
      no_answer = "no answer from the rendezvous " + server + " over UDP (STUN or its own messages) or TCP: is "
                  "it running (with --stun-alt), and is UDP allowed?";
    }
  }
  const bool interrupted = learned->interrupted || (k.no_answer && !no_answer);

  if (o.json) {
    auto j = nlohmann::json::parse(nat::to_json(k));
    j["udp_blocked"] = udp_blocked ? nlohmann::json(*udp_blocked) : nlohmann::json(nullptr);
    if (no_answer) j["error"] = *no_answer;
    j["local"] = learned->local.to_string();
    j["cached"] = learned->cached;
    j["interrupted"] = interrupted;
    j["told"] = told_json(told);
    j["disagreements"] = disagreements;
    std::cout << j.dump() << std::endl;
  } else if (!interrupted && !no_answer) {
    std::cout << "mapping:      " << nat::to_string(k.mapping) << "\n"
              << "filtering:    " << nat::to_string(k.filtering) << "\n"
              << "NAT type:     " << nat::to_string(nat::classic_type(k.mapping, k.filtering)) << "\n"
              << "hairpinning:  " << nat::to_string(k.hairpinning) << "\n"
              << "ports:        " << nat::to_string(k.allocator.kind);
    if (k.allocator.spec) std::cout << " (" << nat::format_allocator_spec(*k.allocator.spec) << ")";
    if (k.allocator.mappings > 0)
      std::cout << ", " << k.allocator.mappings << " mappings at " << k.allocator.lowest << "-" << k.allocator.highest;
    std::cout << "\n";
    if (!k.allocator.why.empty()) std::cout << "              " << k.allocator.why << "\n";
    std::cout << "mapped:       " << (k.mapped ? k.mapped->to_string() : "-") << " (local " << learned->local.to_string()
              << ")\n"
              << "server:       " << (k.server ? k.server->to_string() : options.server.to_string()) << "\n"
              << "took:         " << ms_text(k.took) << (learned->cached ? " (earlier: from the NAT cache)" : "")
              << "\n"
              << "told to peers: " << nat::to_string(told.mapping) << " mapping, " << nat::to_string(told.filtering)
              << " filtering, allocator "
              << (told.allocator ? nat::format_allocator_spec(*told.allocator) : std::string("unknown"))
              << (told.carrier_profile.empty() ? "" : ", carrier " + told.carrier_profile) << "\n";
    if (!k.note.empty()) std::cout << "note:         " << k.note << "\n";
  }
  for (const auto& d : disagreements) std::cerr << "warning: " << d << "\n";
  if (interrupted) {
    if (!o.json) std::cerr << "interrupted\n";
    return kExitInterrupted;
  }
  if (no_answer) {
    std::cerr << "error: " << *no_answer << "\n";
    return kExitNoAnswer;
  }
  return kExitOk;
}

}  // namespace

void add_probe_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ProbeOptions>();
  auto* cmd = app.add_subcommand(
      "probe",
      "Learn what this host's NAT does, as listen/connect do at registration: mapping and filtering behaviour, "
      "hairpinning and a small port-allocation sample, in well under a second");
  cmd->add_option("--rendezvous", o->rendezvous,
                  "Rendezvous server HOST[:PORT] (default port 7000) started with --stun-alt: it answers the probe")
      ->check(server_address(kDefaultRendezvousPort));
  cmd->add_option("--stun", o->stun, "Or any RFC 5780 STUN server HOST[:PORT] (default port 3478), e.g. "
                                     "`natpunch stun-server --alt`")
      ->check(server_address(kDefaultStunPort));
  cmd->add_option("--local", o->local, "Local IP:PORT for the first socket (default: any address, random port)")
      ->check(bind_address());
  cmd->add_option("--samples", o->samples,
                  "Fresh sockets whose mappings sample the port allocator (more: surer, and more mappings taken)")
      ->default_val(8)
      ->check(CLI::Range(1, 64));
  cmd->add_option("--rendezvous-tcp-port", o->rendezvous_tcp_port,
                  "With --rendezvous: when UDP gets no answer, see whether its TCP listener on this port answers "
                  "(default: the UDP port), to say that UDP is blocked rather than the server down");
  cmd->add_option("--rendezvous-tls-port", o->rendezvous_tls_port,
                  "... and its TLS listener on this port (0: not asked)")
      ->capture_default_str();
  cmd->add_flag("--no-hairpin", o->no_hairpin, "Skip the hairpinning test");
  cmd->add_option("--profile", o->profile,
                  "A carrier profile (NAME or FILE) to refine what was measured: what peers would be told with "
                  "`connect --profile`");
  add_nat_cache_options(*cmd, o->cache);
  cmd->add_flag("--refresh", o->refresh, "Probe even when the cache knows the NAT (and update it)");
  cmd->add_flag("--json", o->json, "Print one JSON object on stdout (for scripts)");
  cmd->footer(
      "Examples:\n"
      "  natpunch rendezvous --listen 203.0.113.10:7000 --stun-alt 203.0.113.11:7001   # on the server\n"
      "  natpunch probe --rendezvous 203.0.113.10:7000\n"
      "  natpunch probe --stun 203.0.113.10:3478 --json\n"
      "\"ports\" is what a handful of mappings can tell: preserving (the local port kept), in-order\n"
      "(sequential, or blocks consumed in order: told as block:N only once a block ran out), clustered\n"
      "(within a few dozen ports, any order), random (over a range), or not-translated (no NAT).\n"
      "A --profile adds what a probe cannot learn (timeouts, the carrier, the exact allocator) and never\n"
      "overrides a measurement; disagreements are printed as warnings.\n"
      "Probing needs UDP: on a network that blocks it, probe says so in one line (\"udp_blocked\": true\n"
      "under --json) when the rendezvous answers over TCP instead.\n"
      "Exit codes: 0 learned, 1 no STUN answer (or no socket), 2 bad arguments, 130 interrupted.");
  cmd->callback([o, &exit_code] { exit_code = run(*o); });
}

}  // namespace natpunch::cli

// `natpunch learn --rendezvous HOST:PORT --identity FILE --peers KEY,KEY,...`:
// this process is one peer of a training run across real NATs. Every peer
// gets the same key list and seed, so all of them derive the same split,
// the same initial model, the same central baseline and disjoint shares of
// the data (its share: its key's rank in the sorted list). It registers at
// the rendezvous, opens one natpunch Session to every other peer (the lower
// key connects, the higher listens: io/learning_mesh.hpp), waits briefly at
// a start barrier for the others, then runs the decentralised averaging
// (learn/averaging_peer.hpp) over those sessions (io/session_ports.hpp)
// and reports its accuracy per round next to the central model's, and what
// every link carried.
#include "learn_over_sessions.hpp"

#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "commands.hpp"
#include "io/dataset_file.hpp"
#include "io/learning_csv.hpp"
#include "io/learning_driver.hpp"
#include "io/learning_mesh.hpp"
#include "io/profile_files.hpp"
#include "io/rendezvous_identity_file.hpp"
#include "io/session_ports.hpp"
#include "io/stop_signals.hpp"
#include "learn/peer_group.hpp"
#include "nat/nat_behavior.hpp"
#include "rendezvous/messages.hpp"

namespace natpunch::cli {
namespace {

std::string fixed(double value, int decimals) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(decimals) << value;
  return s.str();
}

std::string percent(double accuracy) { return fixed(100.0 * accuracy, 1); }
std::string short_key(const std::string& key) { return key.substr(0, 12); }
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// What one link carried, for the report.
struct LinkReport {
  std::size_t peer = 0;
  std::string key;
  learn::LinkRole role = learn::LinkRole::Connect;
  std::string route = "none";  // direct, relay, gone (closed by the peer), none (never opened)
  std::string strategy;
  std::string rendezvous_transport;  // how this side reached the rendezvous for it (udp, tcp, tls)
  std::string error;
  double open_seconds = 0;
  bool heard_at_start = false;
  SessionStats stats;
  std::uint64_t lost() const { return stats.sent_lost + stats.received_lost; }
};

// Turns --profile / --mapping / --filtering into what the session tells the
// peer; the session fills in from the profile what the flags leave unknown.
std::optional<std::string> describe_nat(const LearnSessionOptions& o, NatDescription& nat) {
  if (!o.profile.empty()) {
    auto profile = io::load_profile_by_name(o.profile, io::default_profile_directories());
    if (!profile) return "--profile: " + profile.error().to_string();  // said now, not once per session
    nat.carrier_profile = o.profile;
  }
  const auto mapping = parse_nat_behavior(o.mapping);
  const auto filtering = parse_nat_behavior(o.filtering);
  if (!mapping || !filtering)
    return std::string("--mapping/--filtering take none, endpoint-independent, address-dependent, "
                       "address-and-port-dependent or unknown");
  nat.mapping = *mapping;
  nat.filtering = *filtering;
  return std::nullopt;
}

nlohmann::json round_json(const learn::RoundRecord& r, double central, Clock::time_point training_started) {
  return {{"round", r.round},
          {"accuracy", r.accuracy},
          {"central", central},
          {"bytes_sent", r.bytes_sent},
          {"time_s", std::chrono::duration<double>(r.finished - training_started).count()},
          {"timed_out", r.timed_out},
          {"neighbours_complete", r.neighbours_complete},
          {"neighbours_partial", r.neighbours_partial},
          {"neighbours_silent", r.neighbours_silent},
          {"chunks_received", r.chunks_received}};
}

nlohmann::json link_json(const LinkReport& l) {
  nlohmann::json j{{"peer", l.peer},
                   {"key", l.key},
                   {"role", learn::to_string(l.role)},
                   {"route", l.route},
                   {"strategy", l.strategy},
                   {"rendezvous_transport", l.rendezvous_transport},
                   {"open_s", l.open_seconds},
                   {"heard_at_start", l.heard_at_start},
                   {"bytes_sent", l.stats.bytes_sent},
                   {"bytes_received", l.stats.bytes_received},
                   {"datagrams_sent", l.stats.datagrams_sent},
                   {"datagrams_received", l.stats.datagrams_received},
                   {"sent_direct", l.stats.sent_direct},
                   {"sent_relay", l.stats.sent_relay},
                   {"received_direct", l.stats.received_direct},
                   {"received_relay", l.stats.received_relay},
                   {"sent_lost", l.stats.sent_lost},
                   {"received_lost", l.stats.received_lost},
                   {"datagrams_lost", l.lost()},
                   {"path_deaths", l.stats.path_deaths},
                   {"rtt_ms", l.stats.rtt ? nlohmann::json(std::chrono::duration<double, std::milli>(*l.stats.rtt).count())
                                          : nlohmann::json(nullptr)}};
  if (!l.error.empty()) j["error"] = l.error;
  return j;
}

void print_links(std::ostream& out, const std::vector<LinkReport>& links) {
  out << "\nLinks (this peer's side)\n"
      << "peer  key           role     route   strategy              open s   sent B      recv B      dgrams out/in    lost\n";
  std::uint64_t sent = 0, received = 0;
  for (const auto& l : links) {
    out << std::left << std::setw(6) << l.peer << std::setw(14) << short_key(l.key) << std::setw(9) << learn::to_string(l.role)
        << std::setw(8) << l.route << std::setw(22) << (l.strategy.empty() ? "-" : l.strategy.substr(0, 21)) << std::right
        << std::setw(6) << fixed(l.open_seconds, 1) << "  " << std::setw(10) << l.stats.bytes_sent << "  " << std::setw(10)
        << l.stats.bytes_received << "  " << std::setw(7) << l.stats.datagrams_sent << "/" << std::left << std::setw(8)
        << l.stats.datagrams_received << std::right << std::setw(6) << l.lost() << "\n";
    if (!l.error.empty()) out << "      " << l.error << "\n";
    sent += l.stats.bytes_sent;
    received += l.stats.bytes_received;
  }
  out << "Total: " << sent << " B sent, " << received << " B received over " << links.size() << " link(s)\n";
}

}  // namespace

int run_learn_over_sessions(const LearnSessionOptions& o, learn::SimulationConfig config) {
  const auto wall_start = Clock::now();
  // Ctrl-C / SIGTERM: the stage we are in ends (preparing the data finishes first), and the report says
  // what was measured (exit 130).
  io::StopSignals stop;
  if (sodium_init() < 0) {
    std::cerr << "error: libsodium failed to initialise\n";
    return kExitNoAnswer;
  }
  if (o.identity_file.empty()) {
    std::cerr << "error: --identity FILE is required with --rendezvous: the other peers know this peer by its key\n"
                 "(create one and print the key with `natpunch keygen --identity FILE`)\n";
    return kExitUsage;
  }
  auto identity = io::load_or_create_identity(o.identity_file);
  if (!identity) {
    std::cerr << "error: " << identity.error() << "\n";
    return kExitUsage;
  }
  const std::string own_key = rendezvous::to_hex(identity->identity.public_key);
  auto group = learn::make_peer_group(o.peers, own_key);
  if (!group) {
    std::cerr << "error: --peers: " << group.error() << "\n";
    return kExitUsage;
  }
  SessionOptions session;
  session.rendezvous = o.rendezvous;
  session.server_key = o.server_key;
  session.identity_file = o.identity_file;
  session.wait = seconds(o.wait_s);
  session.hole_punch_time = milliseconds(o.hole_punch_ms);
  session.punch_timeout = milliseconds(o.punch_timeout_ms);
  session.force_relay = o.force_relay;
  session.open_early = !o.wait_direct;  // by default each link carries data from the pairing, on the relay
  to_session_options(o.stream, session);
  if (auto problem = describe_nat(o, session.nat)) {
    std::cerr << "error: " << *problem << "\n";
    return kExitUsage;
  }

  auto data = io::load_dataset_file(o.data);
  if (!data) {
    const bool names_path = data.error().kind == learn::DatasetErrorKind::Unreadable;
    std::cerr << "error: " << (names_path ? "" : o.data + ": ") << learn::describe(data.error()) << "\n";
    return kExitUsage;
  }
  config.peers = group->size();
  if (data->size() < 10 * config.peers) {
    std::cerr << "error: " << data->size() << " samples are too few for " << config.peers << " peers\n";
    return kExitUsage;
  }

  const std::function<bool()> should_stop = stop.predicate();
  const auto interrupted = [&] { return stop.requested(); };
  const std::size_t self = group->self;
  const auto say = [&](const std::string& line) {
    if (!o.quiet) std::cerr << line << std::endl;
  };
  say("peer " + std::to_string(self) + " of " + std::to_string(group->size()) + " (key " + short_key(own_key) +
      "...); preparing the data and the central baseline (seed " + std::to_string(config.seed) + ")");
  const learn::LearningSetup setup = learn::prepare_learning(*data, config);
  const double central_final = setup.central_accuracy.empty() ? 0.0 : setup.central_accuracy.back();

  session.should_stop = should_stop;

  say("registering at " + o.rendezvous + ", opening " + std::to_string(group->size() - 1) + " session(s)");
  auto mesh = io::open_learning_mesh(*group, session, [&](std::size_t peer, const std::string& line) {
    say(peer == self ? "  " + line : "  peer " + std::to_string(peer) + ": " + line);
  });

  std::vector<LinkReport> links;
  std::vector<std::unique_ptr<Session>> sessions(group->size());
  std::vector<learn::Neighbour> neighbours;
  std::vector<std::size_t> reached;
  for (auto& link : mesh) {
    LinkReport report;
    report.peer = link.peer;
    report.key = group->keys[link.peer];
    report.role = link.role;
    report.error = link.error;
    report.open_seconds = std::chrono::duration<double>(link.open_time).count();
    if (link.session) {
      const bool punching = link.session->stats().upgrading;
      report.route = to_string(link.session->route());
      report.strategy = link.session->info().strategy;
      report.rendezvous_transport = link.session->info().rendezvous_transport;
      neighbours.push_back(learn::Neighbour{link.peer, kMaxSessionPayload, {}});
      reached.push_back(link.peer);
      sessions[link.peer] = std::move(link.session);
      say("  peer " + std::to_string(link.peer) + ": " + report.route + " after " + fixed(report.open_seconds, 1) + " s" +
          (punching ? " (open at the pairing; punching goes on)" : ""));
    } else {
      say("  peer " + std::to_string(link.peer) + ": no session: " + report.error);
    }
    links.push_back(std::move(report));
  }

  io::SessionPorts transport(std::move(sessions));
  // Starts at the first timer: the driver runs it at once.
  learn::AveragingPeer peer(setup.averaging, neighbours, learn::select_rows(setup.train, setup.shares[self]), setup.initial,
                            learn::peer_rng(config.seed, self), kTimeZero, &setup.test,
                            learn::StartBarrier{reached, milliseconds(o.start_wait_ms)});
  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto rounds = setup.averaging.rounds;
  if (!o.json)
    std::cout << "Peer " << self << " of " << group->size() << " (key " << short_key(own_key) << "...): " << peer.samples()
              << " training samples, " << setup.test.size() << " test; " << rounds << " rounds of " << setup.averaging.local_epochs
              << " epoch(s); " << reached.size() << " of " << group->size() - 1 << " neighbours reached\n"
              << "\nround  central  this peer  neighbours complete/partial/silent  sent (KB)\n"
              << std::flush;
  Clock::time_point training_started = Clock::now();
  io::DriverOutcome outcome;
  if (!reached.empty() && !interrupted()) {
    io::LearningDriverOptions driver;
    driver.should_stop = should_stop;
    driver.on_waiting = [&](std::size_t heard, std::size_t of) {
      say("start barrier: heard " + std::to_string(heard) + " of " + std::to_string(of) + " neighbours");
    };
    driver.on_round = [&](const learn::RoundRecord& r) {
      const double central = setup.central_accuracy[r.round - 1];
      if (!o.json)
        std::cout << std::setw(5) << r.round << "  " << std::setw(7) << percent(central) << "  " << std::setw(8)
                  << percent(r.accuracy) << (r.timed_out ? "t" : " ") << "  " << std::setw(13) << r.neighbours_complete << "/"
                  << r.neighbours_partial << "/" << r.neighbours_silent << "  " << std::setw(9)
                  << fixed(double(r.bytes_sent) / 1000.0, 1) << "\n"
                  << std::flush;
      if (!o.quiet)
        std::cerr << (tty ? "\r" : "") << "round " << r.round << "/" << rounds << ": " << percent(r.accuracy) << " % (central "
                  << percent(central) << " %)" << (tty ? "" : "\n") << std::flush;
    };
    training_started = Clock::now();  // the start barrier's, a few hundred ms at most when everyone is there
    outcome = io::run_averaging_peer(peer, transport, driver);
    if (tty && !o.quiet) std::cerr << "\n";
  }
  // Each session opened at the pairing, on the relay, and its first punch
  // may outlast a short training: wait for every link's (bounded by
  // --punch-timeout-ms like the punch itself) before reporting and closing,
  // so the report gives the route each punch settled on, as connect does.
  std::vector<std::optional<SessionStats>> settled(group->size());
  if (!interrupted()) {
    if (!o.quiet) say("waiting for the links' punches to end");
    const auto bound = Clock::now() + milliseconds(o.punch_timeout_ms) + seconds(o.punch_timeout_ms > 0 ? 5 : o.wait_s);
    for (bool waiting = true; waiting && !interrupted() && Clock::now() < bound;) {
      waiting = false;
      for (const auto& link : links) {
        const Session* session = transport.session(link.peer);
        if (!session || settled[link.peer]) continue;
        auto stats = session->stats();
        if (!stats.upgrading || stats.peer_closed)
          settled[link.peer] = stats;
        else
          waiting = true;
      }
      if (waiting) std::this_thread::sleep_for(milliseconds(5));
    }
  }
  for (auto& link : links) {
    link.heard_at_start = link.route != "none" && std::find(outcome.not_heard.begin(), outcome.not_heard.end(), link.peer) ==
                                                      outcome.not_heard.end();
    if (auto stats = transport.stats(link.peer)) {
      link.stats = *stats;
      link.route = transport.route(link.peer);
      if (const auto& s = settled[link.peer]; s && !s->upgrading) {
        link.route = to_string(s->route);  // where the first punch took the session
      } else if (link.route == "gone") {
        // The route most of the traffic took, when the session ended elsewhere.
        link.route = stats->sent_direct >= stats->sent_relay ? "direct" : "relay";
      }
      link.strategy = stats->strategy;  // the first punch's (the session opened at the pairing, on the relay)
    }
  }
  const bool was_interrupted = interrupted() || outcome.stopped;
  const auto& history = peer.history();
  const double final_accuracy = history.empty() ? 0.0 : history.back().accuracy;
  const double central_at_end = history.empty() ? central_final : setup.central_accuracy[history.size() - 1];
  const double gap = 100.0 * (central_at_end - final_accuracy);
  std::uint64_t total_sent = 0, total_received = 0;
  for (const auto& l : links) {
    total_sent += l.stats.bytes_sent;
    total_received += l.stats.bytes_received;
  }

  if (!o.csv.empty() &&
      !io::write_learning_csv(o.csv, setup.central_accuracy, {{"peer" + std::to_string(self), &history}})) {
    std::cerr << "error: cannot write " << o.csv << "\n";
    return kExitNoAnswer;
  }
  if (o.json) {
    nlohmann::json rounds_json = nlohmann::json::array();
    for (const auto& r : history) rounds_json.push_back(round_json(r, setup.central_accuracy[r.round - 1], training_started));
    nlohmann::json links_json = nlohmann::json::array();
    for (const auto& l : links) links_json.push_back(link_json(l));
    const auto& a = setup.averaging;
    nlohmann::json j{
        {"mode", "sessions"},
        {"self", {{"index", self}, {"key", own_key}, {"samples", peer.samples()}}},
        {"peers", group->size()},
        {"keys", group->keys},
        {"model", {{"kind", a.shape.hidden == 0 ? "logistic" : "mlp"}, {"parameters", a.shape.parameter_count()},
                   {"encoding", learn::to_string(a.encoding)}}},
        {"config", {{"rounds", a.rounds}, {"local_epochs", a.local_epochs}, {"learning_rate", a.sgd.learning_rate},
                    {"batch", a.sgd.batch_size}, {"partition", learn::to_string(config.partition)}, {"seed", config.seed},
                    {"round_timeout_ms", std::chrono::duration<double, std::milli>(a.round_timeout).count()}}},
        {"train_size", setup.train.size()},
        {"test_size", setup.test.size()},
        {"central", {{"accuracy", setup.central_accuracy}, {"final_accuracy", central_final}}},
        {"rounds", rounds_json},
        {"rounds_done", history.size()},
        {"final_accuracy", final_accuracy},
        {"gap_points", gap},
        {"links", links_json},
        {"total", {{"bytes_sent", total_sent}, {"bytes_received", total_received}}},
        {"training_seconds", seconds_since(training_started)},  // from the start barrier on
        {"wall_seconds", seconds_since(wall_start)},
        {"interrupted", was_interrupted}};
    std::cout << j.dump(2) << std::endl;
  } else {
    if (std::any_of(history.begin(), history.end(), [](const learn::RoundRecord& r) { return r.timed_out; }))
      std::cout << "(t: the round ended by the timeout: a neighbour was silent)\n";
    std::cout << "\n";
    if (history.empty()) std::cout << "No round finished.\n";
    else
      std::cout << "This peer: " << percent(final_accuracy) << " % after " << history.size() << " round(s); central model "
                << percent(central_at_end) << " % (" << fixed(-gap, 1) << " pp)\n";
    print_links(std::cout, links);
    std::cout << "Wall time " << fixed(seconds_since(wall_start), 1) << " s (training " << fixed(seconds_since(training_started), 1)
              << " s)" << (was_interrupted ? "; interrupted" : "") << "\n";
  }
  if (was_interrupted) return kExitInterrupted;
  if (reached.empty()) {
    std::cerr << "error: no session to any other peer could be opened; is every peer running with the same --peers list "
                 "and the rendezvous reachable?\n";
    return kExitNoAnswer;
  }
  if (o.expect_within && gap > *o.expect_within) {
    std::cerr << "this peer ended " << fixed(gap, 1) << " pp below the central model (allowed " << *o.expect_within << ")\n";
    return kExitNoAnswer;
  }
  return kExitOk;
}

}  // namespace natpunch::cli

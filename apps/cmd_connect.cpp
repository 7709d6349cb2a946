// `natpunch listen`, `natpunch connect` and `natpunch keygen`: two peers
// meet at a rendezvous server, punch a direct UDP path with the strategy
// their NATs call for (or fall back to the server's relay), and prove the
// route by exchanging one authenticated test datagram, or pipe stdin/stdout
// over it with --stdio. This file is a client of the public API
// (natpunch/session.hpp: natpunch::connect / listen / open_listener): it
// turns options into SessionOptions and reports what happened; what the
// two peers say to each other is the library's too (io/session_exchange.hpp,
// io/session_measure.hpp).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <mutex>
#include <natpunch/session.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <sodium.h>
#include <sstream>
#include <thread>

#include "commands.hpp"
#include "own_nat_options.hpp"
#include "rendezvous_stream_options.hpp"
#include "turn_route_options.hpp"
#include "core/time.hpp"
#include "io/rendezvous_identity_file.hpp"
#include "io/session_exchange.hpp"
#include "io/session_measure.hpp"
#include "io/stop_signals.hpp"
#include "rendezvous/crypto.hpp"

namespace natpunch::cli {

namespace {

constexpr std::uint16_t kDefaultRendezvousPort = 7000;

using io::kPeerDoesNotMeasure;
using io::kPeerMeasures;
using io::MeasureOptions;
using io::MeasureResult;
using io::run_measurement;
using io::serve_measurement;

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
  std::string profile;  // carrier profile id or file: fills NatInfo
  bool no_nat_probe = false;  // tell only what the flags say
  NatCacheOptions nat_cache;
  bool force_relay = false;
  bool wait_direct = false;  // return only when punching ended (no data from the pairing)
  bool open_early = false;   // the old opt-in, now the default: accepted, does nothing
  TurnRouteOptions turn;
  int wait_s = 60;
  int hole_punch_ms = 2000;
  int punch_timeout_ms = 10000;
  std::uint64_t probe_budget = 170000;
  int send_interval_us = 2980;
  std::uint32_t sockets = 256;
  int test_timeout_ms = 5000;
  bool json = false;
  bool stdio = false;
  int idle_timeout_ms = 0;     // own NAT's established idle timeout, if measured
  bool no_keepalive = false;   // tests: show what the keepalives are for
  int keepalive_reply_ms = 2000;  // a keepalive unanswered this long is a miss
  int keepalive_misses = 3;       // misses in a row: the direct path is dead
  int measure_s = 0;           // --measure: RTT + throughput instead of the test datagram
  double measure_mbit = 0;
  int sessions = 1;            // listen: callers to serve concurrently (0: until Ctrl-C)
  // When UDP to the rendezvous gets no answer: TCP, then TLS.
  RendezvousStreamOptions stream;
};

const char* role_name(Role role) { return role == Role::Listen ? "listen" : "connect"; }

template <class Rep, class Period>
double to_ms(std::chrono::duration<Rep, Period> d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// What was learned about our NAT and what the peer is told.
nlohmann::json nat_result_json(const OwnNatReport& own) {
  nlohmann::json j{{"learned", own.learned}};
  if (own.learned) {
    j["cached"] = own.cached;
    j["mapping"] = to_string(own.learned_mapping);
    j["filtering"] = to_string(own.learned_filtering);
    j["ports"] = own.learned_ports;
    j["took_ms"] = to_ms(own.took);
  }
  j["told"] = {{"mapping", to_string(own.told_mapping)},
               {"filtering", to_string(own.told_filtering)},
               {"allocator", own.told_allocator.empty() ? nlohmann::json(nullptr) : nlohmann::json(own.told_allocator)},
               {"carrier_profile", own.carrier_profile},
               {"idle_timeout_ms", own.told_idle_timeout.count()}};
  j["notes"] = own.notes;
  return j;
}

std::string fixed(double value, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << value;
  return s.str();
}

// Session ids use all 64 bits: JavaScript's JSON readers round a number
// above 2^53, so the id also goes out as a decimal string.
void add_session_id(nlohmann::json& j, std::uint64_t session_id) {
  if (session_id == 0) {  // none yet (stopped before the rendezvous made one)
    j["session_id"] = nullptr;
    j["session_id_text"] = nullptr;
    return;
  }
  j["session_id"] = session_id;
  j["session_id_text"] = std::to_string(session_id);
}

nlohmann::json stats_json(const SessionStats& s) {
  nlohmann::json j{{"route", to_string(s.route)},
                   {"candidate_type", s.candidate_type},
                   {"address_family", s.address_family},
                   {"checks_sent", s.checks_sent},
                   {"datagrams_sent", s.datagrams_sent},
                   {"bytes_sent", s.bytes_sent},
                   {"datagrams_received", s.datagrams_received},
                   {"bytes_received", s.bytes_received},
                   {"sent_direct", s.sent_direct},
                   {"sent_relay", s.sent_relay},
                   {"received_direct", s.received_direct},
                   {"received_relay", s.received_relay},
                   {"sent_lost", s.sent_lost},
                   {"received_lost", s.received_lost},
                   {"duplicates_dropped", s.duplicates_dropped},
                   {"queue_dropped", s.queue_dropped},
                   {"send_failed", s.send_failed},
                   {"keepalives_sent", s.keepalives_sent},
                   {"keepalive_replies", s.keepalive_replies},
                   {"keepalive_interval_ms", s.keepalive_interval.count()},
                   {"path_deaths", s.path_deaths},
                   {"repunches", s.repunches},
                   {"repunches_succeeded", s.repunches_succeeded},
                   {"repunch_probes", s.repunch_probes},
                   {"path_switches", s.path_switches},
                   {"path_challenges", s.path_challenges},
                   {"rejected", s.rejected},
                   {"probes_rejected", s.probes_rejected},
                   {"peer_endpoint_changes", s.peer_endpoint_changes},
                   {"peer_closed", s.peer_closed},
                   {"route_text", route_text(s)},
                   {"sent_turn", s.sent_turn},
                   {"received_turn", s.received_turn}};
  if (!s.relay.empty()) j["relay"] = s.relay;
  if (s.rtt) j["rtt_ms"] = std::chrono::duration<double, std::milli>(*s.rtt).count();
  if (s.time_to_direct) j["time_to_direct_ms"] = std::chrono::duration<double, std::milli>(*s.time_to_direct).count();
  if (!s.peer_endpoint.empty()) j["peer_endpoint"] = s.peer_endpoint;
  return j;
}

double ms_of(std::chrono::microseconds d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Did the session open on the direct path (the punch connected before it
// opened: --wait-direct), or on the relay at the pairing (the default)?
// `first` is the stats as connect()/listen() returned: with the default the
// punch may already have moved it direct.
bool opened_direct(const SessionStats& first, const SessionInfo& info) {
  return first.route == SessionRoute::kDirect && first.time_to_direct && *first.time_to_direct <= info.time_to_first_byte;
}

// The route the session opened on: `first`, or, when it opened on the
// relay and the punch already moved it, that relay.
SessionStats opening_route(const SessionStats& first, const SessionInfo& info) {
  if (first.route != SessionRoute::kDirect || opened_direct(first, info)) return first;
  SessionStats s = first;
  s.route = SessionRoute::kRelay;
  s.peer_endpoint.clear();
  s.local_socket = 0;
  s.candidate_type = "relay";
  s.address_family = info.server.rfind('[', 0) == 0 ? "ipv6" : "ipv4";
  s.upgrading = true;
  s.time_to_direct.reset();
  return s;
}

// The route as it stands after the first punch (`settled`, the one a
// user asks about: did it go direct?), how the session opened (`first`:
// by default on the relay at the pairing) and the counters at the end
// (`last`).
nlohmann::json session_json(const Session& session, const SessionStats& first, const SessionStats& settled,
                            const SessionStats& last) {
  const auto& info = session.info();
  const bool direct = settled.route == SessionRoute::kDirect;
  const auto connect = settled.time_to_connect.value_or(info.time_to_connect);
  nlohmann::json j{{"peer", info.peer},
                   {"observed", info.observed},
                   {"peer_observed", info.peer_observed},
                   {"strategy", settled.strategy},
                   {"route", direct ? "direct" : "relay"},
                   {"first_route", opened_direct(first, info) ? "direct" : "relay"},
                   {"upgrading", settled.upgrading},
                   {"candidate_type", settled.candidate_type},
                   {"address_family", settled.address_family},
                   {"rendezvous_transport", info.rendezvous_transport},
                   {"time_to_connect_ms", ms_of(connect)},
                   {"time_to_connect_from", settled.time_to_connect_from},
                   {"time_to_first_byte_ms", ms_of(info.time_to_first_byte)},
                   {"probes_sent", settled.probes_sent},
                   {"session", stats_json(last)}};
  add_session_id(j, info.session_id);
  if (settled.time_to_direct) j["time_to_direct_ms"] = ms_of(*settled.time_to_direct);
  if (direct) {
    j["peer_endpoint"] = settled.peer_endpoint;
    j["local_socket"] = settled.local_socket;
  } else {
    j["stop_reason"] = settled.upgrading ? std::string("still punching") : settled.stop_reason;
  }
  // Where relayed data went last (the TURN route takes over a few round
  // trips after the session opened).
  j["route_text"] = route_text(last);
  if (!last.relay.empty()) j["relay"] = last.relay;
  return j;
}

// One line for a route: "direct 198.51.100.7:40211 (strategy hole-punch,
// srflx ipv4 candidate, local socket 0)" or "relay via SERVER".
std::string describe_route(const SessionStats& s, const std::string& server) {
  if (s.route == SessionRoute::kDirect)
    return "direct " + s.peer_endpoint + " (strategy " + s.strategy + ", " + s.candidate_type + " " +
           s.address_family + " candidate, local socket " + std::to_string(s.local_socket) + ")";
  return s.relay.empty() ? "relay via " + server : "relay (" + s.relay + ")";
}

// A route event (--json) or line: at the opening and at each change.
nlohmann::json route_event(const SessionStats& s, const SessionInfo& info, const char* why) {
  nlohmann::json j{{"event", "route"},
                   {"why", why},
                   {"route", s.route == SessionRoute::kDirect ? "direct" : "relay"},
                   {"route_text", route_text(s)},
                   {"candidate_type", s.candidate_type},
                   {"address_family", s.address_family},
                   {"strategy", s.strategy},
                   {"upgrading", s.upgrading},
                   {"time_to_first_byte_ms", ms_of(info.time_to_first_byte)}};
  if (s.time_to_direct) j["time_to_direct_ms"] = ms_of(*s.time_to_direct);
  if (!s.peer_endpoint.empty()) j["peer_endpoint"] = s.peer_endpoint;
  if (!s.relay.empty()) j["relay"] = s.relay;
  return j;
}

// What tells one route from another in a report: direct to where, relayed through what.
std::string route_key(const SessionStats& s) { return route_text(s) + " " + s.peer_endpoint; }

// Opened on the relay at the pairing (the default), the first punch and
// the candidate checks go on: wait for them to end (the session direct,
// or the plan over on the relay; bounded by --punch-timeout-ms and the
// probe budget like the punch itself), unless the peer closed (nothing to
// move to then) or Ctrl-C. Returns the stats then.
SessionStats wait_settled(Session& session, const std::function<bool()>& should_stop) {
  for (;;) {
    auto s = session.stats();
    if (!s.upgrading || s.peer_closed || (should_stop && should_stop())) return s;
    std::this_thread::sleep_for(milliseconds(2));
  }
}

// Reports route changes as they happen (a thread polling stats() every
// 2 ms): the move from the relay to the direct path, a better pair taking
// over, a lost path, TURN taking over the relay. Keeps the stats of the
// moment the first punch ended (settled()): the route the report gives,
// even when a --stdio or --measure session went on long after.
class RouteWatch {
 public:
  RouteWatch(Session& session, const SessionStats& first, std::function<void(const SessionStats&)> on_change)
      : session_(session), last_(route_key(first)), on_change_(std::move(on_change)) {
    if (!first.upgrading) settled_ = first;
    thread_ = std::thread([this] { run(); });
  }
  ~RouteWatch() { stop(); }
  RouteWatch(const RouteWatch&) = delete;
  RouteWatch& operator=(const RouteWatch&) = delete;
  // Reports a change not seen yet, then stops watching.
  void stop() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    thread_.join();
    check();
  }
  // Waits until the first punch ended, the peer closed (nothing to move
  // to then) or should_stop; the stats as the punch ended, else as they are.
  SessionStats wait_settled(const std::function<bool()>& should_stop) {
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (settled_) return *settled_;
      }
      auto s = session_.stats();
      if (s.peer_closed || (should_stop && should_stop())) return s;
      std::this_thread::sleep_for(milliseconds(2));
    }
  }

 private:
  void run() {
    while (!stopping_) {
      check();
      std::this_thread::sleep_for(milliseconds(2));
    }
  }
  void check() {
    const auto s = session_.stats();
    {
      std::lock_guard lock(mutex_);
      if (!settled_ && !s.upgrading) settled_ = s;
    }
    if (route_key(s) == last_) return;
    last_ = route_key(s);
    on_change_(s);
  }
  Session& session_;
  std::string last_;
  std::function<void(const SessionStats&)> on_change_;
  std::mutex mutex_;
  std::optional<SessionStats> settled_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// Progress lines on stderr; the identity (the line a script waits for)
// and what was learned about our NAT (the "nat" of the --json result) are
// kept for the report.
struct PeerReporter {
  PeerReporter(std::ostream& out, bool json_lines, bool several_sessions)
      : report(out), json(json_lines), quiet_punching(several_sessions) {}

  std::ostream& report;
  const bool json;
  const bool quiet_punching;  // several sessions: no periodic punching lines
  std::mutex mutex;           // report and stderr lines from several threads

  void progress(const SessionProgress& p) {
    std::lock_guard lock(mutex);
    switch (p.kind) {
      case SessionProgress::Kind::kIdentity:
        identity_ = p.message;
        if (json)
          report << nlohmann::json{{"event", "identity"}, {"identity", p.message}}.dump() << std::endl;
        else
          report << "identity: " << p.message << std::endl;
        return;
      case SessionProgress::Kind::kNatLearned:
        if (p.nat) nat_ = nat_result_json(*p.nat);
        break;
      case SessionProgress::Kind::kPunching:
        if (quiet_punching) return;
        break;
      default: break;
    }
    std::cerr << p.message << "\n";
  }
  std::string own_key() {
    std::lock_guard lock(mutex);
    return identity_;
  }
  std::optional<nlohmann::json> nat_json() {
    std::lock_guard lock(mutex);
    return nat_;
  }

 private:
  std::string identity_;
  std::optional<nlohmann::json> nat_;
};

// `listen --sessions N`: a natpunch::Listener serves N callers at once, each
// session on its own socket and thread (test datagram or --measure), each
// reported as it ends; 0 serves until Ctrl-C.
int serve_sessions(const PeerOptions& o, const SessionOptions& options, const std::vector<std::string>& allowed,
                   PeerReporter& out, const io::StopSignals& stop) {
  const auto process_start = Clock::now();
  const std::function<bool()> should_stop = stop.predicate();
  std::ostream& report = out.report;
  std::mutex& out_mutex = out.mutex;
  ListenerOptions listening;
  listening.spare_registrations = o.sessions == 0 ? 2u : static_cast<unsigned>(std::min(o.sessions, 2));
  listening.max_ready = 8;
  const unsigned spare = listening.spare_registrations;
  auto opened = natpunch::open_listener(options, allowed, listening);
  const std::string own_key = out.own_key();
  if (!opened) {
    // Ctrl-C before the first registration (e.g. while learning the NAT)
    // is an interruption like any other: the result event, exit 130.
    const bool interrupted = opened.error().kind == ErrorKind::kInterrupted || stop.requested();
    std::cerr << (interrupted ? "interrupted: " : "error: ") << opened.error().message << "\n";
    if (o.json)
      report << nlohmann::json{{"event", "result"},
                               {"role", "listen"},
                               {"identity", own_key.empty() ? nlohmann::json(nullptr) : nlohmann::json(own_key)},
                               {"sessions", 0},
                               {"sessions_ok", 0},
                               {"sessions_wanted", o.sessions},
                               {"interrupted", interrupted},
                               {"error", opened.error().message},
                               {"elapsed_ms", to_ms(Clock::now() - process_start)}}
                    .dump()
             << std::endl;
    if (interrupted) return kExitInterrupted;
    return opened.error().kind == ErrorKind::kBadInput ? kExitUsage : kExitNoAnswer;
  }
  Listener& listener = **opened;
  {
    std::lock_guard lock(out_mutex);
    std::cerr << "listening for " << (o.sessions == 0 ? std::string("callers until Ctrl-C") : std::to_string(o.sessions) + " caller(s)")
              << " (" << spare << " registration(s) waiting at a time)\n";
  }
  std::vector<std::thread> workers;
  std::atomic<int> served{0}, succeeded{0};
  int accepted = 0;
  // With a count, --wait bounds the wait for each next caller.
  TimePoint give_up = Clock::now() + seconds(o.wait_s);
  bool timed_out = false;
  while (o.sessions == 0 || accepted < o.sessions) {
    if (stop.requested()) break;
    if (o.sessions > 0 && Clock::now() >= give_up) {
      timed_out = true;
      break;
    }
    auto next = listener.accept(milliseconds(200));
    if (!next) {
      if (!stop.requested()) {
        std::lock_guard lock(out_mutex);
        std::cerr << "error: " << next.error().message << "\n";
      }
      break;
    }
    if (!*next) continue;
    const int index = ++accepted;
    give_up = Clock::now() + seconds(o.wait_s);
    workers.emplace_back([&, index, session = std::shared_ptr<Session>(std::move(next.value()))] {
      const auto first = session->stats();
      bool ok = false;
      std::optional<std::string> received;
      const char* mismatch = nullptr;  // the peer runs the other mode
      if (o.measure_s > 0) {
        (void)wait_settled(*session, should_stop);  // the caller measures the settled route
        const auto served = serve_measurement(*session, MeasureOptions{seconds(o.measure_s), o.measure_mbit}, should_stop);
        ok = served.served && !served.peer_not_measuring;
        if (served.peer_not_measuring) mismatch = kPeerDoesNotMeasure;
      } else {
        const auto exchanged =
            io::exchange_test_datagram(*session, "natpunch test from listen", milliseconds(o.test_timeout_ms), should_stop);
        received = exchanged.received;
        ok = received.has_value();
        if (exchanged.peer_measures) mismatch = kPeerMeasures;
      }
      const auto settled = wait_settled(*session, should_stop);
      if (o.measure_s == 0 && !mismatch && !settled.peer_closed)
        (void)io::await_peer_settled(*session, milliseconds(o.test_timeout_ms), should_stop);
      const auto last = session->stats();
      session->close();
      ++served;
      if (ok) ++succeeded;
      const auto& info = session->info();
      const double connect_ms = ms_of(settled.time_to_connect.value_or(info.time_to_connect));
      std::lock_guard lock(out_mutex);
      if (o.json) {
        auto j = session_json(*session, first, settled, last);
        j["event"] = "session";
        j["index"] = index;
        j["role"] = "listen";
        if (o.measure_s > 0) {
          j["measured"] = ok;
        } else {
          j["test_datagram"] = ok;
          if (received) j["received"] = *received;
        }
        if (mismatch) j["error"] = mismatch;
        report << j.dump() << std::endl;
      } else {
        if (mismatch) std::cerr << "error: session " << index << ": " << mismatch << "\n";
        report << "session " << index << ": peer " << info.peer.substr(0, 16) << ", route: ";
        if (settled.route == SessionRoute::kDirect)
          report << "direct " << settled.peer_endpoint << " (strategy " << settled.strategy << ")";
        else
          report << "relay via " << info.server << " (punching: "
                 << (settled.upgrading ? std::string("still punching") : settled.stop_reason) << ")";
        if (!opened_direct(first, info) && settled.route == SessionRoute::kDirect)
          report << ", opened on the relay, first byte after " << fixed(ms_of(info.time_to_first_byte), 1)
                 << " ms, direct after " << fixed(ms_of(settled.time_to_direct.value_or(std::chrono::microseconds{})), 1)
                 << " ms";
        if (route_text(last) != route_text(settled)) report << ", at the end: " << route_text(last);
        report << ", time-to-connect: " << fixed(connect_ms, 1) << " ms, " << settled.probes_sent << " probes";
        if (o.measure_s > 0)
          report << ", measure: " << (ok ? "served" : "the peer did not measure");
        else
          report << ", test datagram: " << (received ? "ok, received \"" + *received + "\"" : std::string("nothing received"));
        report << std::endl;
      }
    });
  }
  for (auto& w : workers) w.join();
  listener.close();
  const bool all_ok = served.load() == succeeded.load();
  const bool complete = o.sessions == 0 ? !timed_out : accepted >= o.sessions;
  if (o.json) {
    report << nlohmann::json{{"event", "result"},
                             {"role", "listen"},
                             {"identity", own_key},
                             {"sessions", served.load()},
                             {"sessions_ok", succeeded.load()},
                             {"sessions_wanted", o.sessions},
                             {"interrupted", stop.requested()},
                             {"elapsed_ms", to_ms(Clock::now() - process_start)}}
                  .dump()
           << std::endl;
  } else {
    report << "served " << served.load() << " session(s), " << succeeded.load() << " ok";
    if (timed_out) report << " (no further caller within " << o.wait_s << " s)";
    if (stop.requested()) report << " (interrupted)";
    report << std::endl;
  }
  if (stop.requested()) return kExitInterrupted;  // --sessions 0 included: Ctrl-C is how it ends
  return complete && all_ok && (served.load() > 0 || o.sessions == 0) ? kExitOk : kExitNoAnswer;
}

// PeerOptions -> the public API's SessionOptions: the one translation (the
// library checks the values it gets).
std::optional<SessionOptions> session_options(const PeerOptions& o) {
  SessionOptions s;
  s.rendezvous = o.rendezvous;
  s.server_key = o.server_key;
  s.identity_file = o.identity_file;
  const auto mapping = parse_nat_behavior(o.mapping);
  const auto filtering = parse_nat_behavior(o.filtering);
  if (!mapping || !filtering) {
    std::cerr << "error: --mapping/--filtering take none, endpoint-independent, address-dependent, "
                 "address-and-port-dependent or unknown\n";
    return std::nullopt;
  }
  // What we tell the peer about our NAT: what we learn at registration,
  // refined by a carrier profile (allocator, timeouts, carrier), with an
  // explicit --mapping/--filtering (not "unknown") or --idle-timeout-ms
  // over both.
  s.nat.mapping = *mapping;
  s.nat.filtering = *filtering;
  s.nat.carrier_profile = o.profile;
  s.nat.idle_timeout = milliseconds(o.idle_timeout_ms);
  s.nat.learn = !o.no_nat_probe;
  const auto cache = nat_cache_policy(o.nat_cache);
  s.nat.cache_file = cache.file.string();
  s.nat.cache_ttl = cache.ttl;
  s.wait = seconds(o.wait_s);
  s.hole_punch_time = milliseconds(o.hole_punch_ms);
  s.punch_timeout = milliseconds(o.punch_timeout_ms);
  s.probe_budget = o.probe_budget;
  s.send_interval = std::chrono::microseconds(o.send_interval_us);
  s.sockets = o.sockets;
  s.force_relay = o.force_relay;
  s.open_early = !o.wait_direct;
  s.keepalive = !o.no_keepalive;
  s.keepalive_reply_timeout = milliseconds(o.keepalive_reply_ms);
  s.keepalive_misses_for_dead = o.keepalive_misses;
  to_session_options(o.stream, s);
  to_session_options(o.turn, s);
  return s;
}

int run_peer(Role role, const PeerOptions& o) {
  const auto process_start = Clock::now();
  if (sodium_init() < 0) {
    std::cerr << "error: libsodium failed to initialise\n";
    return kExitNoAnswer;
  }
  if (role == Role::Listen && !o.accept_any && o.allow.empty()) {
    std::cerr << "error: say whom to accept: --accept-any or --allow PUBKEY (repeatable)\n";
    return kExitUsage;
  }
  auto options = session_options(o);
  if (!options) return kExitUsage;
  const std::vector<std::string> allowed = o.accept_any ? std::vector<std::string>{} : o.allow;

  // Ctrl-C / SIGTERM end the run cleanly wherever it is (learning the NAT,
  // registering, waiting for the peer, punching, the session): report so
  // far, the result event, exit 130; the registration is withdrawn on the
  // way out. Watched before the identity line, which tells a script we are up.
  io::StopSignals stop;
  const std::function<bool()> should_stop = stop.predicate();
  options->should_stop = should_stop;
  // With --stdio, stdout carries only the peer's data: reports go to stderr.
  PeerReporter out{o.stdio ? std::cerr : std::cout, o.json, role == Role::Listen && o.sessions != 1};
  options->on_progress = [&out](const SessionProgress& p) { out.progress(p); };
  if (role == Role::Listen && o.sessions != 1) return serve_sessions(o, *options, allowed, out, stop);
  std::ostream& report = out.report;
  bool interrupted = false;
  auto opened = role == Role::Connect ? natpunch::connect(*options, o.peer) : natpunch::listen(*options, allowed);
  const std::string own_key = out.own_key();
  const std::optional<nlohmann::json> nat_json = out.nat_json();
  if (!opened) {
    const auto& e = opened.error();
    // Nothing lost on Ctrl-C, wherever it came: say how far it got.
    const bool stopped = e.kind == ErrorKind::kInterrupted || stop.requested();
    const bool says_so = e.message.rfind("interrupted", 0) == 0;
    std::cerr << (stopped ? (says_so ? "" : "interrupted: ") : "error: ") << e.message << "\n";
    if (o.json) {
      nlohmann::json j{{"event", "result"},
                       {"role", role_name(role)},
                       {"identity", own_key.empty() ? nlohmann::json(nullptr) : nlohmann::json(own_key)},
                       {"interrupted", stopped},
                       {"error", stopped ? nlohmann::json(nullptr) : nlohmann::json(e.message)},
                       {"error_kind", to_string(e.kind)},
                       {"strategy", e.strategy},
                       {"probes_sent", e.probes_sent},
                       {"elapsed_ms", to_ms(Clock::now() - process_start)}};
      add_session_id(j, e.session_id);
      if (nat_json) j["nat"] = *nat_json;
      report << j.dump() << std::endl;
    }
    if (stopped) return kExitInterrupted;
    return e.kind == ErrorKind::kBadInput ? kExitUsage : kExitNoAnswer;
  }
  Session& session = **opened;
  const auto& info = session.info();
  const auto first = session.stats();
  const auto opening = opening_route(first, info);
  const auto say = [&](const std::string& line) {
    std::lock_guard lock(out.mutex);
    report << line << std::endl;
  };
  const auto say_json = [&](const nlohmann::json& j) { say(j.dump()); };
  // The route as the session opened: by default on the relay at the
  // pairing, the first punch still running behind it.
  if (o.json) {
    say_json(route_event(opening, info, "opened"));
  } else {
    std::string line = "route: " + describe_route(opening, info.server);
    if (opening.upgrading)
      line += " from the pairing (first byte after " + fixed(ms_of(info.time_to_first_byte), 1) +
              " ms); punching goes on (" + opening.strategy + ")";
    else if (opening.route != SessionRoute::kDirect)
      line += " (punching: " + opening.stop_reason + ")";
    say(line);
    say("rendezvous: " + info.server + " over " + info.rendezvous_transport);
    if (!opening.upgrading)
      say("time-to-connect: " + fixed(ms_of(opening.time_to_connect.value_or(info.time_to_connect)), 1) + " ms, " +
          std::to_string(opening.probes_sent) + " probes sent");
  }
  // Each later change as it happens: the move to the direct path (time to
  // direct), a better pair, a lost path, TURN taking over the relay.
  std::optional<RouteWatch> watch;
  watch.emplace(session, opening, [&](const SessionStats& s) {
    if (o.json) {
      say_json(route_event(s, info, s.route == SessionRoute::kDirect ? "direct" : "relay"));
      return;
    }
    std::string line = "route: " + describe_route(s, info.server);
    if (s.route == SessionRoute::kDirect && s.time_to_direct)
      line += " after " + fixed(ms_of(*s.time_to_direct), 1) + " ms from the pairing";
    say(line);
  });

  // --- prove the route (or pipe stdio over it)
  bool ok = false;
  std::optional<std::string> received;
  std::optional<MeasureResult> measured;
  const char* mismatch = nullptr;  // the peer runs the other mode (measure or not): both refuse
  bool peer_measures = false;
  std::optional<std::chrono::microseconds> received_after;
  if (o.measure_s > 0) {
    const MeasureOptions measure{seconds(o.measure_s), o.measure_mbit};
    // Measure the route the first punch settles on (both sides wait for
    // it), not the relay the session opened on.
    const auto route = watch->wait_settled(should_stop).route;
    if (role == Role::Connect) {
      std::cerr << "measuring for " << o.measure_s << " s over the " << to_string(route) << " route\n";
      measured = run_measurement(session, measure, should_stop);
      ok = measured && measured->report;
      if (measured && measured->peer_not_measuring) mismatch = kPeerDoesNotMeasure;
    } else {
      const auto served = serve_measurement(session, measure, should_stop);
      ok = served.served && !served.peer_not_measuring;
      if (served.peer_not_measuring) mismatch = kPeerDoesNotMeasure;
    }
    if (should_stop()) interrupted = true;
  } else if (o.stdio) {
    const auto piped = io::pipe_stream(session, STDIN_FILENO, STDOUT_FILENO, should_stop);
    ok = piped.complete;
    interrupted = piped.interrupted;
    peer_measures = piped.peer_measures;
  } else {
    const auto exchanged = io::exchange_test_datagram(session, std::string("natpunch test from ") + role_name(role),
                                                      milliseconds(o.test_timeout_ms), should_stop);
    received = exchanged.received;
    received_after = exchanged.received_after;
    interrupted = exchanged.interrupted;
    peer_measures = exchanged.peer_measures;
    ok = received.has_value();
  }
  if (peer_measures) mismatch = kPeerMeasures;
  if (mismatch) std::cerr << "error: " << mismatch << "\n";
  // The exchange is done (the first byte went over whatever route the
  // session had): the first punch still decides the route the report
  // gives, so wait for it.
  const auto settled = watch->wait_settled(should_stop);
  // Neither side closes while the other's punch may still connect: a
  // close would end it on the relay (measuring sides settled before).
  if (o.measure_s == 0 && !mismatch && !settled.peer_closed)
    (void)io::await_peer_settled(session, milliseconds(o.test_timeout_ms), should_stop);
  watch->stop();
  const auto last = session.stats();
  session.close();
  watch.reset();
  if (!o.json && opening.upgrading) {
    if (settled.route == SessionRoute::kDirect)
      report << "time to direct: " << fixed(ms_of(settled.time_to_direct.value_or(std::chrono::microseconds{})), 1)
             << " ms from the pairing (first byte: " << fixed(ms_of(info.time_to_first_byte), 1) << " ms, over the relay)\n";
    else
      report << "stayed on the relay (punching: "
             << (settled.upgrading ? std::string("still punching when the session ended") : settled.stop_reason)
             << ")" << (role == Role::Connect ? "; a longer session would retry with backoff" : "") << "\n";
    if (settled.time_to_connect)
      report << "time-to-connect: " << fixed(ms_of(*settled.time_to_connect), 1) << " ms from the "
             << settled.time_to_connect_from << ", " << settled.probes_sent << " probes sent\n";
  }
  if (!o.json && route_text(last) != route_text(settled)) report << "route at the end: " << route_text(last) << "\n";
  if (o.json) {
    auto j = session_json(session, first, settled, last);
    j["event"] = "result";
    j["role"] = role_name(role);
    j["identity"] = own_key;
    j["interrupted"] = interrupted || stop.requested();
    j["elapsed_ms"] = to_ms(Clock::now() - process_start);
    if (nat_json) j["nat"] = *nat_json;
    if (o.measure_s > 0) {
      j["measured"] = ok;
      if (measured) j["measure"] = measured->to_json();
    } else if (!o.stdio) {
      j["test_datagram"] = ok;
      if (received) j["received"] = *received;
      // From our session's opening to the peer's test datagram (sent as
      // its session opened): by default (opened at the pairing), the first
      // byte's trip over the relay.
      if (received_after) j["test_datagram_after_ms"] = std::chrono::duration<double, std::milli>(*received_after).count();
    }
    if (mismatch) j["error"] = mismatch;
    report << j.dump() << std::endl;
  } else if (mismatch) {
    // Said on stderr above; nothing was measured or exchanged.
  } else if (o.measure_s > 0) {
    if (measured) {
      const auto& m = *measured;
      report << "rtt: min " << fixed(m.rtt_min_ms, 3) << " ms, median " << fixed(m.rtt_median_ms, 3) << " ms, p99 "
             << fixed(m.rtt_p99_ms, 3) << " ms (" << m.pongs << " of " << m.pings << " pings answered)\n";
      if (m.report)
        report << "throughput: " << fixed(m.mbit_per_s, 1) << " Mbit/s one-way, loss " << fixed(m.loss_percent, 2)
               << " % (" << m.bulk_received << " of " << m.bulk_sent << " datagrams of " << kMaxSessionPayload
               << " bytes in " << fixed(m.bulk_seconds, 2) << " s)" << std::endl;
      else
        report << "throughput: the listener's count never came (is it running with --measure?)" << std::endl;
    } else if (role == Role::Listen) {
      report << "measure: " << (ok ? "served the peer's measurement" : "the peer did not measure") << std::endl;
    }
  } else if (!o.stdio) {
    if (received)
      std::cout << "test datagram: ok, received \"" << *received << "\" "
                << fixed(ms_of(received_after.value_or(std::chrono::microseconds{})), 1)
                << " ms after the session opened" << std::endl;
    else
      std::cout << "test datagram: nothing received within " << o.test_timeout_ms << " ms" << std::endl;
  }
  if (interrupted || stop.requested()) {
    std::cerr << "interrupted\n";
    return kExitInterrupted;
  }
  return ok ? kExitOk : kExitNoAnswer;
}

void add_shared_options(CLI::App& cmd, PeerOptions& o) {
  cmd.add_option("--rendezvous", o.rendezvous,
                 "Rendezvous server HOST:PORT (`natpunch rendezvous`; default port 7000), or several separated by "
                 "commas (the nodes of a cluster; every A/AAAA record of a name counts too): the client moves to the "
                 "next one when its server stops answering and registers there. Give a server's IPv4 and IPv6 "
                 "addresses (203.0.113.10:7000,[2001:db8::10]:7000, or a name with both records): an IPv6-only host "
                 "registers over IPv6, a dual-stack one over the first family listed (IPv4 first: it also learns "
                 "its IPv6 reflexive address, the srflx IPv6 candidate); failover stays within that family")
      ->required()
      ->check(server_address_list(kDefaultRendezvousPort));
  cmd.add_option("--identity", o.identity_file,
                 "Ed25519 identity file (created with mode 0600 if missing); without it a fresh identity per run");
  cmd.add_option("--server-key", o.server_key, "Pin the rendezvous server's key (64 hex digits it prints)");
  add_rendezvous_stream_options(cmd, o.stream);
  cmd.add_option("--mapping", o.mapping,
                 "Own NAT mapping behaviour, if known (none, endpoint-independent, address-dependent, "
                 "address-and-port-dependent, unknown); overrides what is learned at registration")
      ->default_val("unknown");
  cmd.add_option("--filtering", o.filtering, "Own NAT filtering behaviour, if known (same spellings)")
      ->default_val("unknown");
  cmd.add_option("--profile", o.profile,
                 "Own carrier profile: an id (kpn-nl, looked up in ./profiles and beside the binary) or a .json file. "
                 "Tells the peer our mapping, filtering, port allocator and timeouts, so it can predict our ports "
                 "(KPN's 256-port blocks); --mapping/--filtering other than unknown override it");
  cmd.add_flag("--no-nat-probe", o.no_nat_probe,
               "Do not learn our NAT at registration: tell the peer only what --mapping/--filtering/--profile say. "
               "By default the NAT's mapping, filtering and port allocation are learned from the rendezvous "
               "(started with --stun-alt) in about a second, once per local address; flags and a profile refine it");
  add_nat_cache_options(cmd, o.nat_cache);
  cmd.add_option("--wait", o.wait_s, "Seconds to wait for registration and the session")
      ->default_val(60)
      ->check(CLI::Range(1, kMaxWaitSeconds));
  cmd.add_option("--hole-punch-ms", o.hole_punch_ms,
                 "With an unknown NAT on either side, first try a plain hole punch this long (both sides must agree)")
      ->default_val(2000)
      ->check(CLI::Range(kMinHolePunchMs, kMaxHolePunchMs));
  cmd.add_option("--punch-timeout-ms", o.punch_timeout_ms,
                 "Give up punching (and use the relay) this long after the common start; 0: only the probe budget "
                 "(at the default rate: minutes)")
      ->default_val(10000)
      ->check(CLI::Range(0, 3600000));
  cmd.add_option("--probe-budget", o.probe_budget, "Probes per stage before falling back to the relay")
      ->default_val(170000);
  cmd.add_option("--send-interval-us", o.send_interval_us, "Microseconds between probes (the thesis's phones: 2980)")
      ->default_val(2980)
      ->check(CLI::Range(100, 1000000));
  cmd.add_option("--sockets", o.sockets, "Local sockets a many-socket strategy may open")
      ->default_val(256)
      ->check(CLI::Range(1, 4096));
  cmd.add_option("--idle-timeout-ms", o.idle_timeout_ms,
                 "Own NAT's idle timeout for an established mapping (`natpunch measure timeouts`), told to the peer: "
                 "keepalives go every half of the smaller of both sides' (default 120 s when neither knows)")
      ->default_val(0)
      ->check(CLI::Range(0, 86400000));
  cmd.add_option("--keepalive-reply-ms", o.keepalive_reply_ms,
                 "How long a keepalive waits for its reply before it counts as missed; with --keepalive-misses "
                 "it sets how fast a dead direct path is noticed (and the relay takes over)")
      ->default_val(2000)
      ->check(CLI::Range(50, 60000));
  cmd.add_option("--keepalive-misses", o.keepalive_misses, "Missed keepalives in a row that declare the direct path dead")
      ->default_val(3)
      ->check(CLI::Range(1, 100));
  cmd.add_flag("--no-keepalive", o.no_keepalive,
               "Send no keepalives on the direct path (tests: the NAT mapping then expires when idle)");
  cmd.add_flag("--force-relay", o.force_relay,
               "Do not punch: use the relay at once (testing, hostile networks); the peer is told and does not punch "
               "either");
  auto* wait_direct =
      cmd.add_flag("--wait-direct", o.wait_direct,
                   "Open the session only when punching ended (direct, or on the relay when it failed), as before "
                   "issue 19. By default the session opens over the relay as soon as the rendezvous pairs the peers "
                   "(data from the first round trip: time_to_first_byte ~0) and moves to the direct path the moment "
                   "one is proven; the report waits for the punch and gives both routes (first_route, route, "
                   "time_to_direct_ms; --json: a route event at each change)");
  cmd.add_flag("--open-early", o.open_early, "Accepted for old scripts, does nothing: opening early is the default")
      ->excludes(wait_direct);
  cmd.add_option("--test-timeout-ms", o.test_timeout_ms, "How long to wait for the peer's test datagram")
      ->default_val(5000)
      ->check(CLI::Range(1, 600000));
  cmd.add_flag("--stdio", o.stdio,
               "Instead of the test datagram, send stdin to the peer and print what it sends, until both inputs end "
               "(datagrams, no retransmission; the direct path drops late ones). stdout then carries only the peer's data, "
               "reports go to stderr");
  auto* measure = cmd.add_option("--measure", o.measure_s,
                                 "Instead of the test datagram, measure the route for SECONDS: RTT (min/median/p99 of "
                                 "ping-pong) then one-way throughput and loss (connect measures; listen needs --measure "
                                 "too and serves)")
                      ->default_val(0)
                      ->check(CLI::Range(0, 3600));
  cmd.add_option("--measure-mbit", o.measure_mbit, "Pace the throughput phase at this rate (0: as fast as possible)")
      ->default_val(0)
      ->check(CLI::Range(0.0, 100000.0));
  cmd.get_option("--stdio")->excludes(measure);
  cmd.add_flag("--json", o.json,
               "JSON lines on stdout: {\"event\":\"identity\",...} at once, {\"event\":\"result\",...} at the end");
  add_turn_route_options(cmd, o.turn);
}

constexpr const char* kPeerFooter =
    "Both sides register at the rendezvous, the caller asks for the listener's public key, and once the listener\n"
    "accepts both get a session (peer endpoint, NAT info, session key, common start time). The strategy follows\n"
    "both sides' NAT behaviour (hole punch, one-hard-side, birthday attacks); an unknown NAT first gets a short\n"
    "hole punch. The session is usable at once (data from the first round trip), over the server's relay, or a\n"
    "TURN server (--turn, or the relays the rendezvous offers) once both peers hear each other there; it moves\n"
    "to the direct path the moment one is proven (\"route: direct ... after N ms from the pairing\"), and the\n"
    "report waits for the punch to end (--wait-direct: open only then). Probes and data on every path are\n"
    "authenticated with the session key.\n"
    "Example (two terminals):\n"
    "  natpunch listen --rendezvous 203.0.113.10:7000 --accept-any          # prints identity: <hex>\n"
    "  natpunch connect --rendezvous 203.0.113.10:7000 --peer <hex>\n"
    "Several callers: natpunch listen ... --sessions 3 serves three at once (each its own session and socket).\n"
    "Through coturn: add --turn 203.0.113.20 --turn-secret \"$SECRET\" (or --turn-transport tls --turn-ca ca.pem)\n"
    "on either side; the result reports \"route: relay (TURN via 203.0.113.20:3478)\".\n"
    "connect keeps asking while the rendezvous does not know the peer yet, until --wait ends.\n"
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
  auto* sessions = listen->add_option("--sessions", lo->sessions,
                                      "Serve N callers concurrently, each in its own session on its own socket and "
                                      "registration, each reported (route, time to connect, test datagram) as it "
                                      "ends; 0: serve until Ctrl-C. --wait then bounds the wait for each next caller. "
                                      "The identity may connect elsewhere meanwhile (the rendezvous allows 16 "
                                      "registrations per identity by default)")
                       ->default_val(1)
                       ->check(CLI::Range(0, 100000));
  sessions->excludes(listen->get_option("--stdio"));
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

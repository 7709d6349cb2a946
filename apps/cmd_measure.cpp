// `natpunch measure timeouts|mtu|mappings|all SERVER`: measure the NAT in
// front of this host against a `natpunch measure-server`.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <variant>

#include "analyze/allocator_detect.hpp"
#include "analyze/profile_export.hpp"
#include "commands.hpp"
#include "core/rng.hpp"
#include "io/machine_driver.hpp"
#include "io/os_random.hpp"
#include "io/resolver.hpp"
#include "io/stop_signals.hpp"
#include "io/udp_ports.hpp"
#include "measure/mapping_collector.hpp"
#include "measure/mapping_sampler.hpp"
#include "measure/measured_profile.hpp"
#include "measure/mtu_search.hpp"
#include "measure/port_range.hpp"
#include "measure/timeout_measurement.hpp"
#include "nat/profile.hpp"
#include "natpunch/nat_discovery.hpp"

namespace natpunch::cli {

namespace {

using Json = nlohmann::ordered_json;

// Every measure subcommand's --help ends with its exit codes.
std::string measure_footer(const char* text) {
  return std::string(text) +
         "Exit codes: 0 measured, 1 the server did not answer (is `natpunch measure-server` running, UDP allowed?),\n"
         "2 bad option, address or --out file, 130 interrupted (Ctrl-C / SIGTERM: the results so far are printed).";
}
constexpr std::uint16_t kDefaultMeasurePort = 3479;

struct Common {
  std::string server;
  bool json = false;
};

struct TimeoutOptions {
  std::string method = "parallel";
  std::string which = "all";
  std::uint32_t max_timeout = 600;
  std::uint32_t parallel = 32;
  std::uint32_t pending_step = 20;
  std::uint32_t idle_step = 50;
  int copies = 2;
  int guard_ms = 250;
  int establish_ms = 3000;
};

struct MtuOptions {
  std::size_t max = 65507;
  int attempts = 3;
  int probe_timeout_ms = 1000;
};

struct MappingOptions {
  std::size_t count = 1000;
  double rate = 20;
  std::string ports = "40000-40099";
  std::string out;
};

struct AllOptions {
  std::string stun;
  std::string profile_out;
  std::string name = "measured";
  std::string country = "ZZ";
  bool skip_timeouts = false;
  std::size_t sample = 200;  // reflected mappings for the allocator (0: skip)
  double sample_rate = 20;
  std::string ports = "40000-40099";
};

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t steady_ms(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Resolves SERVER (HOST, HOST:PORT, IP:PORT; default port 3479).
std::optional<Endpoint> resolve_server(const std::string& text) {
  auto r = io::resolve_udp(text, kDefaultMeasurePort);
  if (!r || r->empty()) {
    std::cerr << "error: " << (r ? "no address for " + text : r.error()) << "\n";
    return std::nullopt;
  }
  return r->front();
}

IpAddress wildcard_for(const Endpoint& server) {
  return server.address.is_v4() ? IpAddress{} : *IpAddress::parse("::");
}

// Prints one stderr line at most every `every`, so progress never floods.
class Progress {
 public:
  explicit Progress(Duration every) : every_(every) {}
  bool due() {
    const auto now = Clock::now();
    if (last_ && now - *last_ < every_) return false;
    last_ = now;
    return true;
  }

 private:
  Duration every_;
  std::optional<TimePoint> last_;
};

Json search_json(const std::optional<measure::TimeoutSearchResult>& r) {
  if (!r) return nullptr;
  Json j;
  j["lower_s"] = r->lower_s ? Json(*r->lower_s) : Json(nullptr);
  j["upper_s"] = r->upper_s ? Json(*r->upper_s) : Json(nullptr);
  j["above_max"] = r->above_max;
  j["no_answer"] = r->no_answer;
  j["probes"] = r->probes;
  return j;
}

std::string search_text(const std::optional<measure::TimeoutSearchResult>& r, std::uint32_t max) {
  if (!r) return "not measured";
  if (r->no_answer || !r->lower_s) return "no answer (server unreachable or every probe lost)";
  if (r->above_max) return "more than " + std::to_string(max) + " s (raise --max-timeout)";
  if (*r->lower_s == 0) return "less than 1 s (even a 1 s wait failed)";
  std::string s = std::to_string(*r->lower_s) + " s";
  if (r->upper_s)
    s += " (mapping alive after " + std::to_string(*r->lower_s) + " s, gone after " + std::to_string(*r->upper_s) +
         " s)";
  return s;
}

struct LoopOutcome {
  bool interrupted = false;                // Ctrl-C / SIGTERM
  std::optional<std::string> first_error;  // first socket/send error, if any
};

// Runs a measurement machine on the one real-time loop over UDP sockets on
// the wildcard address of the server's family, until it is done or the
// stop signal comes (then the machine keeps what it measured so far).
// `progress` runs before every wait (the caller rate-limits its output).
template <class Machine, class OnEvent>
LoopOutcome run_measurement(Machine& machine, const Endpoint& server, const io::StopSignals& stop,
                            OnEvent&& on_event, const std::function<void()>& progress) {
  io::UdpPortsOptions options;
  options.max_datagram = 2048;   // the server's replies are small, never larger than their request
  options.socket_buffer = 1 << 20;  // a 65,507-byte MTU probe fits the send buffer whole
  auto ports = io::UdpPorts::open(Endpoint{wildcard_for(server), 0}, options);
  if (!ports) return LoopOutcome{false, ports.error()};
  (*ports)->wake_on(stop.wake_fd());
  io::run_machine(machine, **ports,
                  [&] {
                    if (progress) progress();
                    return machine.done() || !machine.next_deadline() || stop.requested();
                  },
                  on_event);
  if (progress) progress();
  return LoopOutcome{stop.requested(), (*ports)->first_error()};
}

struct TimeoutRun {
  measure::TimeoutMeasurementResult result;
  LoopOutcome outcome;
  TimePoint started;
};

TimeoutRun run_timeouts(const Endpoint& server, const TimeoutOptions& o, const io::StopSignals& stop) {
  measure::TimeoutMeasurementConfig config;
  config.method = o.method == "paper" ? measure::TimeoutMethod::Paper : measure::TimeoutMethod::Parallel;
  config.pending = o.which == "pending" || o.which == "both" || o.which == "all";
  config.idle = o.which == "idle" || o.which == "both" || o.which == "all";
  config.idle_after_one_reply = o.which == "idle-after-one-reply" || o.which == "all";
  config.max_timeout_s = o.max_timeout;
  config.parallel = o.parallel;
  config.pending_step_s = o.pending_step;
  config.idle_step_s = o.idle_step;
  config.prober.copies = o.copies;
  config.prober.guard = std::chrono::milliseconds(o.guard_ms);
  config.prober.establish_for = std::chrono::milliseconds(o.establish_ms);
  Rng rng(io::os_random_seed());
  measure::TimeoutMeasurement machine(server, config, static_cast<std::uint32_t>(rng.next_u64()));
  TimeoutRun run;
  run.started = Clock::now();
  Progress progress(seconds(5));
  const auto report_progress = [&] {
    if (!progress.due()) return;
    const auto elapsed = std::chrono::duration_cast<seconds>(Clock::now() - run.started).count();
    std::cerr << "timeouts: " << elapsed << " s elapsed, probes running: pending "
              << machine.running(measure::TimeoutKind::Pending) << ", idle "
              << machine.running(measure::TimeoutKind::Idle) << ", idle after one reply "
              << machine.running(measure::TimeoutKind::IdleAfterOneReply) << std::endl;
  };
  run.outcome = run_measurement(machine, server, stop, io::ignore_events, report_progress);
  run.result = machine.result();
  return run;
}

int cmd_timeouts(const Common& c, const TimeoutOptions& o) {
  auto server = resolve_server(c.server);
  if (!server) return kExitUsage;
  std::cerr << "measuring timeouts against " << server->to_string() << " (" << o.method
            << " method, up to " << o.max_timeout << " s; this takes about "
            << (o.method == "paper" ? "many times" : "twice") << " the longest timeout)" << std::endl;
  io::StopSignals stop;
  auto run = run_timeouts(*server, o, stop);
  const auto& r = run.result;
  if (c.json) {
    Json j;
    j["server"] = server->to_string();
    j["method"] = o.method;
    j["server_answered"] = r.server_answered;
    j["interrupted"] = run.outcome.interrupted;
    j["rtt_ms"] = std::chrono::duration<double, std::milli>(r.rtt).count();
    j["observed"] = r.server_answered ? Json(r.observed.to_string()) : Json(nullptr);
    j["max_timeout_s"] = o.max_timeout;
    j["pending"] = search_json(r.pending);
    j["idle"] = search_json(r.idle);
    j["idle_after_one_reply"] = search_json(r.idle_after_one_reply);
    j["datagrams_sent"] = r.datagrams_sent;
    j["elapsed_s"] = std::chrono::duration<double>(Clock::now() - run.started).count();
    std::cout << j.dump() << std::endl;
  } else if (r.server_answered) {
    std::cout << "server:          " << server->to_string() << " (rtt "
              << std::chrono::duration_cast<milliseconds>(r.rtt).count() << " ms, sees us as "
              << r.observed.to_string() << ")\n"
              << "pending timeout: " << search_text(r.pending, o.max_timeout) << "\n"
              << "idle timeout:    " << search_text(r.idle, o.max_timeout) << "\n";
    // The single-reply figure only where it tells something: a NAT that
    // keeps a mapping that saw one reply for less (or more) than a session's.
    if (r.idle_after_one_reply && (!r.idle || r.idle_after_one_reply->lower_s != r.idle->lower_s))
      std::cout << "idle after one reply: " << search_text(r.idle_after_one_reply, o.max_timeout)
                << (r.idle ? " (differs: this NAT times out a mapping that saw only one request and reply "
                             "differently from one that carried a conversation; keepalives follow the idle timeout)"
                           : "")
                << "\n";
    if (run.outcome.interrupted) std::cout << "(interrupted: bounds so far)\n";
  }
  if (run.outcome.interrupted) {
    std::cerr << "interrupted\n";
    return kExitInterrupted;
  }
  if (!r.server_answered) {
    std::cerr << "error: " << server->to_string()
              << " did not answer: is `natpunch measure-server` running there and UDP allowed?\n";
    return kExitNoAnswer;
  }
  return kExitOk;
}

struct MtuRun {
  measure::MtuSearchResult df;
  measure::MtuSearchResult fragmented;
  bool interrupted = false;
};

MtuRun run_mtu(const Endpoint& server, const MtuOptions& o, const io::StopSignals& stop) {
  MtuRun run;
  Rng rng(io::os_random_seed());
  for (auto fragmentation : {Fragmentation::DontFragment, Fragmentation::AllowFragments}) {
    measure::MtuSearchConfig config;
    config.high = o.max;
    config.attempts = o.attempts;
    config.timeout = std::chrono::milliseconds(o.probe_timeout_ms);
    config.fragmentation = fragmentation;
    measure::MtuSearch search(server, config, static_cast<std::uint32_t>(rng.next_u64()));
    const bool df = fragmentation == Fragmentation::DontFragment;
    Progress progress(seconds(2));
    const auto report_progress = [&] {
      if (progress.due() && !search.done())
        std::cerr << "mtu (" << (df ? "DF set" : "fragmentation allowed") << "): trying " << search.trying()
                  << " bytes" << std::endl;
    };
    auto outcome = run_measurement(search, server, stop, io::ignore_events, report_progress);
    (df ? run.df : run.fragmented) = search.result();
    if (outcome.interrupted) {
      run.interrupted = true;
      break;
    }
  }
  return run;
}

Json mtu_json(const measure::MtuSearchResult& r) {
  Json j;
  j["largest_payload"] = r.largest_ok ? Json(*r.largest_ok) : Json(nullptr);
  j["ip_mtu"] = r.largest_ok ? Json(*r.largest_ok + 28) : Json(nullptr);
  j["smallest_failed"] = r.smallest_fail ? Json(*r.smallest_fail) : Json(nullptr);
  j["local_limit"] = r.local_limit;
  j["probes"] = r.probes;
  return j;
}

int cmd_mtu(const Common& c, const MtuOptions& o) {
  auto server = resolve_server(c.server);
  if (!server) return kExitUsage;
  io::StopSignals stop;
  auto run = run_mtu(*server, o, stop);
  const bool any = run.df.largest_ok || run.fragmented.largest_ok;
  if (c.json) {
    Json j;
    j["server"] = server->to_string();
    j["df"] = mtu_json(run.df);
    j["fragmented"] = mtu_json(run.fragmented);
    j["jumbo"] = run.fragmented.largest_ok ? Json(*run.fragmented.largest_ok > 1472) : Json(nullptr);
    j["interrupted"] = run.interrupted;
    std::cout << j.dump() << std::endl;
  } else if (any) {
    const auto line = [](const measure::MtuSearchResult& r) {
      if (!r.largest_ok) return std::string("nothing arrived");
      return std::to_string(*r.largest_ok) + " bytes of UDP payload (IP MTU " + std::to_string(*r.largest_ok + 28) +
             ")" + (r.local_limit ? ", limited by this host's interface" : "");
    };
    std::cout << "path MTU (DF set):        " << line(run.df) << "\n"
              << "with fragmentation:       " << line(run.fragmented) << "\n"
              << "jumbo (> 1472 arrives):   "
              << (run.fragmented.largest_ok ? (*run.fragmented.largest_ok > 1472 ? "yes" : "no") : "unknown") << "\n";
    if (run.interrupted) std::cout << "(interrupted: sizes so far)\n";
  }
  if (run.interrupted) {
    std::cerr << "interrupted\n";
    return kExitInterrupted;
  }
  if (!any) {
    std::cerr << "error: " << server->to_string() << " never reported a size: is `natpunch measure-server` running?\n";
    return kExitNoAnswer;
  }
  return kExitOk;
}

struct MappingRun {
  std::size_t written = 0;
  std::size_t unsent = 0;  // packets that never left (socket or send error)
  bool interrupted = false;
  std::optional<std::string> error;
};

// Appends rows to `out` as they are sent, flushed per row: Ctrl-C keeps them.
MappingRun run_mappings(const Endpoint& server, const MappingOptions& o, const measure::PortRange& ports,
                        std::FILE* out, const io::StopSignals& stop) {
  Rng rng(io::os_random_seed());
  measure::MappingCollectorConfig config;
  config.server = server.address;
  config.server_ports = ports;
  config.count = o.count;
  config.rate_per_second = o.rate;
  measure::MappingCollector collector(config, rng);
  collector.set_wall_clock_offset_ms(wall_ms() - steady_ms(Clock::now()));
  MappingRun run;
  Progress progress(std::chrono::milliseconds(500));
  const auto write_row = [&](const measure::MappingCollectorEvent& e) {
    const auto* sent = std::get_if<measure::collection_event::Sent>(&e);
    if (!sent) return;
    const auto& row = sent->row;
    std::fprintf(out, "%s,%llu,%u,%u\n", wire::uuid_text(row.uuid).c_str(),
                 static_cast<unsigned long long>(row.send_time_ms), static_cast<unsigned>(row.local_port),
                 static_cast<unsigned>(row.server_port));
    std::fflush(out);
    ++run.written;
  };
  const auto report_progress = [&] {
    if (progress.due() || run.written == o.count) {
      const int width = 30;
      const auto filled = static_cast<int>(width * run.written / std::max<std::size_t>(1, o.count));
      std::cerr << "\rmappings [" << std::string(static_cast<std::size_t>(filled), '#')
                << std::string(static_cast<std::size_t>(width - filled), '.') << "] " << run.written << "/" << o.count
                << std::flush;
    }
  };
  auto outcome = run_measurement(collector, server, stop, write_row, report_progress);
  std::cerr << "\n";
  run.interrupted = outcome.interrupted;
  run.error = outcome.first_error;
  run.unsent = collector.unsent();
  return run;
}

int cmd_mappings(const Common& c, const MappingOptions& o) {
  auto server = resolve_server(c.server);
  if (!server) return kExitUsage;
  auto ports = measure::parse_port_range(o.ports);
  if (!ports) {
    std::cerr << "error: --ports '" << o.ports << "': " << ports.error() << "\n";
    return kExitUsage;
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> out(std::fopen(o.out.c_str(), "w"), &std::fclose);
  if (!out) {
    std::cerr << "error: cannot write --out '" << o.out << "': " << std::strerror(errno) << "\n";
    return kExitUsage;
  }
  std::fputs("uuid,time_ms,local_port,server_port\n", out.get());
  std::fflush(out.get());
  io::StopSignals stop;
  auto run = run_mappings(*server, o, *ports, out.get(), stop);
  if (c.json) {
    Json j;
    j["server"] = server->to_string();
    j["sent"] = run.written;
    j["unsent"] = run.unsent;
    j["out"] = o.out;
    j["interrupted"] = run.interrupted;
    j["error"] = run.error ? Json(*run.error) : Json(nullptr);
    std::cout << j.dump() << std::endl;
  } else {
    std::cout << "sent " << run.written << " collection packets" << (run.interrupted ? " (interrupted)" : "")
              << (run.unsent > 0 ? ", " + std::to_string(run.unsent) + " could not be sent (" + run.error.value_or("") + ")"
                                 : std::string())
              << "; client log: " << o.out << "\njoin with the server's log: natpunch analyze " << o.out
              << " SERVER_LOG\n";
  }
  if (run.interrupted) {
    std::cerr << "interrupted after " << run.written << " of " << o.count << " packets\n";
    return kExitInterrupted;
  }
  if (run.written == 0) {
    std::cerr << "error: nothing was sent" << (run.error ? ": " + *run.error : std::string()) << "\n";
    return kExitNoAnswer;
  }
  return kExitOk;
}

std::string today() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

int cmd_all(const Common& c, const TimeoutOptions& t, const MtuOptions& m, const AllOptions& a) {
  auto server = resolve_server(c.server);
  if (!server) return kExitUsage;
  if (a.country.size() != 2 || !std::isupper(static_cast<unsigned char>(a.country[0])) ||
      !std::isupper(static_cast<unsigned char>(a.country[1]))) {
    std::cerr << "error: --country must be an ISO 3166-1 alpha-2 code such as NL\n";
    return kExitUsage;
  }
  measure::MeasuredProfileInput in;
  in.name = a.name;
  in.country = a.country;
  in.source = "natpunch measure all against " + server->to_string() + ", " + today();
  Json report;
  report["server"] = server->to_string();
  if (!a.stun.empty()) {
    std::cerr << "NAT type via STUN " << a.stun << "..." << std::endl;
    NatTypeOptions options;
    options.servers = {a.stun};
    auto r = detect_nat_type(options);
    if (r && r->server) {
      const std::string classic(to_string(r->classic_type)), mapping(to_string(r->mapping)),
          filtering(to_string(r->filtering));
      in.classic_type = classic;
      in.mapping = mapping;
      in.filtering = filtering;
      report["nat_type"] = {{"classic_type", classic}, {"mapping", mapping}, {"filtering", filtering}};
    } else {
      std::cerr << "warning: NAT type not measured: " << (r ? r->note : r.error().message) << "\n";
      report["nat_type"] = nullptr;
    }
  } else {
    report["nat_type"] = nullptr;
  }
  io::StopSignals stop;
  bool interrupted = false;
  bool answered = false;
  if (!a.skip_timeouts) {
    auto run = run_timeouts(*server, t, stop);
    answered |= run.result.server_answered;
    interrupted |= run.outcome.interrupted;
    in.pending = run.result.pending;
    in.idle = run.result.idle;
    report["timeouts"] = {{"pending", search_json(in.pending)}, {"idle", search_json(in.idle)}};
  }
  if (!interrupted) {
    auto run = run_mtu(*server, m, stop);
    answered |= run.df.largest_ok.has_value() || run.fragmented.largest_ok.has_value();
    interrupted |= run.interrupted;
    in.path_mtu = run.df;
    in.fragmented = run.fragmented;
    report["mtu"] = {{"df", mtu_json(run.df)}, {"fragmented", mtu_json(run.fragmented)}};
  }
  if (!interrupted && a.sample > 0) {
    auto ports = measure::parse_port_range(a.ports);
    if (!ports) {
      std::cerr << "error: --ports '" << a.ports << "': " << ports.error() << "\n";
      return kExitUsage;
    }
    Rng rng(io::os_random_seed());
    measure::MappingSamplerConfig config;
    config.server = server->address;
    config.server_ports = *ports;
    config.count = a.sample;
    config.rate_per_second = a.sample_rate;
    measure::MappingSampler sampler(config, rng, static_cast<std::uint32_t>(rng.next_u64()));
    Progress progress(seconds(2));
    const auto report_progress = [&] {
      if (progress.due()) std::cerr << "mapping sample: " << sampler.sent() << "/" << a.sample << std::endl;
    };
    auto outcome = run_measurement(sampler, *server, stop, io::ignore_events, report_progress);
    interrupted |= outcome.interrupted;
    std::vector<analyze::MappingRow> rows;
    for (const auto& r : sampler.rows()) rows.push_back({r.time_ms, r.local_port, r.mapped_port, r.server_port});
    answered |= !rows.empty();
    Json sample{{"sent", sampler.sent()}, {"answered", sampler.answered()}};
    if (!rows.empty()) {
      const auto detected = analyze::detect_allocator(rows);
      sample["allocator"] = Json::parse(analyze::allocator_object_json(detected));
      if (detected.kind != analyze::AllocatorKind::Unknown) in.allocator_json = analyze::allocator_object_json(detected);
    }
    report["mapping_sample"] = sample;
  }
  const std::string profile = measured_profile_json(in);
  // Never write a profile the loader would refuse.
  if (auto loaded = nat::parse_profile(profile, "measured.json"); !loaded) {
    std::cerr << "error: internal: the measured profile does not load: " << loaded.error().message << "\n";
    return kExitNoAnswer;
  }
  if (!a.profile_out.empty()) {
    const std::string tmp = a.profile_out + ".tmp";
    // All or nothing: the profile is complete on disk before it replaces
    // anything (a full disk or a failed rename leaves the old file alone).
    bool written = false;
    {
      std::ofstream f(tmp);
      f << profile;
      f.flush();
      written = static_cast<bool>(f);
    }
    if (!written || std::rename(tmp.c_str(), a.profile_out.c_str()) != 0) {
      std::remove(tmp.c_str());
      std::cerr << "error: cannot write --profile-out '" << a.profile_out << "'\n";
      return kExitUsage;
    }
  }
  if (c.json) {
    report["profile"] = Json::parse(profile);
    report["interrupted"] = interrupted;
    std::cout << report.dump() << std::endl;
  } else {
    std::cout << profile;
  }
  if (interrupted) {
    std::cerr << "interrupted: the profile holds what was measured so far (the rest is null)\n";
    return kExitInterrupted;
  }
  if (!answered) {
    std::cerr << "error: " << server->to_string() << " did not answer: is `natpunch measure-server` running?\n";
    return kExitNoAnswer;
  }
  return kExitOk;
}

void add_timeout_options(CLI::App& cmd, TimeoutOptions& o) {
  cmd.add_option("--method", o.method,
                 "parallel (default): many probes at once on separate sockets, about twice the timeout in all; "
                 "paper: the thesis's Algorithms 2-5 one probe at a time (20 s / 50 s steps, then binary search)")
      ->check(CLI::IsMember({"parallel", "paper"}));
  cmd.add_option("--which", o.which,
                 "pending; idle (after a few seconds of two-way traffic, as a session's mapping); "
                 "idle-after-one-reply (after a single request and reply); both (pending + idle); all")
      ->check(CLI::IsMember({"pending", "idle", "idle-after-one-reply", "both", "all"}));
  cmd.add_option("--max-timeout", o.max_timeout, "Largest timeout searched, seconds (a lab test may use 30)")
      ->check(CLI::Range(2, 86400));
  cmd.add_option("--parallel", o.parallel, "Probes per round of the parallel method (sockets at once)")
      ->check(CLI::Range(2, 1024));
  cmd.add_option("--pending-step", o.pending_step, "Paper method: step of Algorithm 2, seconds")
      ->check(CLI::Range(1, 3600));
  cmd.add_option("--idle-step", o.idle_step, "Paper method: step of Algorithm 4, seconds")->check(CLI::Range(1, 3600));
  cmd.add_option("--copies", o.copies, "Requests sent per probe (any reply counts; guards against loss)")
      ->check(CLI::Range(1, 5));
  cmd.add_option("--establish-ms", o.establish_ms,
                 "Idle probes: two-way traffic this long (one exchange a second) before the silence, as a "
                 "session's mapping has; above 2000 for Linux conntrack to promote the flow")
      ->check(CLI::Range(0, 60000));
  cmd.add_option("--guard-ms", o.guard_ms, "Probes ask for delay - rtt - guard, so answers are whole seconds")
      ->check(CLI::Range(0, 900));
}

void add_mtu_options(CLI::App& cmd, MtuOptions& o) {
  cmd.add_option("--max", o.max, "Largest payload tried, bytes")->check(CLI::Range(32, 65507));
  cmd.add_option("--attempts", o.attempts, "Tries per size before it counts as too big")->check(CLI::Range(1, 10));
  cmd.add_option("--probe-timeout-ms", o.probe_timeout_ms, "Wait for each size report, ms")
      ->check(CLI::Range(10, 60000));
}

}  // namespace

void add_measure_command(CLI::App& app, int& exit_code) {
  auto common = std::make_shared<Common>();
  auto timeouts = std::make_shared<TimeoutOptions>();
  auto mtu = std::make_shared<MtuOptions>();
  auto mappings = std::make_shared<MappingOptions>();
  auto all = std::make_shared<AllOptions>();
  auto* cmd = app.add_subcommand("measure", "Measure the NAT in front of this host against `natpunch measure-server`");
  cmd->require_subcommand(1);
  cmd->footer(measure_footer(
      "SERVER is HOST, HOST:PORT or IP:PORT of a `natpunch measure-server` (default port 3479).\n"
      "Examples:\n"
      "  natpunch measure timeouts 203.0.113.10            # pending + idle timeouts, ~2x the longest\n"
      "  natpunch measure timeouts 203.0.113.10 --method paper --max-timeout 300\n"
      "  natpunch measure mtu 203.0.113.10 --json\n"
      "  natpunch measure mappings 203.0.113.10 --count 5000 --out phone.csv\n"
      "  natpunch measure all 203.0.113.10 --stun 203.0.113.10:3478 --profile-out my-carrier.json\n"));
  const auto add_common = [&](CLI::App* sub) {
    sub->option_defaults()->always_capture_default();  // --help shows every default
    sub->add_option("server", common->server, "measure-server HOST[:PORT]")
        ->required()
        ->check(server_address(kDefaultMeasurePort));
    sub->add_flag("--json", common->json, "Print one JSON object on stdout (for scripts)");
  };

  auto* t = cmd->add_subcommand("timeouts", "Pending (wait-for-response) and idle (between-sends) mapping timeouts");
  add_common(t);
  add_timeout_options(*t, *timeouts);
  t->footer(measure_footer(
      "Each probe uses a fresh socket, so a fresh mapping. Pending: the server replies after d s; it gets\n"
      "through only if the mapping survived without any inbound packet. Idle: the probe first exchanges\n"
      "requests and replies for 3 s, as a session does (a NAT may promote only such a mapping: Linux\n"
      "conntrack gives a flow its stream timeout once it is still active 2 s after the first packet), then\n"
      "the server sends one packet d s later, unprompted. Idle after one reply: the same after a single\n"
      "exchange; printed when it differs. The client sends nothing in the silence, so a port-preserving\n"
      "NAT cannot fake a live mapping with a new one on the same port.\n"
      "Answers are whole seconds: `pending timeout: 120 s` means a reply after 120 s arrived, after 121 s not.\n"
      "Examples:\n"
      "  natpunch measure timeouts 203.0.113.10                 # pending + idle timeouts, ~2x the longest\n"
      "  natpunch measure timeouts 203.0.113.10 --which idle --max-timeout 300 --json\n"
      "  natpunch measure timeouts 203.0.113.10 --method paper  # the thesis's Algorithms 2-5, slower\n"));
  t->callback([=, &exit_code] { exit_code = cmd_timeouts(*common, *timeouts); });

  auto* m = cmd->add_subcommand("mtu", "Largest UDP payload: with DF (path MTU) and with fragmentation allowed");
  add_common(m);
  add_mtu_options(*m, *mtu);
  m->footer(measure_footer(
      "Algorithm 7's binary search on the payload size, each size tried --attempts times before it counts as\n"
      "too big. DF is set with IP_PMTUDISC_PROBE (the path decides, not the kernel's cached PMTU).\n"
      "Payload + 28 = IPv4 MTU; the thesis's Table V lists the payload (1472 = a 1500-byte MTU).\n"
      "Examples:\n"
      "  natpunch measure mtu 203.0.113.10\n"
      "  natpunch measure mtu 203.0.113.10 --max 9000 --attempts 5 --json\n"));
  m->callback([=, &exit_code] { exit_code = cmd_mtu(*common, *mtu); });

  auto* p = cmd->add_subcommand("mappings", "Collect NAT mappings: UUID-tagged packets from random local ports");
  add_common(p);
  p->add_option("--count", mappings->count, "Packets to send")->check(CLI::Range(1, 10'000'000));
  p->add_option("--rate", mappings->rate, "Packets per second")->check(CLI::Range(0.01, 10000.0));
  p->add_option("--ports", mappings->ports, "The server's collection port range A-B (as given to measure-server)");
  p->add_option("--out", mappings->out, "Client log CSV (uuid,time_ms,local_port,server_port), flushed per row")
      ->required();
  p->footer(measure_footer(
      "Then: natpunch analyze CLIENT.csv SERVER.csv (the server's --log) joins the two on the UUID and\n"
      "detects the NAT's port allocator. Ctrl-C keeps every row already written. A packet that gets\n"
      "lost is a row the server never logged: analyze joins what arrived (and counts the rest).\n"
      "Examples:\n"
      "  natpunch measure-server --listen 203.0.113.10:3479 --ports 40000-40099 --log server.csv   # server\n"
      "  natpunch measure mappings 203.0.113.10 --count 5000 --rate 50 --out phone.csv            # phone\n"
      "  natpunch analyze phone.csv server.csv\n"));
  p->callback([=, &exit_code] { exit_code = cmd_mappings(*common, *mappings); });

  auto* a = cmd->add_subcommand("all", "NAT type + timeouts + MTU, written as a carrier profile JSON");
  add_common(a);
  add_timeout_options(*a, *timeouts);
  add_mtu_options(*a, *mtu);
  a->add_option("--stun", all->stun, "STUN server HOST[:PORT] for the NAT type (RFC 5780 needs one with --alt)");
  a->add_option("--profile-out", all->profile_out, "Write the profile here (loads with `simulate`/`connect`)");
  a->add_option("--name", all->name, "Carrier name in the profile");
  a->add_option("--country", all->country, "ISO 3166-1 alpha-2 country in the profile (ZZ: unknown)");
  a->add_flag("--skip-timeouts", all->skip_timeouts, "Leave the timeouts null (they take minutes on real NATs)");
  a->add_option("--sample", all->sample,
                "Mappings sampled for the allocator: Reflects from fresh random local ports (0: skip)")
      ->check(CLI::Range(0, 100000));
  a->add_option("--sample-rate", all->sample_rate, "Sample packets per second")->check(CLI::Range(0.01, 10000.0));
  a->add_option("--ports", all->ports, "The server's port range A-B (as given to measure-server)");
  a->footer(measure_footer(
      "Values not measured are null. The allocator comes from a small reflected sample; for the\n"
      "thesis's full method (thousands of packets, both logs) use `measure mappings` + `analyze`.\n"
      "Examples:\n"
      "  natpunch measure all 203.0.113.10 --stun 203.0.113.10:3478 --profile-out my-carrier.json\n"
      "  natpunch measure all 203.0.113.10 --skip-timeouts --name MyCarrier --country NL --json\n"));
  a->callback([=, &exit_code] { exit_code = cmd_all(*common, *timeouts, *mtu, *all); });
}

}  // namespace natpunch::cli

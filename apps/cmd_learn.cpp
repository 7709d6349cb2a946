// `natpunch learn`: the thesis's goal end to end — peers train one model
// together without a central server (decentralised federated averaging,
// src/learn/averaging_peer.hpp) on scikit-learn's handwritten digits, and
// we compare every peer with the same model trained centrally on all the
// data. --simulate runs N peers over modelled lossy links in virtual time
// (seconds of CPU, reproducible from --seed); --rendezvous makes this
// process one peer of a real run over natpunch Sessions
// (learn_over_sessions.cpp).
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "io/dataset_file.hpp"
#include "io/learning_csv.hpp"
#include "learn_over_sessions.hpp"
#include "sim/learning_simulation.hpp"

namespace natpunch::cli {
namespace {

struct LearnOptions {
  bool simulate = false;
  std::string peers;  // --simulate: how many (default 4); --rendezvous: every peer's key
  LearnSessionOptions real;
  std::uint32_t rounds = 40;
  double loss = 0.0;
  std::uint64_t seed = 1;
  double delay_ms = 40;
  double jitter_ms = 20;
  std::size_t mtu = 1160;
  std::string model = "logistic";
  std::uint16_t hidden = 32;
  std::string encoding = "f32";
  int epochs = 3;
  float learning_rate = 0;  // 0: the model's default
  std::size_t batch = 32;
  std::string partition = "iid";
  std::size_t degree = 0;
  double round_timeout_ms = 2000;
  std::string vanish;  // PEER@ROUND
  std::string data = io::kDigitsCsvPath;
  bool json = false;
  std::string csv;
  bool quiet = false;
  std::optional<double> expect_within;
};

std::string fixed(double value, int decimals) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(decimals) << value;
  return s.str();
}

std::string percent(double accuracy) { return fixed(100.0 * accuracy, 1); }

double seconds_of(Duration d) { return std::chrono::duration<double>(d).count(); }

Duration from_ms(double ms) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(ms));
}

std::string model_name(const learn::ModelShape& shape) {
  return shape.hidden == 0 ? "logistic regression" : "MLP " + std::to_string(shape.inputs) + "-" + std::to_string(shape.hidden) +
                                                          "-" + std::to_string(shape.classes);
}

std::string topology_name(const learn::SimulationConfig& c) {
  return c.degree == 0 || c.degree + 1 >= c.peers ? "full mesh" : "ring lattice of degree " + std::to_string(c.degree);
}

// Worst shortfall of a (non-vanished) peer below the central model, in percentage points.
double worst_gap_points(const sim::SimulationResult& r) {
  double worst = -100;
  for (const auto& p : r.peers)
    if (!p.vanished) worst = std::max(worst, 100.0 * (r.central_final() - p.final_accuracy()));
  return worst;
}

void print_text(const learn::SimulationConfig& c, const sim::SimulationResult& r) {
  const auto& a = c.averaging;
  std::cout << "Decentralised federated averaging (no server) of " << model_name(a.shape) << ": " << r.parameters
            << " parameters, " << r.chunks_per_model << " chunk(s) of <= " << c.link.max_datagram << " B per model ("
            << learn::to_string(a.encoding) << ")\n";
  std::cout << "Digits: " << r.train_size << " train / " << r.test_size << " test, " << c.peers << " peers ("
            << learn::to_string(c.partition) << ", " << topology_name(c) << "), " << a.rounds << " rounds of " << a.local_epochs
            << " local epoch(s)\n";
  std::cout << "Links: " << fixed(100 * c.link.loss, 1) << " % loss, " << fixed(seconds_of(c.link.delay) * 1000, 0) << " ms + 0.."
            << fixed(seconds_of(c.link.jitter) * 1000, 0) << " ms one way; round timeout "
            << fixed(seconds_of(a.round_timeout) * 1000, 0) << " ms; seed " << c.seed << "\n";
  if (c.vanish_peer) std::cout << "Peer " << *c.vanish_peer << " vanishes at round " << c.vanish_round << "\n";
  std::cout << "\nTest accuracy (%) after each round\nround  central";
  for (std::size_t p = 0; p < r.peers.size(); ++p) std::cout << "   peer" << std::setw(2) << std::left << p << std::right;
  std::cout << "  sent (KB, all peers)\n";
  for (std::uint32_t round = 1; round <= a.rounds; ++round) {
    std::cout << std::setw(5) << round << "  " << std::setw(7) << percent(r.central_accuracy[round - 1]);
    std::uint64_t bytes = 0;
    for (const auto& peer : r.peers) {
      if (round <= peer.rounds.size()) {
        const auto& record = peer.rounds[round - 1];
        std::cout << "  " << std::setw(6) << percent(record.accuracy) << (record.timed_out ? "t" : " ");
        bytes += record.bytes_sent;
      } else {
        std::cout << "  " << std::setw(6) << "-" << " ";
        bytes += peer.counters.bytes_sent;
      }
    }
    std::cout << "  " << std::setw(8) << fixed(double(bytes) / 1000.0, 1) << "\n";
  }
  std::cout << "(t: the round ended by the timeout: a neighbour was silent)\n\n";
  std::cout << "Central model: " << percent(r.central_final()) << " %\n";
  for (std::size_t p = 0; p < r.peers.size(); ++p) {
    const auto& peer = r.peers[p];
    std::cout << "Peer " << p << ": ";
    if (peer.vanished) std::cout << "vanished after " << peer.rounds.size() << " rounds";
    else std::cout << percent(peer.final_accuracy()) << " % (" << fixed(100 * (peer.final_accuracy() - r.central_final()), 1) << " pp)";
    std::cout << ", " << peer.samples << " samples, sent " << peer.counters.bytes_sent << " B in " << peer.counters.datagrams_sent
              << " datagrams, received " << peer.counters.datagrams_received << "\n";
  }
  std::cout << "Datagrams lost on the links: " << r.datagrams_lost << "; virtual time " << fixed(seconds_of(r.finished - kTimeZero), 2)
            << " s; " << (worst_gap_points(r) > 0 ? "worst peer " + fixed(worst_gap_points(r), 1) + " pp below central"
                                                  : std::string("every remaining peer at or above central"))
            << "\n";
}

nlohmann::json to_json(const learn::SimulationConfig& c, const sim::SimulationResult& r) {
  const auto& a = c.averaging;
  nlohmann::json peers = nlohmann::json::array();
  for (const auto& peer : r.peers) {
    nlohmann::json rounds = nlohmann::json::array();
    for (const auto& record : peer.rounds)
      rounds.push_back({{"round", record.round},
                        {"accuracy", record.accuracy},
                        {"bytes_sent", record.bytes_sent},
                        {"time_s", seconds_of(record.finished - kTimeZero)},
                        {"timed_out", record.timed_out},
                        {"neighbours_complete", record.neighbours_complete},
                        {"neighbours_partial", record.neighbours_partial},
                        {"neighbours_silent", record.neighbours_silent},
                        {"chunks_received", record.chunks_received}});
    peers.push_back({{"samples", peer.samples},
                     {"neighbours", peer.neighbours},
                     {"vanished", peer.vanished},
                     {"final_accuracy", peer.final_accuracy()},
                     {"bytes_sent", peer.counters.bytes_sent},
                     {"datagrams_sent", peer.counters.datagrams_sent},
                     {"datagrams_received", peer.counters.datagrams_received},
                     {"rejected", peer.counters.rejected},
                     {"stale", peer.counters.stale},
                     {"rounds", rounds}});
  }
  return {{"model", {{"kind", a.shape.hidden == 0 ? "logistic" : "mlp"},
                     {"inputs", a.shape.inputs},
                     {"hidden", a.shape.hidden},
                     {"classes", a.shape.classes},
                     {"parameters", r.parameters},
                     {"encoding", learn::to_string(a.encoding)},
                     {"chunks_per_model", r.chunks_per_model}}},
          {"config", {{"peers", c.peers},
                      {"rounds", a.rounds},
                      {"local_epochs", a.local_epochs},
                      {"learning_rate", a.sgd.learning_rate},
                      {"batch", a.sgd.batch_size},
                      {"partition", learn::to_string(c.partition)},
                      {"degree", c.degree},
                      {"loss", c.link.loss},
                      {"delay_ms", seconds_of(c.link.delay) * 1000},
                      {"jitter_ms", seconds_of(c.link.jitter) * 1000},
                      {"max_datagram", c.link.max_datagram},
                      {"round_timeout_ms", seconds_of(a.round_timeout) * 1000},
                      {"seed", c.seed},
                      {"vanish_peer", c.vanish_peer ? nlohmann::json(*c.vanish_peer) : nlohmann::json(nullptr)},
                      {"vanish_round", c.vanish_round}}},
          {"train_size", r.train_size},
          {"test_size", r.test_size},
          {"central", {{"accuracy", r.central_accuracy}, {"final_accuracy", r.central_final()}}},
          {"peers", peers},
          {"datagrams_lost", r.datagrams_lost},
          {"virtual_seconds", seconds_of(r.finished - kTimeZero)},
          {"worst_gap_points", worst_gap_points(r)}};
}

bool write_csv(const std::string& path, const sim::SimulationResult& r) {
  std::vector<io::LearningCsvSeries> series;
  for (std::size_t p = 0; p < r.peers.size(); ++p) series.push_back({"peer" + std::to_string(p), &r.peers[p].rounds});
  return io::write_learning_csv(path, r.central_accuracy, series);
}

// --simulate --peers N: N in 2..64.
std::optional<std::size_t> peer_count(const std::string& text) {
  std::size_t count = 0;
  std::istringstream in(text);
  if (!(in >> count) || !in.eof() || count < 2 || count > 64) return std::nullopt;
  return count;
}

int run_learn(const LearnOptions& o) {
  const bool real = !o.real.rendezvous.empty();
  if (o.simulate == real) {
    std::cerr << "error: say how the peers meet: --simulate runs them in virtual time over modelled links; "
                 "--rendezvous HOST:PORT --identity FILE --peers KEY,KEY,... makes this process one peer of a real run "
                 "(see `natpunch learn --help`)\n";
    return kExitUsage;
  }
  learn::SimulationConfig config;
  if (real && o.peers.empty()) {
    std::cerr << "error: --rendezvous needs --peers KEY,KEY,...: every peer's public key, this one's included\n";
    return kExitUsage;
  }
  const auto peers = real ? std::optional<std::size_t>(2) : peer_count(o.peers.empty() ? "4" : o.peers);
  if (!peers) {
    std::cerr << "error: --peers with --simulate is the number of peers, 2 to 64 (a list of keys is for --rendezvous)\n";
    return kExitUsage;
  }
  config.peers = *peers;
  config.degree = o.degree;
  config.seed = o.seed;
  config.link.loss = o.loss;
  config.link.delay = from_ms(o.delay_ms);
  config.link.jitter = from_ms(o.jitter_ms);
  config.link.max_datagram = o.mtu;
  if (!learn::parse_partition_kind(o.partition, config.partition)) {
    std::cerr << "error: --partition must be iid or by-label\n";
    return kExitUsage;
  }
  auto& a = config.averaging;
  a.rounds = o.rounds;
  a.local_epochs = o.epochs;
  a.round_timeout = from_ms(o.round_timeout_ms);
  a.encoding = o.encoding == "f16" ? learn::ChunkEncoding::Float16 : learn::ChunkEncoding::Float32;
  a.shape.hidden = o.model == "mlp" ? o.hidden : 0;
  a.sgd.batch_size = o.batch;
  a.sgd.learning_rate = o.learning_rate > 0 ? o.learning_rate : (a.shape.hidden == 0 ? 1.0f : 0.2f);
  if (!o.vanish.empty()) {
    std::size_t peer = 0;
    unsigned round = 0;
    char at = 0;
    std::istringstream in(o.vanish);
    if (real || !(in >> peer >> at >> round) || at != '@' || !in.eof() || peer >= config.peers || round < 1) {
      std::cerr << "error: --vanish wants PEER@ROUND with PEER < --peers and ROUND >= 1, e.g. --vanish 2@10 (--simulate only; "
                   "for real, stop a peer with Ctrl-C)\n";
      return kExitUsage;
    }
    config.vanish_peer = peer;
    config.vanish_round = round;
  }
  if (learn::parameters_per_chunk(o.mtu, a.encoding) == 0) {
    std::cerr << "error: --mtu " << o.mtu << " leaves no room for parameters after the "
              << learn::kChunkHeaderSize + learn::kChunkTrailerSize << "-byte chunk header\n";
    return kExitUsage;
  }
  if (real) {
    LearnSessionOptions r = o.real;
    r.peers = o.peers;
    r.data = o.data;
    r.json = o.json;
    r.csv = o.csv;
    r.quiet = o.quiet;
    r.expect_within = o.expect_within;
    return run_learn_over_sessions(r, config);
  }

  auto data = io::load_dataset_file(o.data);
  if (!data) {
    const bool names_path = data.error().kind == learn::DatasetErrorKind::Unreadable;
    std::cerr << "error: " << (names_path ? "" : o.data + ": ") << learn::describe(data.error()) << "\n";
    return kExitUsage;
  }
  if (data->size() < 10 * config.peers) {
    std::cerr << "error: " << data->size() << " samples are too few for " << config.peers << " peers\n";
    return kExitUsage;
  }

  const bool tty = isatty(STDERR_FILENO) != 0;
  std::uint32_t reached = 0;
  const auto started = std::chrono::steady_clock::now();
  const sim::RoundObserver progress = [&](std::size_t, const learn::RoundRecord& record) {
    if (o.quiet || record.round <= reached) return;
    reached = record.round;
    std::cerr << (tty ? "\r" : "") << "round " << reached << "/" << a.rounds << " (virtual "
              << fixed(seconds_of(record.finished - kTimeZero), 1) << " s)" << (tty ? "" : "\n") << std::flush;
  };
  if (!o.quiet) std::cerr << "training centrally and on " << config.peers << " peers...\n";
  const auto result = sim::simulate_learning(*data, config, progress);
  if (!o.quiet)
    std::cerr << (tty ? "\n" : "") << "done in "
              << fixed(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), 2) << " s\n";

  if (!o.csv.empty() && !write_csv(o.csv, result)) {
    std::cerr << "error: cannot write " << o.csv << "\n";
    return kExitNoAnswer;
  }
  if (o.json) std::cout << to_json(config, result).dump(2) << "\n";
  else print_text(config, result);
  if (o.expect_within && worst_gap_points(result) > *o.expect_within) {
    std::cerr << "a peer ended " << fixed(worst_gap_points(result), 1) << " pp below the central model (allowed "
              << *o.expect_within << ")\n";
    return kExitNoAnswer;
  }
  return kExitOk;
}

}  // namespace

void add_learn_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<LearnOptions>();
  auto* cmd = app.add_subcommand(
      "learn", "Peers train one model together without a server (decentralised averaging) and meet the central model");
  cmd->add_flag("--simulate", o->simulate, "Run all the peers in this process, in virtual time over modelled lossy links");
  cmd->add_option("--peers", o->peers,
                  "--simulate: number of peers (2-64, default 4). --rendezvous: every peer's public key, comma-separated, "
                  "this peer's own included; the same list (any order) for every peer")
      ->type_name("N|KEY,KEY,...");
  auto* real = cmd->add_option_group("Real run over natpunch sessions (one process per peer)");
  real->add_option("--rendezvous", o->real.rendezvous,
                   "Rendezvous server HOST:PORT (`natpunch rendezvous`; default port 7000): makes this process one peer of a real run")
      ->check(server_address(7000))
      ->type_name("HOST:PORT");
  real->add_option("--identity", o->real.identity_file,
                   "This peer's identity file (created 0600 if missing; `natpunch keygen --identity FILE` prints its key)")
      ->type_name("FILE");
  real->add_option("--server-key", o->real.server_key, "Pin the rendezvous server's key (64 hex digits it prints)")->type_name("KEY");
  real->add_option("--profile", o->real.profile,
                   "Own carrier profile (an id such as kpn-nl, or a .json file): tells the other peers our NAT's mapping, "
                   "filtering and timeouts")
      ->type_name("ID|FILE");
  real->add_option("--mapping", o->real.mapping, "Own NAT mapping, if measured (none, endpoint-independent, address-dependent, "
                                                 "address-and-port-dependent; default unknown)")
      ->type_name("KIND");
  real->add_option("--filtering", o->real.filtering, "Own NAT filtering, if measured (same spellings)")->type_name("KIND");
  real->add_option("--wait", o->real.wait_s, "Seconds to wait for registration and for each session (default 60)")
      ->check(CLI::Range(1, kMaxWaitSeconds))
      ->type_name("S");
  real->add_option("--hole-punch-ms", o->real.hole_punch_ms, "Plain hole punch first when a NAT is unknown (default 2000; same on every peer)")
      ->check(CLI::Range(kMinHolePunchMs, kMaxHolePunchMs))
      ->type_name("MS");
  real->add_option("--punch-timeout-ms", o->real.punch_timeout_ms,
                   "Give up punching a pair after this long and use the relay (default 10000; 0: only the probe budget)")
      ->check(CLI::Range(0, 3600000))
      ->type_name("MS");
  add_rendezvous_stream_options(*real, o->real.stream);
  real->add_flag("--force-relay", o->real.force_relay, "Do not punch: every session through the relay (tests, hostile networks)");
  real->add_flag("--wait-direct", o->real.wait_direct,
                 "Open each session only when its punch ended. By default a link carries data from the pairing, over "
                 "the relay, and moves to the direct path the moment one is proven (the report gives the route at the "
                 "end)");
  real->add_option("--start-wait-ms", o->real.start_wait_ms,
                   "With sessions open, wait at most this long for every neighbour to be ready before round 1 (default 15000)")
      ->check(CLI::Range(0, 600000))
      ->type_name("MS");
  cmd->add_option("--rounds", o->rounds, "Rounds of train / exchange / average (default 40)")
      ->check(CLI::Range(1U, 10000U))
      ->type_name("R");
  cmd->add_option("--loss", o->loss, "Probability each datagram is lost, every link (default 0)")
      ->check(CLI::Range(0.0, 1.0))
      ->type_name("P");
  cmd->add_option("--seed", o->seed, "Seed of split, partition, SGD and links; same seed, same run (default 1)")->type_name("S");
  cmd->add_option("--delay-ms", o->delay_ms, "One-way link delay (default 40)")->check(CLI::Range(0.0, 60000.0))->type_name("MS");
  cmd->add_option("--jitter-ms", o->jitter_ms, "Extra uniform delay 0..MS per datagram (default 20)")
      ->check(CLI::Range(0.0, 60000.0))
      ->type_name("MS");
  cmd->add_option("--mtu", o->mtu,
                  "Largest datagram payload on the path; models are cut into chunks that fit (default 1160, the "
                  "session payload limit natpunch::kMaxSessionPayload; below it, the MTU `natpunch measure mtu` found minus headers)")
      ->check(CLI::Range(std::size_t{40}, std::size_t{65507}))
      ->type_name("BYTES");
  cmd->add_option("--model", o->model, "logistic (multinomial logistic regression, 650 parameters) or mlp")
      ->check(CLI::IsMember({"logistic", "mlp"}))
      ->default_str("logistic")
      ->type_name("KIND");
  cmd->add_option("--hidden", o->hidden, "Hidden units of --model mlp (default 32)")->check(CLI::Range(1, 1024))->type_name("N");
  cmd->add_option("--encoding", o->encoding, "Parameters on the wire: f32 or f16 (half the bytes, ~3 decimal digits)")
      ->check(CLI::IsMember({"f32", "f16"}))
      ->default_str("f32")
      ->type_name("ENC");
  cmd->add_option("--epochs", o->epochs, "Local epochs per round (default 3)")->check(CLI::Range(1, 100))->type_name("E");
  cmd->add_option("--lr", o->learning_rate, "SGD learning rate (default 1.0 logistic, 0.2 mlp)")
      ->check(CLI::Range(1e-6, 10.0))
      ->type_name("RATE");
  cmd->add_option("--batch", o->batch, "Mini-batch size (default 32)")->check(CLI::Range(1, 4096))->type_name("N");
  cmd->add_option("--partition", o->partition, "iid (every peer sees every digit) or by-label (each peer a few digits)")
      ->check(CLI::IsMember({"iid", "by-label"}))
      ->default_str("iid")
      ->type_name("KIND");
  cmd->add_option("--degree", o->degree, "Neighbours per peer on a ring lattice (default 0: everyone)")
      ->check(CLI::Range(0, 63))
      ->type_name("K");
  cmd->add_option("--round-timeout-ms", o->round_timeout_ms,
                  "How long a peer waits for a silent neighbour before averaging without it (default 2000)")
      ->check(CLI::Range(1.0, 3600000.0))
      ->type_name("MS");
  cmd->add_option("--vanish", o->vanish, "Peer PEER stops for good at round ROUND, e.g. 2@10 (the others must go on)")
      ->type_name("PEER@ROUND");
  cmd->add_option("--data", o->data, "Labelled CSV (gzip or plain): pixels 0..16 then the label (default: scikit-learn's digits)")
      ->type_name("FILE");
  cmd->add_flag("--json", o->json, "Print one JSON object on stdout instead of the table");
  cmd->add_option("--csv", o->csv,
                  "Also write per-round accuracy (central + each peer; with --rendezvous: central + this peer) to FILE for "
                  "scripts/plot_learning.py")
      ->type_name("FILE");
  cmd->add_flag("--quiet", o->quiet, "No progress on stderr");
  cmd->add_option("--expect-within", o->expect_within,
                  "Exit 1 unless every remaining peer (with --rendezvous: this peer) ends within PP percentage points of the "
                  "central model")
      ->check(CLI::Range(0.0, 100.0))
      ->type_name("PP");
  cmd->footer(
      "Every round each peer trains --epochs on its own share of the digits, sends its model to its neighbours\n"
      "in chunks that fit --mtu (each chunk self-describing: round, index, parameter range, CRC-32), waits until\n"
      "every neighbour's model of that round arrived (or a lost chunk is clearly not coming, or --round-timeout-ms\n"
      "passed), then averages per parameter range with whatever arrived, weighted by sample counts. A lost chunk\n"
      "costs that range one neighbour's contribution for one round, never a corrupt model; a neighbour silent for\n"
      "2 rounds is no longer waited for, so a vanished peer never stalls the others.\n"
      "The central model is the same model, same initial weights and SGD settings, trained for the same number of\n"
      "epochs on all the training data; the goal is every peer within 2 percentage points of it.\n"
      "Progress goes to stderr; the table (or --json) to stdout. Plot a --csv with scripts/plot_learning.py.\n"
      "\n"
      "A real run: one process per peer, each behind its own NAT, all started with the same --peers list\n"
      "(every peer's key, its own included) and the same training options (--seed, --rounds, --model, ...).\n"
      "Each process registers at the rendezvous server, opens a natpunch session to every other peer -- for\n"
      "each pair the lower key connects and the higher one listens, so nobody has to coordinate -- direct\n"
      "when the two NATs allow it, through the server's relay otherwise, waits until its neighbours are ready\n"
      "(--start-wait-ms), then trains on its share of the data: the share is its key's rank in the sorted list.\n"
      "Every process computes the same central model itself (same seed) and prints, per round, its own accuracy\n"
      "next to it; at the end every link: route (direct/relay), bytes and datagrams each way, datagrams lost.\n"
      "A peer that vanishes costs the others two round timeouts. Ctrl-C ends a peer with what it measured (exit 130).\n"
      "Examples:\n"
      "  natpunch learn --simulate --peers 4 --rounds 40 --loss 0.05 --seed 1\n"
      "  natpunch learn --simulate --peers 8 --degree 2 --partition by-label --rounds 60\n"
      "  natpunch learn --simulate --model mlp --encoding f16 --mtu 548 --loss 0.2 --csv run.csv\n"
      "  /usr/bin/python3 scripts/plot_learning.py run.csv learning.png\n"
      "  natpunch learn --simulate --vanish 2@10 --json\n"
      "  # real: once per peer, e.g. two peers (keys from `natpunch keygen --identity FILE`)\n"
      "  natpunch rendezvous --listen 203.0.113.10:7000 &\n"
      "  A=$(natpunch keygen --identity a.key); B=$(natpunch keygen --identity b.key)\n"
      "  natpunch learn --rendezvous 203.0.113.10:7000 --identity a.key --peers $A,$B --rounds 10 --csv a.csv   # host A\n"
      "  natpunch learn --rendezvous 203.0.113.10:7000 --identity b.key --peers $A,$B --rounds 10 --csv b.csv   # host B\n"
      "  /usr/bin/python3 scripts/plot_learning.py a.csv b.csv learning.png\n"
      "Exit codes: 0 ok, 1 --expect-within missed, no session opened or --csv not writable, 2 bad arguments,\n"
      "identity or data set, 130 interrupted (the report still printed).");
  cmd->callback([o, &exit_code] { exit_code = run_learn(*o); });
}

}  // namespace natpunch::cli

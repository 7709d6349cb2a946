#include "sim/matrix_runner.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>

#include "core/splitmix.hpp"

namespace natpunch::sim {
namespace {

// FNV-1a: stable across platforms and builds, unlike std::hash.
std::uint64_t name_hash(std::string_view name) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : name) h = (h ^ static_cast<std::uint8_t>(c)) * 0x100000001b3ULL;
  return h;
}

template <class T>
std::optional<double> median(std::vector<T> values) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? static_cast<double>(values[n / 2])
                    : (static_cast<double>(values[n / 2 - 1]) + static_cast<double>(values[n / 2])) / 2;
}

}  // namespace

std::uint64_t run_seed(std::uint64_t seed, std::string_view row, std::string_view column, std::size_t run) {
  return splitmix64(splitmix64(splitmix64(seed) ^ name_hash(row)) ^ name_hash(column) ^ splitmix64(run));
}

std::size_t MatrixCell::successes() const {
  return static_cast<std::size_t>(std::count_if(runs.begin(), runs.end(), [](const RunRecord& r) { return r.connected; }));
}

std::optional<double> MatrixCell::median_probes() const {
  std::vector<std::uint64_t> values;
  for (const RunRecord& r : runs)
    if (r.connected) values.push_back(r.probes);
  return median(std::move(values));
}

std::optional<double> MatrixCell::median_seconds() const {
  std::vector<double> values;
  for (const RunRecord& r : runs)
    if (r.connected) values.push_back(std::chrono::duration<double>(r.time_to_connect).count());
  return median(std::move(values));
}

std::optional<std::uint64_t> MatrixCell::probes_for_success(double fraction) const {
  std::vector<std::uint64_t> connected;
  for (const RunRecord& r : runs)
    if (r.connected) connected.push_back(r.probes);
  const auto needed = static_cast<std::size_t>(std::ceil(fraction * double(runs.size()) - 1e-9));
  if (needed == 0) return std::uint64_t{0};
  if (connected.size() < needed) return std::nullopt;
  std::sort(connected.begin(), connected.end());
  return connected[needed - 1];
}

std::array<std::uint64_t, kDropReasons> MatrixCell::drops() const {
  std::array<std::uint64_t, kDropReasons> total{};
  for (const RunRecord& r : runs)
    for (std::size_t i = 0; i < total.size(); ++i) total[i] += r.drops[i];
  return total;
}

Result<MatrixResult, std::string> run_matrix(const MatrixConfig& config, const MatrixProgress& progress) {
  // Loaded and validated up front so the message can name the carrier.
  std::vector<nat::NatConfig> nats;
  for (const CarrierModel& carrier : config.carriers) {
    nats.push_back(with_load(carrier.nat, config.load));
    nat::NatConfig probe = nats.back();
    if (probe.public_addresses.empty()) probe.public_addresses = {IpAddress::v4({203, 0, 113, 1})};
    if (auto bad = nat::validate(probe)) return Unexpected{"carrier " + carrier.name + ": " + bad->field + " " + bad->message};
  }
  MatrixResult result;
  for (std::size_t row = 0; row < config.carriers.size(); ++row)
    for (std::size_t column = 0; column < config.carriers.size(); ++column)
      if (config.full_grid || column <= row)
        result.cells.push_back(MatrixCell{row, column, std::vector<RunRecord>(config.runs)});

  const std::size_t total = result.cells.size() * config.runs;
  std::atomic<std::size_t> next_job{0};
  std::atomic<std::uint64_t> events{0};
  std::atomic<std::uint64_t> probes{0};
  std::mutex mutex;  // guards `done`, `error` and calls to `progress`
  std::size_t done = 0;
  std::optional<std::string> error;
  std::vector<char> finished(total, 0);  // guarded by `mutex`
  std::atomic<bool> interrupted{false};

  const auto worker = [&] {
    for (std::size_t job = next_job++; job < total; job = next_job++) {
      if (config.stop && config.stop()) {
        interrupted = true;
        next_job = total;
        return;
      }
      MatrixCell& cell = result.cells[job / config.runs];
      const std::size_t run = job % config.runs;
      const CarrierModel& a = config.carriers[cell.row];
      const CarrierModel& b = config.carriers[cell.column];
      Result<PairOutcome, nat::NatConfigError> outcome = Unexpected{nat::NatConfigError{}};
      const std::uint64_t seed = run_seed(config.seed, a.name, b.name, run);
      if (config.mode == StrategyMode::Naive) {
        NaivePairScenario scenario;
        scenario.nat_a = nats[cell.row];
        scenario.nat_b = nats[cell.column];
        scenario.path_a = config.path;
        scenario.path_b = config.path;
        scenario.attack.probe_budget = config.probes;
        scenario.attack.send_interval = config.send_interval;
        scenario.attack.local_ports = config.local_ports;
        scenario.start_offset_b = config.start_skew;
        outcome = run_naive_pair(scenario, seed);
      } else {
        StrategyPairScenario scenario;
        scenario.nat_a = nats[cell.row];
        scenario.nat_b = nats[cell.column];
        scenario.told_allocator_a = a.told_allocator;
        scenario.told_allocator_b = b.told_allocator;
        scenario.path_a = config.path;
        scenario.path_b = config.path;
        scenario.mode = config.mode;
        scenario.params.probe_budget = config.probes;
        scenario.params.send_interval = config.send_interval;
        scenario.params.predict = config.predict;
        scenario.params.many_sockets = config.many_sockets;
        scenario.start_offset_b = config.start_skew;
        outcome = run_strategy_pair(scenario, seed);
      }
      std::lock_guard lock(mutex);
      if (!outcome) {
        if (!error) error = a.name + " x " + b.name + ": " + outcome.error().field + " " + outcome.error().message;
        next_job = total;
        return;
      }
      RunRecord& record = cell.runs[run];
      record.connected = outcome->connected;
      record.probes = std::max(outcome->probes_a, outcome->probes_b);
      record.time_to_connect = outcome->time_to_connect;
      record.events = outcome->events;
      record.kind = outcome->kind_a;
      for (std::size_t i = 0; i < record.drops.size(); ++i) record.drops[i] = outcome->drops_a[i] + outcome->drops_b[i];
      events += outcome->events;
      probes += outcome->probes_a + outcome->probes_b;
      finished[job] = 1;
      ++done;
      if (progress) progress(done, total);
    }
  };

  const unsigned threads = std::max(1U, std::min<unsigned>(config.threads, static_cast<unsigned>(std::max<std::size_t>(total, 1))));
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (error) return Unexpected{*error};
  if (interrupted && done != total) {
    result.interrupted = true;
    for (std::size_t c = 0; c < result.cells.size(); ++c) {
      std::vector<RunRecord> kept;
      for (std::size_t run = 0; run < config.runs; ++run)
        if (finished[c * config.runs + run]) kept.push_back(result.cells[c].runs[run]);
      result.cells[c].runs = std::move(kept);
    }
  }
  result.events = events;
  result.probes = probes;
  return result;
}

}  // namespace natpunch::sim
